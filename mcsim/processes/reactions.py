"""The fused per-voxel reaction kernel: every local reaction of one step in one pass.

Release from the source, LiOH decomposition, lithiation against dehydration, rock-salt
lithiation and disorder annealing act on a voxel's own fields only, so they are applied in one
sweep over the lattice. Each process module documents its rule and fills its slots of the
coefficient vector (:mod:`mcsim.processes.slots`); a process switched off leaves its slots at
their neutral value. Voxels are independent, so the sweep is parallel over z-planes and its
result does not depend on the number of threads; the random numbers are keyed by global voxel
index and step.

Random numbers. Every decision of the sweep is a comparison ``u < p`` of a voxel's uniform with
a probability (an event, or the stochastic rounding of a released amount). A voxel's uniform is
``u = (c + f) / 2^16``: its top 16 bits ``c`` are one 16-bit lane of a Philox block shared by 16
consecutive global indices (a block has 256 bits), and its fine part ``f`` (53 bits) comes from a
block of the voxel's own, drawn only when ``c`` alone cannot decide the comparison, i.e. when
``c == floor(p 2^16)`` (probability 2^-16 per comparison). ``c`` and ``f`` are independent and
uniform, so ``u`` is exactly uniform to 69 bits and every decision has exactly the probability
it should; one Philox block then serves 16 voxels instead of one, which is most of the sweep's
cost saved. Source voxels, which make two independent decisions, use the lanes of two blocks.
Counters: lanes (index // 16, step, 0 or 1, 0), fine parts (index, step, 2 or 3, 0), stream
:data:`mcsim.rng.STREAM_REACTION`, key word 0 the seed.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes import slots as S


@numba.njit(inline="always")
def _round_stochastic(x, u):
    """floor(x) + (u < frac(x)) for a float uniform ``u`` (disorder annealing's shared dither)."""
    n = int(x)
    if u < x - n:
        n += 1
    return n


#: 2^16: the coarse part of a voxel's uniform has 16 bits.
LANES = 65536.0
_SUB_FINE = (2, 3)
_lane = rng.lane16  # the 16-bit lane of global index g in its group's block (16 per block)


@numba.njit(inline="always")
def below(c, p, seed, g, step, sub):
    """Whether ``u < p`` for the uniform ``u = (c + f) / 2^16`` of voxel ``g`` whose coarse part
    is ``c``; the fine part ``f`` (sub-counter ``sub``) is drawn only on a tie of ``c`` with
    ``floor(p 2^16)``. Exact: ``p 2^16`` and its fractional part are computed without rounding."""
    t = p * LANES
    k = np.int64(t)
    if c < k:
        return True
    if c > k:
        return False
    f, _, _, _ = rng.uniform_sub(seed, rng.STREAM_REACTION, g, step, sub)
    return f < t - k


@numba.njit(inline="always")
def _round_below(x, c, seed, g, step, sub):
    """floor(x) + (u < frac(x)) for x >= 0 with the voxel's uniform ``u`` (see :func:`below`)."""
    n = int(x)
    if below(c, x - n, seed, g, step, sub):
        n += 1
    return n


#: Below this argument, 1 - exp(-x) is evaluated by its Taylor series (7 terms: the first
#: term left out is below 2^-53 of the result), which is much cheaper than libm's expm1.
SERIES_MAX = 2.0 ** -7
_C2, _C3, _C4, _C5, _C6, _C7 = 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040  # 1/k!


@numba.njit(inline="always")
def neg_expm1(x):
    """1 - exp(-x) for x >= 0: the Taylor series below SERIES_MAX, libm's expm1 above."""
    if x < SERIES_MAX:
        return x * (1.0 - x * (_C2 - x * (_C3 - x * (_C4 - x * (_C5 - x * (_C6 - x * _C7))))))
    return -math.expm1(-x)


@numba.njit(inline="always")
def _in_contact(phase, grain, z, y, x):
    """Whether a source voxel touches the particle: a TM-phase neighbour (solid contact) or a
    pore inside the particle (grain id != 0). Neither changes class during the sweep (TM
    phases stay TM phases, pores are not touched), so the test is free of races."""
    for k in range(6):
        dz = -1 if k == 0 else (1 if k == 1 else 0)
        dy = -1 if k == 2 else (1 if k == 3 else 0)
        dx = -1 if k == 4 else (1 if k == 5 else 0)
        c = phase[z + dz, y + dy, x + dx]
        if c == ph.HYDROXIDE or c == ph.ROCKSALT or c == ph.LAYERED:
            return True
        if c == ph.PORE and grain[z + dz, y + dy, x + dx] != 0:
            return True
    return False


@numba.njit(parallel=True, cache=True)
def retire_kernel(phase, amount, li, dirty):
    """Turn used-up source voxels (no solid, no mobile lithium left) into pores; they keep
    their grain id (-1 for a contact voxel: a pore on the lithium's path into the particle)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if (c == ph.LIOH or c == ph.LI2O or c == ph.LI2CO3) and amount[z, y, x] == 0 \
                        and li[z, y, x] < 0.5:
                    phase[z, y, x] = ph.PORE
                    dirty[z, y, x] = 1


@numba.njit(parallel=True, cache=True)
def reaction_kernel(phase, grain, amount, li, disorder, coef, full, seed, step, oz, oy, ox,
                    gny, gnx, dirty):
    """Advance every voxel's local reactions by one step.

    Parameters
    ----------
    phase, grain, amount, li, disorder : ndarray
        State fields with a one-voxel halo (only the interior is touched).
    coef : float64 array, length ``slots.N_COEF``
        Per-step coefficients filled by the processes.
    full : int32 array
        Quanta of a full voxel of each phase (:func:`mcsim.state.full_amount_table`).
    seed, step : int
        Key and counter words of the random numbers; ``oz, oy, ox`` the subdomain's global
        offset and ``gny, gnx`` the global lattice's row lengths.
    dirty : uint8 ndarray
        Set to 1 where a voxel's transport class or grain changes (see
        :func:`mcsim.processes.transport.refresh_face_codes`).

    Returns
    -------
    tallies : int64 array (``slots.N_TALLY``) and counts : int64 array (``slots.N_COUNT``)
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    tal = np.zeros((nz, S.N_TALLY), dtype=np.int64)
    cnt = np.zeros((nz, S.N_COUNT), dtype=np.int64)
    p_dec = coef[S.C_P_LIOH_DECOMP]
    p_lioh = coef[S.C_P_REL_LIOH]
    p_li2o = coef[S.C_P_REL_LI2O]
    p_co3 = coef[S.C_P_REL_CO3]
    kl = coef[S.C_KDT_LITH]
    kd = coef[S.C_KDT_DEHYD]
    krs = coef[S.C_KDT_RS]
    d_new = np.uint8(coef[S.C_DISORDER_NEW])
    keep = coef[S.C_ANNEAL]
    contact_only = coef[S.C_CONTACT_ONLY] > 0.5
    # Disorder annealing rounds d * keep with one dither per step shared by all voxels (unbiased
    # over steps, and no random-number block per layered voxel).
    dither = rng.uniform(seed, rng.STREAM_DISORDER, 0, step)
    # The event probabilities of a hydroxide voxel without lithium and of one with at least
    # as much lithium as TM are the same for every such voxel: computed once (bit-identical
    # to computing them per voxel).
    p_dry = neg_expm1(kd)
    p_wet = neg_expm1(kl + kd)
    full_rs = full[ph.ROCKSALT]
    full_lay = full[ph.LAYERED]
    for z in numba.prange(1, nz + 1):
        zi = z - 1
        for y in range(1, ny + 1):
            row = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            # One Philox block serves 16 consecutive global indices (a 16-bit lane each): the
            # block of the current group is computed when a voxel of it first needs a draw.
            zero = np.uint64(0)
            cur = np.int64(-1)
            cur1 = np.int64(-1)
            q0 = q1 = q2 = q3 = zero
            r0 = r1 = r2 = r3 = zero
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if c == ph.PORE:
                    continue
                g = row + x
                grp = g >> 4
                if c == ph.LAYERED:
                    if amount[z, y, x] > full_lay:
                        cnt[zi, S.K_LAYERED_OVERFULL] += 1
                    d = disorder[z, y, x]
                    if d > 0 and keep < 1.0:
                        disorder[z, y, x] = np.uint8(_round_stochastic(d * keep, dither))
                    continue
                a = amount[z, y, x]
                if c == ph.HYDROXIDE:
                    lv = li[z, y, x]
                    rate_l = 0.0
                    if lv > 0.0:
                        rate_l = kl * min(1.0, lv / a)
                    total = rate_l + kd
                    if total > 0.0:
                        if grp != cur:
                            q0, q1, q2, q3 = rng.philox4x64(grp, step, 0, 0, seed,
                                                            rng.STREAM_REACTION)
                            cur = grp
                        c0 = _lane(q0, q1, q2, q3, g)
                        if lv <= 0.0:
                            p = p_dry
                        elif lv >= a:
                            p = p_wet
                        else:
                            p = neg_expm1(total)
                        if below(c0, p, seed, g, step, 2):
                            if below(c0, p * (rate_l / total), seed, g, step, 2):
                                phase[z, y, x] = ph.LAYERED
                                dirty[z, y, x] = 1
                                li[z, y, x] = lv - a
                                disorder[z, y, x] = d_new
                                tal[zi, S.T_TM_LITHIATED] += a
                            else:
                                phase[z, y, x] = ph.ROCKSALT
                                tal[zi, S.T_TM_DEHYDRATED] += a
                                cnt[zi, S.K_ROCKSALT] += 1
                                if a < full_rs:
                                    cnt[zi, S.K_ROCKSALT_PARTIAL] += 1
                            continue
                    cnt[zi, S.K_HYDROXIDE] += 1
                    if lv > 0.0:
                        cnt[zi, S.K_HYDROXIDE_SUPPLIED] += 1
                    continue
                if c == ph.ROCKSALT:
                    lv = li[z, y, x]
                    if lv > 0.0 and krs > 0.0:
                        if grp != cur:
                            q0, q1, q2, q3 = rng.philox4x64(grp, step, 0, 0, seed,
                                                            rng.STREAM_REACTION)
                            cur = grp
                        if below(_lane(q0, q1, q2, q3, g), neg_expm1(krs * min(1.0, lv / a)),
                                 seed, g, step, 2):
                            phase[z, y, x] = ph.LAYERED
                            dirty[z, y, x] = 1
                            li[z, y, x] = lv - a
                            disorder[z, y, x] = d_new
                            tal[zi, S.T_TM_RS_LITHIATED] += a
                            if a > full_lay:
                                cnt[zi, S.K_LAYERED_OVERFULL] += 1
                            continue
                    cnt[zi, S.K_ROCKSALT] += 1
                    if a < full_rs:
                        cnt[zi, S.K_ROCKSALT_PARTIAL] += 1
                    continue
                # lithium sources: the voxel's lane in the group's block (decomposition) and in
                # the group's second block (rounding of the released amount), each drawn only
                # when its decision is not certain
                if c == ph.LIOH and p_dec > 0.0:
                    if grp != cur:
                        q0, q1, q2, q3 = rng.philox4x64(grp, step, 0, 0, seed,
                                                        rng.STREAM_REACTION)
                        cur = grp
                    decomposes = below(_lane(q0, q1, q2, q3, g), p_dec, seed, g, step, 2)
                else:
                    decomposes = False
                if decomposes:
                    c = ph.LI2O
                    phase[z, y, x] = c
                    tal[zi, S.T_LIOH_DECOMPOSED] += a
                    tal[zi, S.T_LI_WATER] += a
                if c == ph.LIOH:
                    p = p_lioh
                elif c == ph.LI2O:
                    p = p_li2o
                else:
                    p = p_co3
                if a > 0 and p > 0.0 and (not contact_only or _in_contact(phase, grain, z, y, x)):
                    x_rel = a * p
                    if x_rel != int(x_rel):
                        if grp != cur1:
                            r0, r1, r2, r3 = rng.philox4x64(grp, step, 1, 0, seed,
                                                            rng.STREAM_REACTION)
                            cur1 = grp
                        n = min(_round_below(x_rel, _lane(r0, r1, r2, r3, g), seed, g, step, 3),
                                a)
                    else:
                        n = min(int(x_rel), a)
                    a -= n
                    amount[z, y, x] = a
                    li[z, y, x] += n
                    if contact_only and grain[z, y, x] != -1:
                        grain[z, y, x] = -1  # once used up, a pore on the path into the particle
                        dirty[z, y, x] = 1
                    tal[zi, S.T_LI_RELEASED] += n
                    if c == ph.LIOH:
                        tal[zi, S.T_LI_WATER] += n
                    elif c == ph.LI2CO3:
                        tal[zi, S.T_LI_CO2] += n
                if a == 0 and li[z, y, x] < 0.5:
                    cnt[zi, S.K_SPENT] += 1  # retired to pore after the sweep (retire_kernel)
                else:
                    cnt[zi, S.K_SOURCE] += 1
                    if c == ph.LIOH:
                        cnt[zi, S.K_LIOH] += 1
    return tal.sum(axis=0), cnt.sum(axis=0)
