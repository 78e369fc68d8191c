"""Plain-NumPy reference of the reaction-diffusion step, for checks and for ``mcsim bench``.

This module re-implements, with whole-array NumPy operations only (no Numba), the two kernels
that make up the core of one step:

* :func:`reaction_step_numpy` -- the fused per-voxel reaction sweep of
  :func:`mcsim.processes.reactions.reaction_kernel`, written the way one would write it with
  masks per phase and ``np.where``: each local reaction's module holds its part (the
  ``reference`` of its :class:`~mcsim.processes.registry.Rule`), run here on a :class:`Sweep`.
  Given the same inputs it produces bit-identical fields,
  tallies and counts: the random numbers come from a vectorised Philox4x64-10
  (:func:`philox4x64_numpy`) that reproduces :mod:`mcsim.rng` word for word, and every
  floating-point expression is evaluated in the same precision and order as in the kernel.
* :func:`diffuse_numpy` -- one explicit 7-point diffusion step with array slicing, equal to the
  Numba transport kernel to float32 rounding (see its docstring for the tolerance).

:func:`step_numpy` chains them into one full step (reactions, halo refresh, one transport
sub-step), and :func:`step_numba` does the same with the Numba kernels, so the two can be
compared for correctness and timed against each other.

One subtlety: NumPy's ``np.expm1`` may use SIMD (SVML) code paths that differ from the C
library's ``expm1`` -- which Numba calls -- by a few units in the last place. The reaction
decisions ``u < -expm1(-k)`` would then differ whenever ``u`` falls within those few ulps of the
threshold. :func:`_neg_expm1_for_compare` therefore recomputes, with :func:`math.expm1` (the
same libm routine), the thresholds of the rare voxels whose uniform lies within a relative
2**-30 of the vectorised value; every other decision is the same whichever expm1 is used.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes import registry, transport
from mcsim.processes.reactions import LANES, SERIES_MAX, neg_expm1, reaction_kernel  # noqa: F401
from mcsim.state import full_amount_table

__all__ = [
    "philox4x64_numpy",
    "uniform4_numpy",
    "Sweep",
    "reaction_step_numpy",
    "mobility_class_numpy",
    "diffuse_numpy",
    "diffuse_numba",
    "step_numpy",
    "step_numba",
    "DIFFUSION_RTOL",
]

from mcsim.rng_numpy import (_MASK64, _S11, _TWO_POW_MINUS_53, _U64, philox4x64_numpy,  # noqa: F401
                              round_stochastic_numpy, uniform4_numpy)


_INNER = (slice(1, -1),) * 3
_TIE_RTOL = 2.0 ** -30  # far above the few-ulp difference between np.expm1 and libm expm1


def _near(p, c):
    """Where a probability ``p`` falls within (a hair of) the 2^-16 cell of the coarse lane
    ``c``: only there can an ulp of ``p`` change a decision of :func:`_below_numpy`."""
    with np.errstate(invalid="ignore"):
        return np.abs(p * LANES - (c + 0.5)) <= 0.5 + _TIE_RTOL * LANES


def _neg_expm1_for_compare(k, c, mask):
    """``reactions.neg_expm1(k)`` for decisions against the coarse lanes ``c`` where ``mask``.

    Below ``SERIES_MAX`` the kernel evaluates a Taylor series, which NumPy reproduces operation
    for operation; above it the kernel calls libm's expm1, which ``np.expm1`` may miss by an
    ulp, so values that close to a decision's threshold are recomputed with ``math``.
    Returns an array p with p[mask] usable for :func:`_below_numpy` decisions that match the
    kernel's bit for bit (other entries are unspecified).
    """
    x = np.asarray(k, dtype=np.float64)
    with np.errstate(all="ignore"):
        c2, c3, c4, c5, c6, c7 = 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040
        series = x * (1.0 - x * (c2 - x * (c3 - x * (c4 - x * (c5 - x * (c6 - x * c7))))))
        p = np.where(x < SERIES_MAX, series, -np.expm1(-x))
    near = mask & (x >= SERIES_MAX) & _near(p, c)
    if near.any():
        p[near] = [-math.expm1(-v) for v in x[near].tolist()]
    return p


def _lanes_numpy(seed, gidx, step, sub):
    """The 16-bit coarse lane of every global index in ``gidx`` (int64) in the block
    (index // 16, step, sub, 0) of the reaction stream (:mod:`mcsim.processes.reactions`)."""
    w = np.stack(philox4x64_numpy((gidx >> 4).astype(np.uint64), _U64(step), _U64(sub), _U64(0),
                                  _U64(seed), _U64(rng.STREAM_REACTION)))
    word = w[(gidx >> 2) & 3, np.arange(gidx.size)]
    return ((word >> (16 * (gidx & 3)).astype(np.uint64)) & _U64(0xFFFF)).astype(np.int64)


def _below_numpy(c, p, mask, seed, gidx, step, sub):
    """``reactions.below`` element-wise where ``mask``: u < p for u = (c + f) / 2^16, the fine
    part f (block (index, step, sub, 0)) drawn for the voxels whose lane ties floor(p 2^16).
    False outside ``mask``; the work is done on the masked voxels only."""
    out = np.zeros(c.shape, dtype=bool)
    sel = np.flatnonzero(mask)
    if sel.size == 0:
        return out
    cm = c.reshape(-1)[sel]
    t = np.broadcast_to(p, c.shape).reshape(-1)[sel] * LANES
    k = np.floor(t).astype(np.int64)
    res = cm < k
    tie = np.flatnonzero(cm == k)
    if tie.size:
        g = gidx.reshape(-1)[sel[tie]].astype(np.uint64)
        f = (philox4x64_numpy(g, _U64(step), _U64(sub), _U64(0), _U64(seed),
                              _U64(rng.STREAM_REACTION))[0] >> _S11).astype(np.float64) \
            * _TWO_POW_MINUS_53
        res[tie] = f < (t - k)[tie]
    out.reshape(-1)[sel] = res
    return out


_round_stochastic = round_stochastic_numpy


class Sweep:
    """One reaction sweep in NumPy: what every local reaction's reference function
    (:attr:`mcsim.processes.registry.Rule.reference`) reads and writes.

    ``P, G, A, L, D`` are the interior views of the fields (written in place), ``phase`` and
    ``grain`` the whole halo'd arrays (neighbours); ``p0`` (phase), ``a`` (int64 amount),
    ``lv`` (li in float64: Numba evaluates float32 with integer operands in float64) and ``d``
    (disorder in float64) are the values before the sweep, which every rule acts on (each
    voxel is claimed by the rules of its phase before the sweep, and a rule changes the voxels
    it claims only). ``gidx`` holds the global voxel indices.
    """

    def __init__(self, phase, grain, amount, li, disorder, coef, full, seed, step, offset,
                 global_shape, lay):
        self.phase, self.grain = phase, grain
        self.P, self.G, self.A = phase[_INNER], grain[_INNER], amount[_INNER]
        self.L, self.D = li[_INNER], disorder[_INNER]
        self.coefficients, self.full = coef, full
        self.seed, self.step = seed, step
        self.layout = lay
        nz, ny, nx = self.P.shape
        oz, oy, ox = (int(o) for o in offset)
        gny, gnx = int(global_shape[1]), int(global_shape[2])
        self.p0 = self.P.copy()
        self.a = self.A.astype(np.int64)
        self.lv = self.L.astype(np.float64)
        self.d = self.D.astype(np.float64)
        self.gidx = ((oz + np.arange(nz, dtype=np.int64))[:, None, None] * gny
                     + (oy + np.arange(ny, dtype=np.int64))[None, :, None]) * gnx \
            + (ox + np.arange(nx, dtype=np.int64))[None, None, :]
        self.tal = np.zeros(len(lay.tallies), dtype=np.int64)
        self.cnt = np.zeros(len(lay.counts), dtype=np.int64)
        self._li_per_tm = None

    def coef(self, name):
        """The coefficient ``name`` (the vector's element, as the kernel reads it)."""
        return self.coefficients[self.layout.coef(name)]

    def tally(self, name, value) -> None:
        self.tal[self.layout.tally(name)] += value

    def count(self, name, value) -> None:
        self.cnt[self.layout.count(name)] += value

    def where(self, codes):
        """Voxels whose phase before the sweep is one of ``codes``."""
        return np.isin(self.p0, codes)

    @property
    def li_per_tm(self):
        """min(1, li / amount) before the sweep (meaningful on TM voxels, where amount > 0)."""
        if self._li_per_tm is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                self._li_per_tm = np.minimum(1.0, self.lv / self.a)
        return self._li_per_tm

    def lanes(self, mask, sub):
        """The coarse lanes in block ``sub`` (0 or 1) of the voxels in ``mask`` (0 elsewhere)."""
        c = np.zeros(self.P.shape, dtype=np.int64)
        c[mask] = _lanes_numpy(self.seed, self.gidx[mask], self.step, sub)
        return c

    def below(self, c, p, mask, sub):
        """``reactions.below`` where ``mask`` (see :func:`_below_numpy`)."""
        return _below_numpy(c, p, mask, self.seed, self.gidx, self.step, sub)

    def neg_expm1(self, k, c, mask):
        """``reactions.neg_expm1(k)`` fit for decisions against lanes ``c`` where ``mask``."""
        return _neg_expm1_for_compare(k, c, mask)

    def near(self, p, c):
        return _near(p, c)


def reaction_step_numpy(phase, grain, amount, li, disorder, coef, full, seed, step, offset,
                        global_shape):
    """The fused reaction sweep in plain NumPy; same arguments and result as
    :func:`mcsim.processes.reactions.reaction_kernel` (offset and global_shape as tuples).

    Works on the interior of the halo'd arrays in place and returns ``(tallies, counts)`` as
    int64 arrays numbered by :func:`mcsim.processes.registry.layout`. Every registered local
    reaction's reference function acts, in registry order, on the voxels of its phases, with
    boolean masks, from their values before the step (:class:`Sweep`).
    """

    sweep = Sweep(phase, grain, amount, li, disorder, coef, full, seed, step, offset,
                  global_shape, registry.layout())
    for _, rule in registry.local_rules():
        rule.reference(sweep)
    return sweep.tal, sweep.cnt


# ---------------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------------

#: Relative tolerance of :func:`diffuse_numpy` against the Numba kernel, per voxel, relative
#: to ``|li| + sum_k w_k |li_k - li|`` (the magnitudes that enter the update). Seven terms
#: summed in a different order or precision differ by at most a few float32 roundings.
DIFFUSION_RTOL = 8 * float(np.finfo(np.float32).eps)

# Neighbour order of the kernel: -z, +z, -y, +y, -x, +x.
_FACES = ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1))


