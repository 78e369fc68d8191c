"""Checking the arguments of :func:`mcsim.generator.generate_agglomerate`.

Every refusal is a :class:`~mcsim.errors.ConfigError` naming the configuration key the
argument comes from (``particle.*``, ``lithium.*``, ``seed``) and what is allowed.
"""
from __future__ import annotations

import math

import numpy as np

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
        as floats (seed: int), ``margin_nm`` resolved to its default
        ``source_diameter_nm + 2 * voxel_nm`` when None, ``n`` the grid edge in voxels.

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
        m = d + 2.0 * v
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
    n = int(math.ceil((2000.0 * r + 2.0 * m) / v - 1e-9))
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

