"""Slot numbers of the fused reaction sweep, as module constants: ``C_<NAME>`` for every
coefficient, ``T_<NAME>`` for every tally, ``K_<NAME>`` for every count, with ``N_COEF``,
``N_TALLY``, ``N_COUNT``, ``TALLY_NAMES`` and ``COUNT_NAMES``.

The numbers are assigned by the registry from the declarations in the process modules
(:func:`mcsim.processes.registry.layout`); this module takes them as they stand when it is
first imported, for callers that index the vectors directly (benchmarks, tests). A process
registered later only appends slots, so these numbers stay valid; the sizes and name lists
are those of the layout at import (use ``layout()`` for the current ones).
"""

from mcsim.processes.registry import layout as _layout

_L = _layout()
globals().update({f"C_{c.name.upper()}": i for i, c in enumerate(_L.coefficients)})
globals().update({f"T_{n.upper()}": i for i, n in enumerate(_L.tallies)})
globals().update({f"K_{n.upper()}": i for i, n in enumerate(_L.counts)})
K_SPENT = _L.count("spent_source")
N_COEF = len(_L.coefficients)
N_TALLY = len(_L.tallies)
N_COUNT = len(_L.counts)
TALLY_NAMES = _L.tallies
COUNT_NAMES = _L.counts