def _shifted(dz, dy, dx):
    """Slices of the halo'd array that put each interior voxel's (dz, dy, dx) neighbour in place."""
    return tuple(slice(1 + s, (-1 + s) or None) for s in (dz, dy, dx))


def _default_mobility():

    return transport.MOBILITY


def mobility_class_numpy(phase, grain, mobility):
    """Mobility class (0 closed, 1 slow, 2 fast) of every voxel, halo included: ``mobility``
    by phase, except pores, which are fast inside the particle (grain != 0) and closed outside."""
    m = np.asarray(mobility, dtype=np.uint8)[phase]
    return np.where(phase == ph.PORE, np.where(grain != 0, 2, 0).astype(np.uint8), m)


def diffuse_numpy(phase, grain, li, out, w_fast, w_slow, mobility=None):
    """One explicit 7-point diffusion step of ``li`` into the interior of ``out``.

    Same rule as the Numba transport kernel: a face is fast when both sides are fast or when
    it joins different grain ids (grain boundaries, pore walls), slow inside a hydroxide or
    rock-salt grain, closed when either side is closed; closed voxels keep their lithium.
    The update is accumulated in float64 face by face in the kernel's order and stored as
    float32; agreement with the kernel is guaranteed to :data:`DIFFUSION_RTOL` (relative to
    the magnitudes that enter the update) whatever order the kernel sums in.
    The halo of ``out`` is not written.
    """
    if mobility is None:
        mobility = _default_mobility()
    m = mobility_class_numpy(phase, grain, mobility)
    mc = m[_INNER]
    gc = grain[_INNER]
    c = li[_INNER]
    w_fast = np.float64(w_fast)
    w_slow = np.float64(w_slow)
    acc = np.zeros(c.shape, dtype=np.float64)
    for dz, dy, dx in _FACES:
        sl = _shifted(dz, dy, dx)
        mn = m[sl]
        fast = ((mc == 2) & (mn == 2)) | (grain[sl] != gc)
        w = np.where(mn == 0, 0.0, np.where(fast, w_fast, w_slow))
        acc += w * (li[sl] - c)  # float32 difference, float64 product and sum
    out[_INNER] = np.where(mc == 0, c, (c + acc).astype(np.float32))
    return out


