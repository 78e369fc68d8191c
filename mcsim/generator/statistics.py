"""What the generator reports about its particle: per-grain size statistics from second
moments, the radial porosity profile, and the text summary of a report.

Step 5 of :func:`mcsim.generator.generate_agglomerate` (the ``report`` of a
:class:`~mcsim.generator.Microstructure`).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from mcsim import phases


def summary(report: dict) -> str:
    """Format a generator report as a few lines of text.

    Parameters
    ----------
    report : dict
        ``Microstructure.report``.

    Returns
    -------
    str
    """
    r = report
    req = r["requested"]
    g = r["grain_size"]
    lines = [
        f"grid {r['grid_n']}^3 at {r['voxel_nm']:g} nm, particle radius "
        f"{r['radius_um']:g} um ({r['radius_vox']:.1f} vox), generated in "
        f"{r['generation_time_s']:.2f} s",
        f"grains: {r['n_grains']} ({g['n_measured']} interior grains measured; grains "
        f"touching the surface excluded)",
        f"{'quantity':<22}{'requested':>12}{'achieved':>12}",
        f"{'porosity':<22}{req['porosity']:>12.3f}{r['porosity_overall']:>12.3f}",
        f"{'length / nm':<22}{req['grain_length_nm']:>12.1f}{g['length_nm']['mean']:>12.1f}",
        f"{'width / nm':<22}{req['grain_width_nm']:>12.1f}{g['width_nm']['mean']:>12.1f}",
        f"{'thickness / nm':<22}{req['grain_thickness_nm']:>12.1f}"
        f"{g['thickness_nm']['mean']:>12.1f}",
        f"{'mean grain size / nm':<22}{r['mean_grain_size_requested_nm']:>12.1f}"
        f"{r['mean_grain_size_nm']:>12.1f}",
        f"{'aspect L/T':<22}{req['grain_length_nm'] / req['grain_thickness_nm']:>12.2f}"
        f"{g['aspect']['mean']:>12.2f}",
        f"{'Li:TM':<22}{req['li_to_tm']:>12.3f}{r['li_to_tm_achieved']:>12.3f}",
        f"equivalent-sphere diameter {g['esd_nm_mean']:.1f} nm; radial alignment "
        f"<|cos|> = {g['radial_alignment_mean_abs_cos']:.3f}",
        f"source {r['li_source']} ({r['placement']}): {r['n_source_voxels']} voxels, "
        f"Li {r['li_mol']:.3e} mol, TM {r['tm_mol']:.3e} mol",
        "porosity by r/R: " + " ".join(f"{p:.2f}" for p in r["porosity_by_radius"]),
    ]
    return "\n".join(lines)

@numba.njit(parallel=True, cache=True)
def _grain_moments(grain, ngrain, center, radius, nchunk):
    """Per-grain voxel count, first and second moments of (z, y, x) and a surface-contact
    flag (any voxel with r > radius - 1.5).  Accumulated in ``nchunk`` fixed z-slabs and
    summed in order, so the result does not depend on the thread count.

    Returns
    -------
    acc : float64[ngrain + 1, 10]
        count, Sz, Sy, Sx, Szz, Szy, Szx, Syy, Syx, Sxx.
    touch : bool[ngrain + 1]
    """
    n = grain.shape[0]
    part = np.zeros((nchunk, ngrain + 1, 10))
    tpart = np.zeros((nchunk, ngrain + 1), np.bool_)
    rs = (radius - 1.5) ** 2
    for c in prange(nchunk):
        z0 = c * n // nchunk
        z1 = (c + 1) * n // nchunk
        for z in range(z0, z1):
            for y in range(n):
                for x in range(n):
                    g = grain[z, y, x]
                    if g == 0:
                        continue
                    fz = float(z)
                    fy = float(y)
                    fx = float(x)
                    p = part[c, g]
                    p[0] += 1.0
                    p[1] += fz
                    p[2] += fy
                    p[3] += fx
                    p[4] += fz * fz
                    p[5] += fz * fy
                    p[6] += fz * fx
                    p[7] += fy * fy
                    p[8] += fy * fx
                    p[9] += fx * fx
                    dzc = fz - center[0]
                    dyc = fy - center[1]
                    dxc = fx - center[2]
                    if dzc * dzc + dyc * dyc + dxc * dxc > rs:
                        tpart[c, g] = True
    acc = np.zeros((ngrain + 1, 10))
    touch = np.zeros(ngrain + 1, np.bool_)
    for c in range(nchunk):
        acc += part[c]
        touch |= tpart[c]
    return acc, touch


def _grain_statistics(grain, ngrain, center, radius_v, voxel_nm):
    """Second-moment size statistics per grain (see generate_agglomerate)."""
    acc, touch = _grain_moments(grain, ngrain, np.asarray(center, np.float64),
                                float(radius_v), 16)
    acc = acc[1:]
    touch = touch[1:]
    cnt = acc[:, 0]
    mean = acc[:, 1:4] / cnt[:, None]
    cov = np.empty((ngrain, 3, 3))
    idx = [(0, 0, 4), (0, 1, 5), (0, 2, 6), (1, 1, 7), (1, 2, 8), (2, 2, 9)]
    for i, j, k in idx:
        c = acc[:, k] / cnt - mean[:, i] * mean[:, j]
        cov[:, i, j] = c
        cov[:, j, i] = c
    # a single voxel is a cube of side 1: add its own variance 1/12 per axis
    cov += np.eye(3)[None] / 12.0
    lam, vec = np.linalg.eigh(cov)  # ascending
    lam = np.maximum(lam, 0.0)
    axes = 2.0 * np.sqrt(5.0 * lam) * voxel_nm  # full axes, nm (thickness, width, length)
    length = axes[:, 2]
    width = axes[:, 1]
    thick = axes[:, 0]
    radial = mean - np.asarray(center)[None]
    rn = np.linalg.norm(radial, axis=1)
    cosr = np.abs(np.sum(vec[:, :, 2] * radial, axis=1)) / np.maximum(rn, 1e-12)
    vol_nm3 = cnt * voxel_nm ** 3
    esd = (6.0 * vol_nm3 / math.pi) ** (1.0 / 3.0)
    # interior grains: not touching the surface, >= 8 voxels, centroid beyond 0.3 R
    # (the radial direction is ill-defined very near the centre)
    interior = (~touch) & (cnt >= 8)
    inner_dir = interior & (rn > 0.3 * radius_v)

    def stats(a):
        a = np.asarray(a, float)
        if a.size == 0:
            return {"mean": float("nan"), "std": float("nan"), "p10": float("nan"),
                    "p50": float("nan"), "p90": float("nan")}
        p10, p50, p90 = np.percentile(a, [10, 50, 90])
        return {"mean": float(a.mean()), "std": float(a.std()), "p10": float(p10),
                "p50": float(p50), "p90": float(p90)}

    out = {
        "n_measured": int(interior.sum()),
        "n_touching_surface": int(touch.sum()),
        "excluded": "grains touching the particle surface (r > R - 1.5 voxels) and grains "
                    "below 8 voxels",
        "length_nm": stats(length[interior]),
        "width_nm": stats(width[interior]),
        "thickness_nm": stats(thick[interior]),
        "aspect": stats(length[interior] / np.maximum(thick[interior], 1e-12)),
        "esd_nm_mean": float(esd[interior].mean()) if interior.any() else float("nan"),
        "esd_nm_mean_all": float(esd.mean()) if ngrain else float("nan"),
        "radial_alignment_mean_abs_cos": float(cosr[inner_dir].mean())
        if inner_dir.any() else float("nan"),
        "volume_nm3": stats(vol_nm3),
    }
    per_grain = {"voxels": cnt.astype(np.int64), "length_nm": length, "width_nm": width,
                 "thickness_nm": thick, "centroid_vox": mean, "long_axis": vec[:, :, 2],
                 "touches_surface": touch, "radial_abs_cos": cosr}
    return out, per_grain


def _radial_coordinate(n, c, radius_v):
    """r / R of every voxel centre, float32 (n, n, n)."""
    zz, yy, xx = np.ogrid[:n, :n, :n]
    d = np.float32(1.0 / radius_v)
    z = ((zz - c) * d).astype(np.float32)
    y = ((yy - c) * d).astype(np.float32)
    x = ((xx - c) * d).astype(np.float32)
    return np.sqrt(z * z + y * y + x * x)



def porosity_profile(phase, inside, n, c, radius_v, n_sphere):
    """Pore share of the sphere, overall and in 10 equal shells of r/R.

    Returns
    -------
    porosity_overall : float
        Pore voxels in the sphere / ``n_sphere``.
    por_by_r : float64[10]
        Pore share of each shell (NaN for a shell without voxels).
    edges : float64[11]
        The shells' r/R edges.
    """
    pore_in = (phase == phases.PORE) & inside
    edges = np.linspace(0.0, 1.0, 11)
    rnorm = _radial_coordinate(n, c, radius_v)
    shell = np.minimum((rnorm[inside] * 10).astype(np.int64), 9)
    tot = np.bincount(shell, minlength=10)
    por_r = np.bincount(shell, weights=pore_in[inside].astype(np.float64), minlength=10)
    por_by_r = np.where(tot > 0, por_r / np.maximum(tot, 1), np.nan)
    return float(pore_in.sum() / n_sphere), por_by_r, edges
