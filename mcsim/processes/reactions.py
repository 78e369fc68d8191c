"""The fused per-voxel reaction kernel: every local reaction of one step in one pass.

Release from the source, LiOH decomposition, lithiation against dehydration, rock-salt
lithiation and disorder annealing act on a voxel's own fields only, so they are applied in one
sweep over the lattice; a Philox block (four uniforms) serves four consecutive global voxel
indices, one word each (source voxels, which need two numbers, also use the group's second
block). Each
process module documents its rule and fills its slots of the coefficient vector
(:mod:`mcsim.processes.slots`); a process switched off leaves its slots at their neutral value.
Voxels are independent, so the sweep is parallel over z-planes and its result does not depend
on the number of threads; the random numbers are keyed by global voxel index and step.
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
    n = int(x)
    if u < x - n:
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
def _word(q0, q1, q2, q3, k):
    if k == 0:
        return q0
    if k == 1:
        return q1
    if k == 2:
        return q2
    return q3


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
            # One Philox block serves four consecutive global indices (one word each): the
            # block of the current group is computed when a voxel of it first needs a draw.
            cur = np.int64(-1)
            cur1 = np.int64(-1)
            q0 = q1 = q2 = q3 = 0.0
            r0 = r1 = r2 = r3 = 0.0
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if c == ph.PORE:
                    continue
                g = row + x
                grp = g >> 2
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
                            q0, q1, q2, q3 = rng.uniform4(seed, rng.STREAM_REACTION, grp, step)
                            cur = grp
                        u0 = _word(q0, q1, q2, q3, g & 3)
                        if lv <= 0.0:
                            p = p_dry
                        elif lv >= a:
                            p = p_wet
                        else:
                            p = neg_expm1(total)
                        if u0 < p:
                            if u0 < p * (rate_l / total):
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
                            q0, q1, q2, q3 = rng.uniform4(seed, rng.STREAM_REACTION, grp, step)
                            cur = grp
                        u0 = _word(q0, q1, q2, q3, g & 3)
                        if u0 < neg_expm1(krs * min(1.0, lv / a)):
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
                # lithium sources: the group's word, and the word of the group's second block
                if grp != cur:
                    q0, q1, q2, q3 = rng.uniform4(seed, rng.STREAM_REACTION, grp, step)
                    cur = grp
                u0 = _word(q0, q1, q2, q3, g & 3)
                if grp != cur1:
                    r0, r1, r2, r3 = rng.uniform_sub(seed, rng.STREAM_REACTION, grp, step, 1)
                    cur1 = grp
                u1 = _word(r0, r1, r2, r3, g & 3)
                if c == ph.LIOH and u0 < p_dec:
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
                    n = min(_round_stochastic(a * p, u1), a)
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