def diffuse_numba(phase, grain, li, out, w_fast, w_slow, mobility=None, codes=None):
    """The Numba transport kernels (face classes, then one explicit step) behind the same call
    as :func:`diffuse_numpy`; the face codes go into ``codes`` if given."""

    if mobility is None:
        mobility = _default_mobility()
    if codes is None:
        codes = np.zeros(phase.shape, dtype=np.uint16)
    transport.face_codes_kernel(phase, grain, mobility, codes)
    transport.diffuse_kernel(codes, li, out, w_fast, w_slow)
    return out


# ---------------------------------------------------------------------------------------------
# One full step
# ---------------------------------------------------------------------------------------------

def _retire_numpy(state, counts):
    """Used-up sources retire to pore after the sweep (NumPy)."""
    P = state.interior("phase")
    spent = ((P == ph.LIOH) | (P == ph.LI2O) | (P == ph.LI2CO3)) \
        & (state.interior("amount") == 0) & (state.interior("li") < 0.5)
    P[spent] = ph.PORE
    state.dirty_flags()[_INNER][spent] = 1  # as retire_kernel flags them


def _retire_numba(state, counts):
    """What the engine does after the sweep: every local reaction's ``after_sweep`` (the
    release process retires used-up sources, with its Numba kernel, when the sweep counted
    some)."""

    named = dict(zip(registry.layout().counts, counts))
    for hook in registry.after_sweep_hooks():
        hook(state, named)


