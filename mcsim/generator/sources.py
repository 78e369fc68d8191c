"""The lithium source around the generated particle.

Step 4 of :func:`mcsim.generator.generate_agglomerate`: the number of source voxels follows
from the Li:TM molar balance against the hydroxide voxels; they are painted on free voxels
outside the particle sphere, either as spherical source particles touching the surface at
random directions or as one uniform shell.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases
from mcsim.errors import ConfigError
from mcsim.generator.streams import _rng


@numba.njit(cache=True)
def _paint_sphere(phase, center, radius, sphere_c, sphere_r, code, budget):
    """Set free (PORE) voxels outside the particle sphere and inside the source sphere
    (centre ``center``, radius ``radius``, voxels) to ``code``, closest to the source centre
    first, at most ``budget`` voxels.  Returns the number painted."""
    n = phase.shape[0]
    r = radius
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for k in range(3):
        lo[k] = max(int(math.ceil(center[k] - r)), 0)
        hi[k] = min(int(math.floor(center[k] + r)), n - 1)
    nmax = (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1)
    if nmax <= 0:
        return 0
    cand = np.empty((nmax, 3), np.int64)
    dist = np.empty(nmax)
    m = 0
    rp2 = sphere_r * sphere_r
    for z in range(lo[0], hi[0] + 1):
        for y in range(lo[1], hi[1] + 1):
            for x in range(lo[2], hi[2] + 1):
                dd = (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2
                if dd > r * r or phase[z, y, x] != 0:
                    continue
                dp = ((z - sphere_c[0]) ** 2 + (y - sphere_c[1]) ** 2
                      + (x - sphere_c[2]) ** 2)
                if dp <= rp2:
                    continue
                cand[m, 0] = z
                cand[m, 1] = y
                cand[m, 2] = x
                dist[m] = dd
                m += 1
    if m <= budget:
        take = m
        order = np.arange(m)
    else:
        take = budget
        order = np.argsort(dist[:m], kind="mergesort")
    for q in range(take):
        j = order[q]
        phase[cand[j, 0], cand[j, 1], cand[j, 2]] = code
    return take



def _place_shell(phase, inside, rr2, target, code, n, radius_v, q):
    """Uniform shell: the ``target`` outside-particle voxels closest to the centre."""
    if target <= 0:
        return 0
    out_idx = np.flatnonzero(~inside.ravel())
    r_out = rr2.ravel()[out_idx]
    if target > out_idx.size:
        raise ConfigError("lithium.li_to_tm", q, "a source amount that fits in the box")
    sel = np.argpartition(r_out, target - 1)[:target]
    r_shell = math.sqrt(float(r_out[sel].max()))
    if r_shell > (n - 1) / 2.0:
        raise ConfigError("lithium.li_to_tm", q,
                          f"a source amount that fits in the box (the shell would reach "
                          f"r = {r_shell:.1f} voxels, the box half-width is {n / 2:.1f}; "
                          f"lower li_to_tm or raise particle.margin_nm)")
    phase.ravel()[out_idx[sel]] = code
    return int(target)


def _place_particles(phase, center, radius_v, dv, target, code, seed, q):
    """Spherical source particles of diameter ``dv`` voxels, centres at random directions
    at distance R + 0.4 dv; only free voxels outside the particle sphere are painted.  The
    last particle is trimmed (voxels nearest its centre kept) so the count is exact."""
    rng = _rng(seed, "source")
    rc = radius_v + 0.4 * dv
    count = 0
    fails = 0
    attempts = 0
    est = target / max(1.0, math.pi / 6.0 * dv ** 3 * 0.5)
    max_attempts = int(50 * est) + 2000
    while count < target:
        attempts += 1
        if fails > 300 or attempts > max_attempts:
            raise ConfigError("lithium.li_to_tm", q,
                              f"a source amount that fits around the particle (placed "
                              f"{count} of {target} source voxels; lower li_to_tm, use "
                              f"smaller source particles or placement='shell')")
        u = rng.standard_normal(3)
        u /= np.linalg.norm(u)
        cen = center + u * rc
        got = _paint_sphere(phase, cen, 0.5 * dv, center, radius_v, code, target - count)
        if got == 0:
            fails += 1
        else:
            fails = 0
        count += got
    return count



def place_source(phase, inside, rr2, center, radius_v, n, n_hyd, vox, li_source, q,
                 placement, dsrc, seed):
    """Paint the lithium source into ``phase`` (in place).

    Parameters
    ----------
    phase : uint8[n, n, n]
        The particle, source-free; outside the sphere all PORE.
    inside, rr2
        The sphere mask and squared distances from the centre
        (:func:`mcsim.generator.tessellation.tessellate`).
    center : float64[3]
        Sphere centre, voxels.
    radius_v : float
        Sphere radius, voxels.
    n : int
        Grid edge.
    n_hyd : int
        Hydroxide voxels (the TM the source is balanced against).
    vox : float
        Voxel edge, nm.
    li_source, q, placement, dsrc, seed
        Validated ``li_source``, ``li_to_tm``, ``placement``, ``source_diameter_nm`` and
        ``seed`` of :func:`mcsim.generator.generate_agglomerate`.

    Returns
    -------
    n_src : int
        Source voxels painted.
    tm_mol, li_mol : float
        TM in the hydroxide and Li in the source, mol.
    """
    code = phases.LIOH if li_source == "LiOH" else phases.LI2CO3
    v_cm3 = (vox * 1e-7) ** 3
    tm_mol = n_hyd * v_cm3 / phases.MOLAR_VOLUME_CM3[phases.HYDROXIDE]
    li_per_vox = v_cm3 / phases.MOLAR_VOLUME_CM3[code] * phases.LI_PER_FORMULA[code]
    target = int(round(q * tm_mol / li_per_vox))
    if placement == "shell":
        n_src = _place_shell(phase, inside, rr2, target, code, n, radius_v, q)
    else:
        n_src = _place_particles(phase, center, radius_v, dsrc / vox, target, code, seed, q)
    li_mol = n_src * li_per_vox
    return n_src, tm_mol, li_mol
