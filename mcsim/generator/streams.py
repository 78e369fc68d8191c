"""Random streams of the particle generator: one independent Philox stream per stochastic
stage, keyed by (seed, stage), so that a stage draws the same numbers whatever the other
stages do."""
from __future__ import annotations

import numpy as np

#: Named random sub-streams (Philox key = (seed, stage)).
_STAGES = {"layers": 1, "seed_points": 2, "frames": 3, "sizes": 4, "source": 5}


def _rng(seed: int, stage: str) -> np.random.Generator:
    """Independent Philox stream for one stochastic stage of the generator."""
    key = np.array([seed, _STAGES[stage]], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(key=key))