def _step(state, coef, full, seed, w_fast, w_slow, mobility, reactions, retire, diffuse):

    full = full_amount_table() if full is None else full
    tallies, counts = reactions(state, coef, full, seed)
    retire(state, counts)
    state.exchange_halo()
    out = state.scratch_array()
    diffuse(state, out, w_fast, w_slow, mobility)
    state.exchange_field(out)
    state.adopt_li(out, ())
    return tallies, counts


def step_numpy(state, coef, full=None, seed=0, w_fast=0.1, w_slow=0.001, mobility=None):
    """One full reaction-diffusion step of ``state`` in plain NumPy: the reaction sweep, a halo
    refresh, one transport sub-step with weights ``w_fast``/``w_slow`` (D dt / h^2) and the
    double-buffer swap, as :class:`mcsim.stepper.Stepper` does with one transport sub-step.
    ``state.step`` is the Philox step counter; it is not advanced here. Returns
    ``(tallies, counts)``."""
    def reactions(st, cf, fl, sd):
        return reaction_step_numpy(st.phase, st.grain, st.amount, st.li, st.disorder, cf, fl,
                                   sd, st.step, st.offset, st.global_shape)

    def diffuse(st, out, wf, ws, mob):
        diffuse_numpy(st.phase, st.grain, st.li, out, wf, ws, mob)

    return _step(state, coef, full, seed, w_fast, w_slow, mobility, reactions, _retire_numpy,
                 diffuse)


def step_numba(state, coef, full=None, seed=0, w_fast=0.1, w_slow=0.001, mobility=None,
               legacy=False):
    """:func:`step_numpy` with the Numba kernels (reaction_kernel, then the transport kernel,
    which refreshes the face classes around the changed voxels in the same pass, as the
    engine does). ``legacy``: the kernels of 2026-12-04 (the reaction sweep calling Philox,
    the face classes refreshed in a pass of their own, the transport stage with a branch per
    face); the same results, bit for bit."""

    def reactions(st, cf, fl, sd):
        return reaction_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, cf, fl, sd,
                               st.step, *st.offset, *st.global_shape[1:], st.dirty_flags(),
                               legacy=legacy)

    def diffuse(st, out, wf, ws, mob):
        if mob is not None and mob is not transport.MOBILITY:
            diffuse_numba(st.phase, st.grain, st.li, out, wf, ws, mob, st.face_codes())
        elif legacy:  # face classes refreshed around changed voxels, then the stage
            transport.diffuse_kernel_reference(transport.prepare_face_codes(st), st.li, out,
                                               wf, ws)
        else:  # what the engine does: the refresh fused into the stage
            transport.stage_with_fresh_codes(st, st.li, st.li, out, 1.0, 0.0, wf, ws)

    return _step(state, coef, full, seed, w_fast, w_slow, mobility, reactions, _retire_numba,
                 diffuse)
