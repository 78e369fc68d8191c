"""``python -m mcsim.pores``: time :func:`mcsim.pores.pore_statistics` on a synthetic particle."""

from mcsim.pores.bench import _main

if __name__ == "__main__":
    _main()
