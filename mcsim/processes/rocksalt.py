"""Lithiation of rock salt TMO + Li -> layered LiTMO2 at higher temperature (>= 400 C)."""

from __future__ import annotations

import math

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.lithiation import TopotacticLithiation


class RocksaltLithiation(TopotacticLithiation):
    """Rock salt -> layered at k = A exp(-Ea/RT) scaled by the local lithium supply.

    Same kernel as topotactic lithiation with its own reactant, stream and rate; the expansion
    into neighbouring pore space (MODEL.md section 3) belongs to the kinetics issue.
    """

    name = "rocksalt_lithiation"
    variant = "first-order"
    reactant = ph.ROCKSALT
    census_key = "rocksalt"
    stream = rng.STREAM_ROCKSALT
    tally_key = "rocksalt_lithiated"
    prefix = "rocksalt_lithiation"

    def max_dt(self, state, temperature_c):
        # Nothing competes for rock salt, and 1 - exp(-k dt) is exact at constant temperature
        # and lithium supply: no limit of its own (the engine bounds the temperature step).
        return math.inf
