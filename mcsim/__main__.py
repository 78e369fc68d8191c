"""Allow ``python -m mcsim``."""
from mcsim.cli import main

raise SystemExit(main())
