"""Projected mass-thickness of core and shell relative to 170 C, and the mass-thickness image
near 300 C (the analogue of the paper's in situ TEM intensity analysis, Fig. 2d,f).

Usage: python -m mcsim.figures.mass_thickness RUN.h5 [-o FIGURE.png] [--pdf]

Reads /timeseries/tem_core and /timeseries/tem_shell (mean projected mass-thickness of the core,
projected radius < 0.5 R, and of the shell, 0.7 R to R), divided by their values at the first row
at or above 170 C (I / I_170C as in Fig. 2f), on the heating branch; and
/images/NNNN/mass_thickness of the snapshot whose temperature is nearest 300 C, with the
core and shell annuli drawn (particle radius from /microstructure/radius_vox, centre at the
grid centre).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcsim.figures import _common as C

NAME = "mass_thickness"
REFERENCE_C = 170.0
IMAGE_NEAR_C = 300.0
CORE_MAX, SHELL_MIN = 0.5, 0.7  # of R, as in mcsim.diagnostics (the series' descriptions)
CORE_COLOUR, SHELL_COLOUR = "tab:red", "tab:green"


def _nearest_image(f, target_c: float):
    """(image, attrs) of the /images entry whose temperature is nearest ``target_c``, or None."""
    keys = C.snapshot_keys(f, "images")
    if not keys:
        return None
    temps = [float(f["images"][k].attrs.get("temperature_c", np.nan)) for k in keys]
    best = keys[int(np.nanargmin(np.abs(np.asarray(temps) - target_c)))]
    group = f["images"][best]
    return group["mass_thickness"][:], dict(group.attrs)


def plot(h5_path: str | Path, out_path: str | Path, formats=None) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix); return the path."""
    with C.open_result(h5_path) as f:
        temp = C.series(f, "temperature_c")
        time_s = C.series(f, "time_s")
        core = C.series(f, "tem_core")
        shell = C.series(f, "tem_shell")
        units = str(f["timeseries"]["tem_core"].attrs.get("units", "arb. units"))
        voxel_um = float(f.attrs.get("voxel_nm", 1.0)) / 1000.0
        radius_vox = (float(f["microstructure/radius_vox"][()])
                      if "microstructure/radius_vox" in f else None)
        image = _nearest_image(f, IMAGE_NEAR_C)
        title = C.run_title(f)
    h = C.heating_branch(time_s, temp)
    ref = C.first_at_or_above(temp, REFERENCE_C)
    ref_text = f"{REFERENCE_C:.0f} °C"
    if ref is None:  # the run never got that warm: fall back to the first row
        ref, ref_text = 0, f"{temp[0]:.0f} °C (run stays below {REFERENCE_C:.0f} °C)"

    def relative(values):
        base = values[ref]
        return values / base if np.isfinite(base) and base != 0 else np.full_like(values, np.nan)

    fig = C.new_figure(figsize=(11, 4.4))
    ax_i, ax_img = fig.subplots(1, 2, width_ratios=(1.15, 1))
    ax_i.plot(temp[h], relative(core)[h], color=CORE_COLOUR, lw=1.6, marker="o", ms=3,
              label=f"core (r < {CORE_MAX:g} R)")
    ax_i.plot(temp[h], relative(shell)[h], color=SHELL_COLOUR, lw=1.6, marker="s", ms=3,
              label=f"shell ({SHELL_MIN:g} R ≤ r < R)")
    ax_i.axhline(1.0, color="0.6", lw=0.8)
    ax_i.axvline(temp[ref], color="0.6", lw=0.8, ls=":")
    ax_i.set_xlabel("temperature (°C)")
    ax_i.set_ylabel(f"I / I$_{{ref}}$  (mass-thickness relative to {ref_text})")
    ax_i.set_title("Core and shell projected mass-thickness (cf. paper Fig. 2f)", fontsize=10)
    ax_i.legend(fontsize=8)
    ax_i.grid(alpha=0.3)

    if image is None:
        ax_img.text(0.5, 0.5, "this run wrote no mass-thickness images", ha="center",
                    va="center", transform=ax_img.transAxes)
        ax_img.set_axis_off()
    else:
        img, attrs = image
        ny, nx = img.shape
        shown = ax_img.imshow(img, origin="lower", cmap="gray_r", interpolation="nearest",
                              extent=(0.0, nx * voxel_um, 0.0, ny * voxel_um))
        fig.colorbar(shown, ax=ax_img, pad=0.01).set_label(f"projected mass ({units})")
        if radius_vox:
            from matplotlib.patches import Circle

            # the particle sits at the grid centre, voxel (n - 1) / 2, i.e. n / 2 voxels along
            centre = (nx / 2 * voxel_um, ny / 2 * voxel_um)
            rings = ((CORE_MAX, CORE_COLOUR, "--", f"core: r < {CORE_MAX:g} R"),
                     (SHELL_MIN, SHELL_COLOUR, "--", f"shell: {SHELL_MIN:g} R ≤ r < R"),
                     (1.0, SHELL_COLOUR, "-", None))
            for frac, colour, ls, label in rings:
                ax_img.add_patch(Circle(centre, frac * radius_vox * voxel_um, fill=False,
                                        color=colour, ls=ls, lw=1.0, label=label))
            ax_img.legend(loc="upper right", fontsize=7, framealpha=0.8)
        ax_img.set_xlabel("x (µm)")
        ax_img.set_ylabel("y (µm)")
        img_temp = float(attrs.get("temperature_c", np.nan))
        ax_img.set_title(f"Mass-thickness image at {img_temp:.0f} °C "
                         f"[{attrs.get('label', '')}]; dark = more mass", fontsize=10)
    fig.suptitle(f"Simulated TEM mass-thickness — {title}", fontsize=10)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    return C.script_main(plot, NAME, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
