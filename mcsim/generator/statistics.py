"""What the generator reports about its particle: per-grain size statistics from second
moments, the radial porosity profile, and the text summary of a report.

Step 5 of :func:`mcsim.generator.generate_agglomerate` (the ``report`` of a
:class:`~mcsim.generator.Microstructure`).  Each block contributes per-grain moments and
per-shell counts, all integers, summed over the blocks: the report is that of the whole
particle on every block, the same for any split.
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
    if r.get("source_note"):
        lines.append(r["source_note"])
    return "\n".join(lines)

@numba.njit(parallel=True, cache=True)
def _grain_moments(grain, off, ngrain, center, radius, nchunk):
    """Per-grain voxel count, first and second moments of the global (z, y, x) and a
    surface-contact flag (any voxel with r > radius - 1.5) over one block.

    The moments are integer sums, accumulated exactly in int64 (``nchunk`` z-slabs in
    parallel, then added): the result is the same for any thread count and, summed over
    blocks, for any split of the grid; as floats they equal the sums of the voxel
    coordinates in any order while they stay below 2**53.

    Returns
    -------
    acc : int64[ngrain + 1, 10]
        count, Sz, Sy, Sx, Szz, Szy, Szx, Syy, Syx, Sxx.
    touch : int64[ngrain + 1]
        1 where a voxel of the grain touches the surface.
    """
    nz, ny, nx = grain.shape
    part = np.zeros((nchunk, ngrain + 1, 10), np.int64)
    tpart = np.zeros((nchunk, ngrain + 1), np.int64)
    rs = (radius - 1.5) ** 2
    for c in prange(nchunk):
        z0 = c * nz // nchunk
        z1 = (c + 1) * nz // nchunk
        for lz in range(z0, z1):
            z = off[0] + lz
            for ly in range(ny):
                y = off[1] + ly
                for lx in range(nx):
                    g = grain[lz, ly, lx]
                    if g == 0:
                        continue
                    x = off[2] + lx
                    p = part[c, g]
                    p[0] += 1
                    p[1] += z
                    p[2] += y
                    p[3] += x
                    p[4] += z * z
                    p[5] += z * y
                    p[6] += z * x
                    p[7] += y * y
                    p[8] += y * x
                    p[9] += x * x
                    dzc = float(z) - center[0]
                    dyc = float(y) - center[1]
                    dxc = float(x) - center[2]
                    if dzc * dzc + dyc * dyc + dxc * dxc > rs:
                        tpart[c, g] = 1
    acc = np.zeros((ngrain + 1, 10), np.int64)
    touch = np.zeros(ngrain + 1, np.int64)
    for c in range(nchunk):
        acc += part[c]
        touch |= tpart[c]
    return acc, touch


def grain_moments(grain, block, ngrain, center, radius_v, reduce):
    """:func:`_grain_moments` of ``block`` summed over all blocks (collective): the float64
    accumulators and the bool contact flags that :func:`_grain_statistics` takes."""
    nchunk = max(1, min(numba.get_num_threads(), grain.shape[0]))
    acc, touch = _grain_moments(grain, np.asarray(block.offset, np.int64), ngrain,
                                np.asarray(center, np.float64), float(radius_v), nchunk)
    both = reduce(np.concatenate([acc.ravel(), touch]))
    k = acc.size
    return both[:k].reshape(acc.shape).astype(np.float64), both[k:] > 0


def _grain_statistics(acc, touch, ngrain, center, radius_v, voxel_nm):
    """Second-moment size statistics per grain (see generate_agglomerate) from the summed
    accumulators of :func:`grain_moments`."""
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


def _radial_shells(z, y, x, c, radius_v):
    """Shell (0..9, of 10 equal shells of r/R) of the voxels at global indices ``z``,
    ``y``, ``x`` (broadcast int64 arrays), from r / R in float32."""
    d = np.float32(1.0 / radius_v)
    zf = ((z - c) * d).astype(np.float32)
    yf = ((y - c) * d).astype(np.float32)
    xf = ((x - c) * d).astype(np.float32)
    rnorm = np.sqrt(zf * zf + yf * yf + xf * xf)
    return np.minimum((rnorm * 10).astype(np.int64), 9)


def porosity_profile(phase, block, radius_v, reduce, slab=16):
    """Pore share of the sphere, overall and in 10 equal shells of r/R, counted on each
    block (``slab`` z-planes at a time) and summed over the blocks (collective).

    Returns
    -------
    porosity_overall : float
        Pore voxels in the sphere / sphere voxels.
    por_by_r : float64[10]
        Pore share of each shell (NaN for a shell without voxels).
    edges : float64[11]
        The shells' r/R edges.
    """
    n = block.n
    c = (n - 1) / 2.0
    (oz, oy, ox), (nz, ny, nx) = block.offset, block.shape
    y = np.arange(oy, oy + ny)[None, :, None]
    x = np.arange(ox, ox + nx)[None, None, :]
    counts = np.zeros(20, np.int64)  # sphere voxels, then pore voxels, per shell
    for z0 in range(0, nz, slab):
        z = np.arange(oz + z0, oz + min(nz, z0 + slab))[:, None, None]
        inside = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius_v * radius_v
        shell = _radial_shells(z, y, x, c, radius_v)[inside]
        pore = phase[z0:z0 + z.shape[0]][inside] == phases.PORE
        counts[:10] += np.bincount(shell, minlength=10)
        counts[10:] += np.bincount(shell[pore], minlength=10)
    counts = reduce(counts)
    tot, por_r = counts[:10], counts[10:].astype(np.float64)
    edges = np.linspace(0.0, 1.0, 11)
    por_by_r = np.where(tot > 0, por_r / np.maximum(tot, 1), np.nan)
    return float(counts[10:].sum() / tot.sum()), por_by_r, edges
