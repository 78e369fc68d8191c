"""Piecewise-linear heating schedules (ramps, holds, cooling, quenches) and their presets.

One role per module:

- :mod:`~mcsim.schedule.program`: the :class:`Schedule` (T(t), rates, arrival times, the
  Arrhenius integral, the description and step table);
- :mod:`~mcsim.schedule.segments`: the :class:`Segment` and the checks of a segment list;
- :mod:`~mcsim.schedule.steps`: user step tables to segments and back;
- :mod:`~mcsim.schedule.presets`: the standard schedules and their options;
- :mod:`~mcsim.schedule.limits`: allowed temperatures, rates and length, and their checks;
- :mod:`~mcsim.schedule.arrhenius`: the Boltzmann factor and its quadrature.
"""

from __future__ import annotations

from mcsim.schedule.arrhenius import GAS_CONSTANT_J_PER_MOL_K
from mcsim.schedule.limits import (MAX_DURATION_S, MAX_RATE_C_PER_MIN, MAX_TEMPERATURE_C,
                                   MIN_TEMPERATURE_C)
from mcsim.schedule.presets import PRESET_BUILDERS, PRESETS, REQUIRED
from mcsim.schedule.program import Schedule
from mcsim.schedule.segments import SEGMENT_KINDS, Segment

__all__ = ["Segment", "Schedule", "PRESETS", "PRESET_BUILDERS", "REQUIRED",
           "GAS_CONSTANT_J_PER_MOL_K", "MAX_DURATION_S", "MAX_RATE_C_PER_MIN",
           "MAX_TEMPERATURE_C", "MIN_TEMPERATURE_C", "SEGMENT_KINDS"]

# The names mcsim.docgen and mcsim.compare read before the table had public names.
_PRESET_BUILDERS = PRESET_BUILDERS
_REQUIRED = REQUIRED
