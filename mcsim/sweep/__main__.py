"""``python -m mcsim.sweep`` only points to the command."""
import sys

sys.exit("use: mcsim sweep SWEEP.toml")
