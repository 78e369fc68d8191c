"""The figures of a result file, part of the installed package.

One module per figure, each with ``plot(h5_path, out_path, formats=None)`` and a command line
(``python -m mcsim.figures.thermal RUN.h5 [-o OUT.png] [--pdf]``); :mod:`mcsim.plot` draws
:data:`FIGURES` for ``mcsim plot``, and ``mcsim compare`` draws :mod:`.compare_runs`. They read
the HDF5 layout of ``mcsim/io/SCHEMA.md`` with h5py only.
"""

#: The figures of one result, in the order ``mcsim plot`` draws them; each is a module here
#: and writes ``<RUN stem>_<name>.<format>``.
FIGURES = ("phase_fractions", "radial_map", "cross_sections", "thermal", "mass_thickness")
