"""Checking the arguments of :func:`mcsim.generator.generate_agglomerate`.

Every refusal is a :class:`~mcsim.errors.ConfigError` naming the configuration key the
argument comes from (``particle.*``, ``lithium.*``, ``seed``) and what is allowed.
"""
from __future__ import annotations

import math

import numpy as np

from mcsim import phases
from mcsim.errors import ConfigError
from mcsim.generator.tessellation import MAX_SIZE_CV

#: Largest allowed edge of the cubic grid (voxels).
MAX_GRID = 2048


def _check_positive(key, value, allowed="a finite number > 0"):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, allowed) from None
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(key, value, allowed)
    return v


def _lattice_count(n: int, limit4) -> int:
    """Voxels of an ``n``^3 grid whose centres lie within ``sqrt(limit4) / 2`` of the grid's
    centre: ``u^2 + v^2 + w^2 <= limit4`` on doubled coordinates ``u = 2 i - (n - 1)``
    (integers of the parity of ``n - 1``), counted exactly in integers, a plane at a time."""
    lim = int(math.floor(limit4))
    w = 2 * np.arange(n, dtype=np.int64) - (n - 1)
    vv = w * w
    odd = (n - 1) % 2
    total = 0
    for u2 in vv:
        rem = lim - u2 - vv
        rem = rem[rem >= 0]
        s = np.floor(np.sqrt(rem.astype(np.float64))).astype(np.int64)
        s -= s * s > rem  # exact integer square roots
        s += (s + 1) * (s + 1) <= rem
        # doubled coordinates |w| <= s of the grid's parity, at most n of them
        cnt = 2 * ((s + 1) // 2) if odd else 2 * (s // 2) + 1
        total += int(np.minimum(cnt, n).sum())
    return total


def _shell_room(n, radius_v, porosity, li_to_tm, li_source, voxel_nm) -> tuple[int, int]:
    """(free, target): the voxels outside the particle sphere and inside the box's
    inscribed sphere (r <= (n - 1) / 2) of an ``n``^3 grid, and the source voxels the
    generator will paint there, both exact.

    The hydroxide voxels are known before the particle is generated: the sphere's voxels
    (r^2 <= radius_v^2, the generator's test) less ``round(porosity * sphere voxels)``
    pores.
    """
    from mcsim.generator.sources import source_target

    n_sphere = _lattice_count(n, 4.0 * (radius_v * radius_v))
    n_hyd = n_sphere - int(round(porosity * n_sphere))
    target = source_target(n_hyd, voxel_nm, li_source, li_to_tm)[0]
    return _lattice_count(n, (n - 1) ** 2) - n_sphere, target


def source_fits(n, radius_v, porosity, li_to_tm, li_source, voxel_nm) -> bool:
    """Whether the whole lithium source fits as a uniform shell into the box's inscribed
    sphere on an ``n``^3 grid (then it fits whatever part of it the source particles
    take).  Bounds on the voxel counts (balls 0.9 voxel larger and smaller) decide most
    cases; the exact count (:func:`_shell_room`) the rest."""
    rho = (n - 1) / 2.0
    code = phases.LIOH if li_source == "LiOH" else phases.LI2CO3
    ball = 4.0 / 3.0 * math.pi
    per_hyd = li_to_tm * phases.MOLAR_VOLUME_CM3[code] / (
        phases.MOLAR_VOLUME_CM3[phases.HYDROXIDE] * phases.LI_PER_FORMULA[code])
    free_low = ball * (max(rho - 0.9, 0.0) ** 3 - (radius_v + 0.9) ** 3)
    free_high = ball * ((rho + 0.9) ** 3 - max(radius_v - 0.9, 0.0) ** 3)
    target_high = per_hyd * ((1.0 - porosity) * ball * (radius_v + 0.9) ** 3 + 1.0) + 1.0
    target_low = per_hyd * ((1.0 - porosity) * ball * max(radius_v - 0.9, 0.0) ** 3 - 1.0) - 1.0
    if free_low >= target_high:
        return True
    if free_high < target_low:
        return False
    free, target = _shell_room(n, radius_v, porosity, li_to_tm, li_source, voxel_nm)
    return free >= target


def _grid_edge(radius_um, voxel_nm, margin_nm) -> int:
    return int(math.ceil((2000.0 * radius_um + 2.0 * margin_nm) / voxel_nm - 1e-9))


def source_margin_nm(radius_um, voxel_nm, porosity, li_to_tm, li_source,
                     source_diameter_nm) -> float:
    """The default box margin, nm: ``source_diameter_nm + 2 * voxel_nm``, grown where the
    whole lithium source would not fit as a uniform shell into the box's inscribed sphere
    (:func:`source_fits`) to the smallest grid it fits (found by doubling the growth, then
    bisection).

    The shell is what the source becomes where it does not fit as particles
    (:mod:`mcsim.generator.sources`).  Source particles sit within R + 0.9 d of the centre,
    inside the default box, so wherever they all fit the shell fits too and the margin stays
    the default: only particles too large for their lithium (or much lithium) grow the box.
    """
    rv = radius_um * 1000.0 / voxel_nm
    margin = source_diameter_nm + 2.0 * voxel_nm
    n0 = _grid_edge(radius_um, voxel_nm, margin)

    def fits(n):
        return n > MAX_GRID or source_fits(n, rv, porosity, li_to_tm, li_source, voxel_nm)

    if fits(n0):
        return margin
    lo, step = n0, 1
    while not fits(n0 + step):
        lo, step = n0 + step, 2 * step
    hi = n0 + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return max(margin, (hi * voxel_nm - 2000.0 * radius_um) / 2.0)


def validate_arguments(radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
                       grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm,
                       placement, margin_nm, seed) -> tuple:
    """The checked arguments of :func:`~mcsim.generator.generate_agglomerate` (every one
    given; ``margin_nm`` may be None) as numbers, and the grid edge they give.

    Returns
    -------
    tuple
        ``(radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
        grain_thickness_nm, size_cv, li_to_tm, source_diameter_nm, margin_nm, seed, n)``
        as floats (seed: int), ``margin_nm`` resolved to its default when None
        (:func:`source_margin_nm`: ``source_diameter_nm + 2 * voxel_nm`` unless the
        lithium source needs more room), ``n`` the grid edge in voxels.

    Raises
    ------
    mcsim.errors.ConfigError
        Naming the key of the first argument refused.
    """
    r = _check_positive("particle.radius_um", radius_um)
    v = _check_positive("particle.voxel_nm", voxel_nm)
    try:
        p = float(porosity)
    except (TypeError, ValueError):
        raise ConfigError("particle.porosity", porosity, "a number in [0, 0.6]") from None
    if not (0.0 <= p <= 0.6):
        raise ConfigError("particle.porosity", porosity, "a number in [0, 0.6]")
    L = _check_positive("particle.grain_length_nm", grain_length_nm)
    W = _check_positive("particle.grain_width_nm", grain_width_nm)
    T = _check_positive("particle.grain_thickness_nm", grain_thickness_nm)
    if T < 2.0 * v:
        raise ConfigError("particle.grain_thickness_nm", grain_thickness_nm,
                          f">= 2 voxels ({2 * v:g} nm at voxel_nm={v:g})")
    if W < T:
        raise ConfigError("particle.grain_width_nm", grain_width_nm,
                          f">= grain_thickness_nm ({T:g} nm)")
    if L < W:
        raise ConfigError("particle.grain_length_nm", grain_length_nm,
                          f">= grain_width_nm ({W:g} nm)")
    if L > 2000.0 * r:
        raise ConfigError("particle.grain_length_nm", grain_length_nm,
                          f"<= the particle diameter ({2000 * r:g} nm)")
    try:
        cv = float(size_cv)
    except (TypeError, ValueError):
        raise ConfigError("particle.size_cv", size_cv,
                          f"a number in [0, {MAX_SIZE_CV}]") from None
    if not (0.0 <= cv <= MAX_SIZE_CV):
        raise ConfigError("particle.size_cv", size_cv,
                          f"a number in [0, {MAX_SIZE_CV}] (calibrated range)")
    if li_source not in ("LiOH", "Li2CO3"):
        raise ConfigError("lithium.source", li_source, "one of 'LiOH', 'Li2CO3'")
    try:
        q = float(li_to_tm)
    except (TypeError, ValueError):
        raise ConfigError("lithium.li_to_tm", li_to_tm, "a number in (0, 3]") from None
    if not (0.0 < q <= 3.0):
        raise ConfigError("lithium.li_to_tm", li_to_tm, "a number in (0, 3]")
    if placement not in ("particles", "shell"):
        raise ConfigError("lithium.placement", placement, "one of 'particles', 'shell'")
    d = _check_positive("lithium.source_diameter_nm", source_diameter_nm)
    if d < 2.0 * v:
        raise ConfigError("lithium.source_diameter_nm", source_diameter_nm,
                          f">= 2 voxels ({2 * v:g} nm)")
    if margin_nm is None:
        m = source_margin_nm(r, v, p, q, li_source, d)
    else:
        try:
            m = float(margin_nm)
        except (TypeError, ValueError):
            raise ConfigError("particle.margin_nm", margin_nm, "a number >= 0") from None
        if not (math.isfinite(m) and m >= 0.0):
            raise ConfigError("particle.margin_nm", margin_nm, "a number >= 0")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not (0 <= int(seed) < 2 ** 64):
        raise ConfigError("seed", seed, "an integer in [0, 2**64)")
    n = _grid_edge(r, v, m)
    if n > MAX_GRID:
        raise ConfigError("particle.radius_um", radius_um,
                          f"a grid of at most {MAX_GRID}^3 voxels (this gives {n}^3 at "
                          f"voxel_nm={v:g}, margin {m:g} nm)")
    if r * 1000.0 / v < 2.0:
        raise ConfigError("particle.radius_um", radius_um, ">= 2 voxels")
    return r, v, p, L, W, T, cv, q, d, m, int(seed), n


#: The former private name of :func:`validate_arguments`.
_validate = validate_arguments


def check_arguments(*, radius_um=1.0, voxel_nm=10.0, porosity=0.25, grain_length_nm=300.0,
                    grain_width_nm=150.0, grain_thickness_nm=50.0, size_cv=0.2, li_source="LiOH",
                    li_to_tm=1.05, source_diameter_nm=300.0, placement="particles",
                    margin_nm=None, seed=1) -> None:
    """Raise ConfigError for arguments :func:`~mcsim.generator.generate_agglomerate` would
    refuse (same keys)."""
    validate_arguments(radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
                       grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm,
                       placement, margin_nm, seed)

