"""Observers: diagnostics computed from the state on a cadence (never from kernel internals)."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph


@numba.njit(parallel=True, cache=True)
def census_kernel(phase, amount, li, n_phases):
    """Per-phase voxel counts and summed amount (quanta), and mobile lithium summed per z-plane.

    The float sum over planes is left to the caller and done serially, so its rounding does
    not depend on the number of threads.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    counts = np.zeros((nz, n_phases), dtype=np.int64)
    amounts = np.zeros((nz, n_phases), dtype=np.int64)
    mobile = np.zeros(nz, dtype=np.float64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                counts[z - 1, c] += 1
                amounts[z - 1, c] += amount[z, y, x]
                mobile[z - 1] += li[z, y, x]
    return counts.sum(axis=0), amounts.sum(axis=0), mobile


class Census:
    """Global phase census of a state: what every timeseries row is built from."""

    def __init__(self, reduce=None):
        # ``reduce`` sums arrays over subdomains (identity on a lone domain)
        self.reduce = reduce or (lambda a: a)

    def __call__(self, state) -> dict:
        counts, amounts, planes = census_kernel(state.phase, state.amount, state.li, ph.N_PHASES)
        mobile = math.fsum(planes)
        counts = self.reduce(counts.astype(np.float64))
        amounts = self.reduce(amounts.astype(np.float64))
        mobile = float(self.reduce(np.array([mobile]))[0])
        n_total = counts.sum()
        tm = np.array([amounts[c] for c in ph.TM_PHASES])
        source_li = sum(amounts[c] for c in ph.SOURCE_PHASES)
        bound_li = amounts[ph.LAYERED]
        return {
            "phase_fraction": counts / n_total,
            "tm_phase_fraction": tm / max(tm.sum(), 1.0),
            "tm_quanta": tm.sum(),
            "li_source": source_li,
            "li_mobile": mobile,
            "li_bound": bound_li,
            "li_total": source_li + mobile + bound_li,
        }
