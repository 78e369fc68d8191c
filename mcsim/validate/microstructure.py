"""Microstructure checks: the pore analysis on known shapes, and the paper's R-NCM vs TS-NCM
ordering of nanopores and central voids (paper Fig. 3 and Fig. 4b-e).

``known_shapes`` (exact, the same in quick and full mode apart from the sizes): a solid
sphere of two grains (split by a plane) holds a digitised ball of odd diameter and a cylinder
of odd diameter inside grain 1, a slab straddling the grain boundary and a channel open to the
outside. :func:`mcsim.pores.pore_statistics` must return, with no tolerance: every pore's
voxel count (the carved voxels), its equivalent diameter ``(6V/pi)^(1/3)`` (to float
rounding), its class (ball and cylinder intragranular, slab intergranular, channel open), the
local thickness (every ball voxel exactly the ball's diameter; every cylinder and slab voxel
at least half a diameter away from the shape's ends exactly its diameter / thickness, and no
voxel above it), the porosity and the grain volumes.

``rncm_vs_tsncm`` and ``tsncm_denser`` (the paper's ordering): for every seed of
:func:`mcsim.validate.harness.current_seeds` (1, 2, 3 unless ``--seeds`` says otherwise) the
particle is calcined on R-NCM and on TS-NCM (:func:`mcsim.compare.preset_configs`, preset
defaults) and the final pore statistics are compared, with the thresholds the paper's words
support ("hardly" any nanopores in TS-NCM, "more compact and dense" particles): TS/R of the
core nanopore density (``nanopore_density_core_per_um3``) at most 0.3, of the central void
that opened in sintering (``central_void_opened``, :mod:`mcsim.pores`) at most 0.5, and of the
porosity below 1 both by pore voxels (``porosity``) and by mass (``mass_porosity``), every
seed. In full mode TS-NCM is run a third time with its 850 C hold lengthened to 12 h (R-NCM's)
and must still be denser: the ordering must come from the calcination path, not from how long
each product sinters. The runs are made once per validation (:func:`ordering_rows` caches
them; :mod:`mcsim.validate.observations` reads the final Li/Ni disorder from the same runs).
Full mode: the default particle (R = 0.6 um, 154^3 voxels; nine whole schedules).
Quick mode: the test suite's tiny particle shrunk to R = 0.15 um (grains 100 x 60 x 30 nm,
40^3 voxels, one thread), with the default diffusivities: a smoke version whose lithium fronts
cross the particle sooner than on the default one, so the quick verdicts are reduced criteria
(``reduced`` in the table and JSON), not the paper's. A failure is reported as such, with
the per-seed numbers in the detail line.

What the ordering checks prove (the ``kind`` of each result): all are ``prediction``. No
parameter was fitted to any of these orderings: where vacancies go in sintering follows from
the local bond fraction (``vacancy_constraint_per_nm``, estimated as one grain thickness,
:mod:`mcsim.processes.sintering.vacancy_sinks`), nanopores come from the ripening of
dehydrated rock salt and move by surface diffusion on rock-salt walls
(``nanopore_mobility``, estimated from NiO cation diffusion), and the rates were calibrated to
targets both products share (nanopores visible at 500 C, ~1000 grain-growth MCS in 12 h at
850 C, visible densification). The known shapes and the grain-growth law are ``numerics``.

``voxel_size_nanopores`` (numerics: convergence under refinement): R-NCM on a 0.3 um particle
at 10 nm and at 5 nm voxels (quick: the tiny particle), every seed; the core nanopore density
(summed over the seeds) and the nanopore mean diameter (averaged) of the 5 nm lattice must be
within 30 % of the 10 nm one's (the microstructure issue's criterion). Full mode: about 12
minutes per seed on one thread.

``grain_growth_voxel`` (numerics: convergence under refinement): one Voronoi polycrystal of
40 nm cells grown by the sintering kernel's Potts MCS at 10 and at 5 nm voxels, for the MCS
the model's voxel scaling gives, without pores and with 12 % of the box in fixed 20 nm pores
(:func:`pinned_growth`, the same physical pores at both sizes); the 5 nm lattice's final mean
grain volume must be within 30 % of the 10 nm one's in each case. Without pores it tests the
scaling of the grain-growth rate, with them whether boundaries are pinned alike (11 s).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from mcsim import phases as ph
from mcsim.params import resolve
from mcsim.state import State
from mcsim.validate.counting import rate_ratio_interval
from mcsim.validate.harness import CheckResult, current_seeds, model_sets, register


def model_parameters() -> dict:
    """The default parameter set with the running validation's ``--set`` model overrides
    (:func:`~mcsim.validate.harness.model_sets`), for the checks that drive a kernel directly
    instead of running the simulator."""
    sets = model_sets()
    if not sets:
        return resolve("ncm622-lioh")
    from mcsim import config  # lazy: loads the kernels' modules

    cfg = config.load(sets=list(sets))
    return resolve(cfg["model"]["parameter_set"], cfg["model"].get("overrides"))


GROUP = "microstructure"
SEEDS = (1, 2, 3)
QUICK_RADIUS_UM = 0.15

#: The paper's words as thresholds on TS/R: "hardly" any nanopores, a central void at most
#: half R-NCM's, and denser by both measures (issue targets, not fits).
MAX_NANOPORE_RATIO = 0.3
MAX_VOID_RATIO = 0.5
#: TS-NCM's 850 C hold in the hold-length control (R-NCM's, in minutes).
LONG_HOLD_MIN = 720.0


def _result(name, target, simulated, tolerance, passed, detail="", *, kind="numerics"):
    return CheckResult(GROUP, name, target, float(simulated), tolerance, bool(passed), detail,
                       kind=kind)


# ==========================================================================================
# (a) known shapes
# ==========================================================================================
def known_shapes(ball_d: int = 7, cyl_d: int = 5, slab_t: int = 3, radius: int = 30):
    """A two-grain solid sphere with four carved pores of known geometry.

    Returns
    -------
    phase, grain : numpy.ndarray
        The fields (layered oxide inside the sphere, pore outside; grain 1 below the middle
        plane, 2 above; carved pore voxels keep their grain id, the open channel too).
    center : tuple of float
    shapes : dict
        Per shape: ``mask`` (bool array of its voxels), ``cls`` (expected class code),
        ``diameter`` (expected local thickness, voxels) and ``core`` (the voxels whose local
        thickness must equal ``diameter``).
    """
    n = 2 * radius + 6
    c = (n - 1) / 2.0
    cz = cy = cx = int(c)  # grid point next to the centre, shapes centred on voxels
    z, y, x = np.ogrid[:n, :n, :n]
    inside = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius ** 2
    phase = np.where(inside, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(inside, np.where(z < cz, 1, 2), 0).astype(np.int32)
    shapes = {}
    # a ball of odd diameter, centred on a voxel, in grain 1
    bz, by, bx = cz - radius // 3, cy, cx - radius // 3
    ball = (z - bz) ** 2 + (y - by) ** 2 + (x - bx) ** 2 <= (ball_d / 2) ** 2
    shapes["ball"] = dict(mask=ball, cls=0, diameter=ball_d, core=ball)
    # a cylinder along x, odd diameter, axis on voxel centres, in grain 1
    kz, ky = cz - radius // 3, cy + radius // 3
    half_len = radius // 3
    disc = (z - kz) ** 2 + (y - ky) ** 2 <= (cyl_d / 2) ** 2
    along = (x >= cx - half_len) & (x <= cx + half_len)
    cyl = disc & along
    core = disc & (x >= cx - half_len + cyl_d // 2 + 1) & (x <= cx + half_len - cyl_d // 2 - 1)
    shapes["cylinder"] = dict(mask=cyl, cls=0, diameter=cyl_d, core=core)
    # a slab across the grain boundary (z = cz - t//2 .. cz + t//2)
    s0, s1 = cz - slab_t // 2, cz + slab_t // 2 + 1
    w = radius // 3
    lat_y = (y >= cy - w) & (y <= cy + w)
    lat_x = (x >= cx + 2) & (x <= cx + 2 + 2 * w)
    slab = (z >= s0) & (z < s1) & lat_y & lat_x
    m = slab_t // 2 + 1
    core = ((z >= s0) & (z < s1) & (y >= cy - w + m) & (y <= cy + w - m)
            & (x >= cx + 2 + m) & (x <= cx + 2 + 2 * w - m))
    shapes["slab"] = dict(mask=slab, cls=1, diameter=slab_t, core=core)
    # a straight 1x1 channel from the outside into grain 2 (open)
    chan = (z == cz + radius // 2) & (y == cy) & (x >= cx + radius - 6) & inside
    shapes["channel"] = dict(mask=chan, cls=2, diameter=1, core=chan)
    for s in shapes.values():
        s["mask"] = np.broadcast_to(s["mask"], (n, n, n)).copy()
        s["core"] = np.broadcast_to(s["core"], (n, n, n)).copy() & s["mask"]
        phase[s["mask"]] = ph.PORE
    return phase, grain, (c, c, c), shapes


def _shape_checks(ball_d, cyl_d, slab_t, radius, voxel_nm=10.0) -> tuple[dict, list]:
    # lazy: mcsim.pores brings Numba kernels; `mcsim validate --help` needs none
    from mcsim.pores import _TM_LUT, local_thickness, pore_statistics

    phase, grain, center, shapes = known_shapes(ball_d, cyl_d, slab_t, radius)
    s = pore_statistics(phase, grain, center, radius, voxel_nm)
    p = s["pores"]
    errors = {"volume": 0, "diameter": 0.0, "class": 0, "thickness": 0, "centroid": 0.0}
    lines = []
    inside_pore = phase == 0
    z, y, x = np.ogrid[tuple(slice(0, n) for n in phase.shape)]
    inside = (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2 <= radius ** 2
    lt = local_thickness(np.pad(inside_pore & inside, 1))[1:-1, 1:-1, 1:-1]
    for name, sh in shapes.items():
        mask = sh["mask"] & inside
        v = int(mask.sum())
        hits = np.flatnonzero(p["volume_voxels"] == v)
        idx = [i for i in hits
               if np.allclose(p["centroid_vox"][i], np.argwhere(mask).mean(axis=0), atol=1e-9)]
        if len(idx) != 1:
            errors["volume"] += 1
            lines.append(f"{name}: no pore of {v} voxels at its centroid")
            continue
        i = idx[0]
        d_exact = (6.0 * v * voxel_nm ** 3 / math.pi) ** (1.0 / 3.0)
        errors["diameter"] = max(errors["diameter"],
                                 abs(p["equivalent_diameter_nm"][i] - d_exact) / d_exact)
        errors["class"] += int(p["pore_class"][i] != sh["cls"])
        if sh["cls"] != 2:  # the open channel's thickness is not asked
            core = sh["core"] & inside
            errors["thickness"] += int(np.count_nonzero(lt[core] != sh["diameter"]))
            errors["thickness"] += int(np.count_nonzero(lt[mask] > sh["diameter"]))
        lines.append(f"{name}: {v} vox, d_eq {p['equivalent_diameter_nm'][i]:.2f} nm, class "
                     f"{int(p['pore_class'][i])} (want {sh['cls']})"
                     + (f", LT {sh['diameter']} on {int((sh['core'] & inside).sum())} core vox"
                        if sh["cls"] != 2 else ""))
    # the local-thickness histograms of pore_statistics against the per-voxel values
    grid_nm = s["local_thickness"]["edges_nm"]
    for cls_name, codes in (("nanopore", (0,)), ("void", (1, 2))):
        sel = np.zeros(phase.shape, bool)
        for sh in shapes.values():
            if sh["cls"] in codes:
                sel |= sh["mask"] & inside
        want = [int(np.count_nonzero(np.isclose(lt[sel] * voxel_nm, e))) for e in grid_nm[:-1]]
        errors["thickness"] += int(np.abs(np.subtract(
            want, s["local_thickness"][f"{cls_name}_voxels"])).sum())
    n_pore = int(np.count_nonzero(inside_pore & inside))
    particle = int(inside.sum())
    errors["porosity"] = abs(s["porosity"] - n_pore / particle)
    tm = _TM_LUT[phase] & (grain > 0)
    vols = [int(np.count_nonzero(tm & (grain == g))) for g in (1, 2)]
    g = s["grains"]
    errors["grains"] = int(s["grain_count"] != 2 or list(g["volume_voxels"]) != vols)
    errors["count"] = int(s["pore_count"] != len(shapes) or s["nanopore_count"] != 2
                          or s["void_count"] != 2)
    return errors, lines


@register(GROUP, "numerics")
def check_known_shapes(quick: bool) -> list[CheckResult]:
    """(a) Pore analysis of carved shapes of known size: exact."""
    sizes = [(7, 5, 3, 30)] if quick else [(7, 5, 3, 30), (13, 9, 5, 48)]
    out = []
    for ball_d, cyl_d, slab_t, radius in sizes:
        err, lines = _shape_checks(ball_d, cyl_d, slab_t, radius)
        tag = f"ball {ball_d}, cylinder {cyl_d}, slab {slab_t} vox in R = {radius}"
        detail = f"{tag}: " + "; ".join(lines)
        sfx = f"_r{radius}"
        out.append(_result(f"shapes_volume_class{sfx}", "carved voxels, expected classes",
                           err["volume"] + err["class"] + err["count"], "0 mismatches",
                           err["volume"] + err["class"] + err["count"] == 0, detail))
        out.append(_result(f"shapes_equivalent_diameter{sfx}", "(6V/pi)^(1/3)", err["diameter"],
                           "rel. error <= 1e-12", err["diameter"] <= 1e-12, tag))
        out.append(_result(f"shapes_local_thickness{sfx}", "shape diameter / thickness",
                           err["thickness"], "0 voxels off", err["thickness"] == 0,
                           f"{tag}: every ball voxel, every cylinder/slab voxel > d/2 from the "
                           "ends at the diameter, none above"))
        out.append(_result(f"shapes_porosity_grains{sfx}", "exact counts",
                           err["porosity"] + err["grains"], "0", err["porosity"] == 0
                           and err["grains"] == 0, tag))
    return out


# ==========================================================================================
# (b) R-NCM vs TS-NCM
# ==========================================================================================
def _quick_sets() -> list[str]:
    return [f"particle.radius_um={QUICK_RADIUS_UM}",
            "particle.grain_length_nm=100", "particle.grain_width_nm=60",
            "particle.grain_thickness_nm=30", "lithium.source_diameter_nm=80",
            "numerics.threads=1"]  # results do not depend on threads; one is fastest here


def _core_nanopore_voxels(path) -> int:
    import h5py

    # lazy: mcsim.diagnostics holds Numba kernels; `mcsim validate --help` needs none
    from mcsim.diagnostics import CORE_MAX

    with h5py.File(path, "r") as f:
        key = sorted(k for k in f["pores"] if k.isdigit())[-1]
        p = f["pores"][key]["pores"]
        sel = (p["pore_class"][()] == 0) & (p["centroid_r_over_r"][()] < CORE_MAX)
        return int(p["volume_voxels"][()][sel].sum())


def ordering_table(quick: bool, seeds=SEEDS, log=None) -> list[dict]:
    """Run R-NCM and TS-NCM for every seed; one row of final pore figures per seed."""
    # lazy: the engine and every Numba kernel; `mcsim validate --help` needs none
    from mcsim.compare import preset_configs, run_pair
    from mcsim.engine import Simulation

    sets = [*(_quick_sets() if quick else []), "output.snapshot_temperatures_c=[]",
            "output.timeseries_interval_s=600", *model_sets()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            cfgs = preset_configs(None, sets, seed)
            paths = run_pair(cfgs, Path(tmp) / f"seed{seed}", log=log or (lambda *_: None))
            row = {"seed": seed}
            for stem, path in paths.items():
                row[stem] = _row(path)
            if not quick:  # the hold-length control: TS-NCM with R-NCM's 12 h at 850 C
                cfg = preset_configs(None, [*sets, f"schedule.peak_hold_min={LONG_HOLD_MIN}"],
                                     seed)["ts-ncm"]
                path = Path(tmp) / f"seed{seed}" / "ts-ncm-12h.h5"
                Simulation(cfg, log=log or (lambda *_: None)).run(path, progress=False)
                row["ts-ncm-12h"] = _row(path)
            rows.append(row)
    return rows


def _row(path) -> dict:
    """The final figures of one run that the ordering checks read."""
    # lazy: mcsim.compare loads every Numba kernel; `mcsim validate --help` needs none
    from mcsim.compare import read_summary

    s = read_summary(path)
    row = {k: s[k] for k in ("nanopore_density_core_per_um3", "central_void_opened",
                             "central_pore_fraction", "porosity", "mass_porosity",
                             "nanopore_count", "final_layered")}
    row["nanopore_count_core"] = int(s.get("nanopore_count_core", -1))  # -1: schema < 3.1
    row["core_nanopore_voxels"] = _core_nanopore_voxels(path)
    row["final_disorder"] = _final_disorder(path)
    return row


_ROWS: dict = {}


def ordering_rows(quick: bool, seeds=None) -> list[dict]:
    """:func:`ordering_table`, made once per (mode, seeds) and kept for the other checks that
    read the same runs."""
    seeds = tuple(current_seeds() if seeds is None else seeds)
    key = (bool(quick), seeds, model_sets())
    if key not in _ROWS:
        _ROWS[key] = ordering_table(quick, seeds)
    return _ROWS[key]


def _final_disorder(path) -> float:
    import h5py

    with h5py.File(path, "r") as f:
        return float(f["timeseries"]["disorder_mean"][-1])


def _count_text(row: dict) -> str:
    """A run's core nanopore count for the tables, "?" where its file predates schema 3.1 (the
    count was not recorded; :func:`_row` stores -1)."""
    n = int(row.get("nanopore_count_core", -1))
    return "?" if n < 0 else str(n)


def format_ordering(rows: list[dict]) -> str:
    """The per-seed table as one line per seed (R-NCM / TS-NCM)."""
    parts = []
    for r in rows:
        a, b = r["r-ncm"], r["ts-ncm"]
        line = (f"seed {r['seed']}: core nanopores {a['nanopore_density_core_per_um3']:.0f}"
                f" / {b['nanopore_density_core_per_um3']:.0f} per um^3 "
                f"({_count_text(a)} / {_count_text(b)} "
                f"pores, {a['core_nanopore_voxels']} / {b['core_nanopore_voxels']} vox), "
                f"central void opened {a['central_void_opened']:.3f} / "
                f"{b['central_void_opened']:.3f}, porosity {a['porosity']:.3f} / "
                f"{b['porosity']:.3f}, by mass {a['mass_porosity']:.3f} / "
                f"{b['mass_porosity']:.3f}")
        if "ts-ncm-12h" in r:
            c = r["ts-ncm-12h"]
            line += f", TS-NCM 12 h: {c['porosity']:.3f} / by mass {c['mass_porosity']:.3f}"
        parts.append(line)
    return "R-NCM / TS-NCM: " + "; ".join(parts)


@register(GROUP, "prediction")
def check_rncm_vs_tsncm(quick: bool) -> list[CheckResult]:
    """(b) TS-NCM: hardly any core nanopores and a central void at most half R-NCM's, every
    seed."""
    return ordering_results(ordering_rows(quick), quick)


def _ts_over_r(ts: float, r: float) -> float:
    """TS/R of one figure: inf when R-NCM has none of it and TS-NCM has some, nan when
    neither has any (both fail every ordering: the finding needs R-NCM to show it)."""
    if r > 0.0:
        return ts / r
    return math.inf if ts > 0.0 else math.nan


def _ratio_result(name, rows, key, quick, limit, strict, why="", other="ts-ncm"):
    ratios = [_ts_over_r(r[other][key], r["r-ncm"][key]) for r in rows]
    ok = [(v < limit) if strict else (v <= limit) for v in ratios]
    detail = (format_ordering(rows) + (f" (quick: R = {QUICK_RADIUS_UM} um)" if quick
                                       else " (default particle)") + why)
    target = f"TS/R {'<' if strict else '<='} {limit:g} for every seed"
    reduced = (f"a {QUICK_RADIUS_UM} um particle with the default diffusivities, whose lithium "
               "fronts cross it sooner than the default particle's" if quick else "")
    return CheckResult(GROUP, name, target, float(np.mean(ratios)), "every seed", all(ok),
                       detail, kind="prediction", seeds=tuple(r["seed"] for r in rows),
                       per_seed=tuple(ratios), reduced=reduced)


#: Confidence level of the counting bounds that the checks on nanopore densities ask for.
COUNT_LEVEL = 0.95


def pooled_core_counts(rows: list[dict], a: str, b: str) -> tuple[int, int] | None:
    """Core nanopores of runs ``a`` and ``b`` summed over the seeds' rows, or None when a row
    lacks the count (a result file older than schema 3.1)."""
    na = [r[a].get("nanopore_count_core", -1) for r in rows]
    nb = [r[b].get("nanopore_count_core", -1) for r in rows]
    if min(na + nb, default=-1) < 0:
        return None
    return int(sum(na)), int(sum(nb))


def _fewer_core_nanopores(rows: list[dict], quick: bool) -> CheckResult:
    """TS/R of the core nanopore density at most :data:`MAX_NANOPORE_RATIO` on every seed, and
    the counts pooled over the seeds bound it there: the one-sided upper bound at
    :data:`COUNT_LEVEL` of the pooled ratio (:func:`~mcsim.validate.counting.
    rate_ratio_interval`; the cores of one generated particle, so equal volumes) must not
    exceed the limit either. A few dozen pores per core make a per-seed ratio mostly counting
    noise; without the counts (old files) the check cannot pass."""
    res = _ratio_result("tsncm_fewer_core_nanopores", rows, "nanopore_density_core_per_um3",
                        quick, MAX_NANOPORE_RATIO, False,
                        why="; no parameter was fitted to this ordering")
    pooled = pooled_core_counts(rows, "ts-ncm", "r-ncm")
    if pooled is None:
        note, bound = "; no core counts (result files before schema 3.1): no pass", math.inf
    else:
        n_ts, n_r = pooled
        _, bound = rate_ratio_interval(n_ts, n_r, level=COUNT_LEVEL, sided="upper")
        note = (f"; pooled over the seeds {n_ts} / {n_r} core nanopores (TS / R), TS/R at most "
                f"{bound:.2f} at {COUNT_LEVEL:.0%} confidence (counting error; the pass needs "
                f"<= {MAX_NANOPORE_RATIO:g} as well)")
    res.detail += note
    res.tolerance = f"every seed, and the pooled counts' {COUNT_LEVEL:.0%} upper bound"
    res.passed = bool(res.passed and bound <= MAX_NANOPORE_RATIO)
    return res


def ordering_results(rows: list[dict], quick: bool) -> list[CheckResult]:
    """The two verdicts of :func:`check_rncm_vs_tsncm` from the per-seed rows: the TS/R ratio of
    each figure per seed (simulated: their mean); pass when every seed's ratio is within the
    limit (:data:`MAX_NANOPORE_RATIO`, :data:`MAX_VOID_RATIO`) and, for the nanopores, when the
    pooled counts bound the ratio below the limit (:func:`_fewer_core_nanopores`)."""
    return [_fewer_core_nanopores(rows, quick),
            _ratio_result("tsncm_smaller_central_void", rows, "central_void_opened", quick,
                          MAX_VOID_RATIO, False,
                          why="; central void opened = growth of the voids >= 30 nm wide "
                              "within r < 0.3 R since generation; no parameter was fitted to "
                              "this ordering")]


@register(GROUP, "prediction")
def check_tsncm_denser(quick: bool) -> list[CheckResult]:
    """(b) TS-NCM is denser than R-NCM: lower porosity inside the particle by pore voxels and by
    mass, every seed (Fig. 4b, d: "more compact and dense secondary particles with less void
    space"); in full mode also with TS-NCM held 12 h at 850 C."""
    rows = ordering_rows(quick)
    why = "; no parameter was fitted to this ordering"
    out = [_ratio_result("tsncm_denser", rows, "porosity", quick, 1.0, True,
                         why="; porosity = pore voxels inside the particle's outline over its "
                             "voxels" + why),
           _ratio_result("tsncm_denser_by_mass", rows, "mass_porosity", quick, 1.0, True,
                         why="; mass porosity = 1 - solid volume from the voxel amounts" + why)]
    if all("ts-ncm-12h" in r for r in rows):
        out += [_ratio_result("tsncm_12h_hold_denser", rows, "porosity", quick, 1.0, True,
                              why="; TS-NCM held 12 h at 850 C like R-NCM" + why,
                              other="ts-ncm-12h"),
                _ratio_result("tsncm_12h_hold_denser_by_mass", rows, "mass_porosity", quick,
                              1.0, True, why="; TS-NCM held 12 h at 850 C like R-NCM" + why,
                              other="ts-ncm-12h")]
    return out


# ==========================================================================================
# (d) the voxel size: nanopores must not be an artefact of the lattice
# ==========================================================================================
#: Halving ``voxel_nm`` must change the core nanopore density and the nanopore mean diameter
#: by less than this (relative; the microstructure issue's criterion).
MAX_VOXEL_CHANGE = 0.3
#: The particle of the full-mode voxel check (R-NCM at 10 and 5 nm: 94^3 and 184^3 voxels).
VOXEL_RADIUS_UM = 0.3
VOXEL_SIZES_NM = (10.0, 5.0)


def voxel_table(quick: bool, seeds=SEEDS, log=None) -> list[dict]:
    """R-NCM on one particle at 10 nm and at 5 nm voxels, for every seed: one row per seed with
    the final core nanopore density, nanopore mean diameter and count at each voxel size."""
    # lazy: the engine and every Numba kernel; `mcsim validate --help` needs none
    from mcsim.compare import preset_configs, read_summary
    from mcsim.engine import Simulation

    sets = [*(_quick_sets() if quick else [f"particle.radius_um={VOXEL_RADIUS_UM}",
                                           "numerics.threads=1"]),
            "output.snapshot_temperatures_c=[]", "output.timeseries_interval_s=600",
            *model_sets()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            row = {"seed": seed}
            for dx in VOXEL_SIZES_NM:
                cfg = preset_configs(None, [*sets, f"particle.voxel_nm={dx}"], seed)["r-ncm"]
                path = Path(tmp) / f"seed{seed}-{dx:g}nm.h5"
                Simulation(cfg, log=log or (lambda *_: None)).run(path, progress=False)
                s = read_summary(path)
                row[dx] = {k: float(s[k]) for k in ("nanopore_density_core_per_um3",
                                                    "nanopore_mean_diameter_nm",
                                                    "nanopore_count", "nanopore_count_core")}
            rows.append(row)
    return rows


def _finite_mean(values) -> float:
    """Mean of the finite values (a run without nanopores has a NaN diameter); NaN if none."""
    v = [x for x in values if math.isfinite(x)]
    return sum(v) / len(v) if v else math.nan


#: Confidence level of the interval that must lie within 1 +- MAX_VOXEL_CHANGE for the density
#: to count as voxel-independent: a 90 % two-sided interval inside the band is the usual
#: equivalence test at 5 % (two one-sided tests, Schuirmann, J. Pharmacokinet. Biopharm. 15,
#: 657 (1987)).
VOXEL_EQUIVALENCE_LEVEL = 0.90


def voxel_results(rows: list[dict], quick: bool) -> list[CheckResult]:
    """The verdicts of :func:`check_voxel_size_nanopores`: the fine lattice's figure over the
    coarse one's, each summed (density) or averaged (diameter) over the seeds first, since a
    small particle holds only a few core nanopores per seed; pass when within
    1 +- :data:`MAX_VOXEL_CHANGE`. The density must also be shown to be there: the interval of
    the ratio that the pooled core counts support (:data:`VOXEL_EQUIVALENCE_LEVEL`, the same
    particle's core at both voxel sizes, so equal volumes) must lie inside the band. A handful
    of core nanopores per seed cannot show that, and the check then fails as inconclusive
    rather than passing on a ratio that counting noise put inside the band."""
    coarse, fine = VOXEL_SIZES_NM
    out = []
    where = (f"quick: the tiny particle, R = {QUICK_RADIUS_UM} um" if quick
             else f"R = {VOXEL_RADIUS_UM} um")

    def count(r, dx, key):
        return r[dx].get(key, math.nan)

    per_seed = "; ".join(
        f"seed {r['seed']}: core {r[coarse]['nanopore_density_core_per_um3']:.0f} / "
        f"{r[fine]['nanopore_density_core_per_um3']:.0f} per um^3 "
        f"({count(r, coarse, 'nanopore_count_core'):.0f} / "
        f"{count(r, fine, 'nanopore_count_core'):.0f} pores), diameter "
        f"{r[coarse]['nanopore_mean_diameter_nm']:.1f} / {r[fine]['nanopore_mean_diameter_nm']:.1f}"
        f" nm, whole particle {r[coarse]['nanopore_count']:.0f} / {r[fine]['nanopore_count']:.0f}"
        " nanopores"
        for r in rows)
    n_coarse = sum(count(r, coarse, "nanopore_count_core") for r in rows)
    n_fine = sum(count(r, fine, "nanopore_count_core") for r in rows)
    lo_band, hi_band = 1.0 - MAX_VOXEL_CHANGE, 1.0 + MAX_VOXEL_CHANGE
    if math.isfinite(n_coarse) and math.isfinite(n_fine):
        lo, hi = rate_ratio_interval(int(n_fine), int(n_coarse), level=VOXEL_EQUIVALENCE_LEVEL)
        shown = lo_band < lo and hi < hi_band
        interval = (f"; pooled core counts {n_coarse:.0f} / {n_fine:.0f}: the ratio lies in "
                    f"[{lo:.2f}, {hi:.2f}] at {VOXEL_EQUIVALENCE_LEVEL:.0%} confidence, "
                    + ("inside the band" if shown else
                       "not inside the band: the counts cannot show independence"))
    else:
        shown, interval = False, "; no core counts (result files before schema 3.1): no pass"
    whole_coarse = sum(r[coarse]["nanopore_count"] for r in rows)
    whole_fine = sum(r[fine]["nanopore_count"] for r in rows)
    whole = (f"; in the whole particle {whole_coarse:.0f} / {whole_fine:.0f} nanopores "
             f"({whole_fine / whole_coarse:.2f} times)" if whole_coarse > 0 else "")
    for name, key, pool in (("nanopores_voxel_core_density", "nanopore_density_core_per_um3",
                             np.sum),
                            ("nanopores_voxel_mean_diameter", "nanopore_mean_diameter_nm",
                             _finite_mean)):
        a = float(pool([r[coarse][key] for r in rows]))
        b = float(pool([r[fine][key] for r in rows]))
        ratio = b / a if a > 0.0 and math.isfinite(a) and math.isfinite(b) else float("nan")
        ok = math.isfinite(ratio) and abs(ratio - 1.0) < MAX_VOXEL_CHANGE
        tolerance = f"+-{MAX_VOXEL_CHANGE:g}"
        extra = ""
        if name == "nanopores_voxel_core_density":
            ok = ok and shown
            tolerance += f", {VOXEL_EQUIVALENCE_LEVEL:.0%} interval of the counts inside"
            extra = interval + whole
        seed_ratios = tuple(r[fine][key] / r[coarse][key] if r[coarse][key] > 0.0
                            else float("nan") for r in rows)
        detail = (f"R-NCM, {where}, {coarse:g} nm / {fine:g} nm voxels: {per_seed}. The "
                  "figure is the ratio of the seeds' pooled values, not the mean of the per-seed "
                  "ratios (few core nanopores per seed)" + extra + ". Sintering "
                  "rates scale with the voxel (grain growth, densification ^2, pore migration "
                  "^4), and the Potts J/kT of grain growth and pore migration with the voxel "
                  "(their *_j_voxel_exponent); nanopores are made per voxel pair in rock-salt "
                  "ripening, and on a finer lattice pores also shed pieces into the grains")
        out.append(CheckResult(
            GROUP, name, f"{fine:g} nm / {coarse:g} nm = 1", ratio,
            tolerance, ok, detail, kind="numerics",
            seeds=tuple(r["seed"] for r in rows), per_seed=seed_ratios,
            reduced=(f"a {QUICK_RADIUS_UM} um particle, with few nanopores" if quick else "")))
    return out


@register(GROUP, "numerics")
def check_voxel_size_nanopores(quick: bool) -> list[CheckResult]:
    """(d) Halving the voxel changes the core nanopore density and the nanopore mean diameter
    by less than 30 % (R-NCM on a 0.3 um particle, 10 nm against 5 nm, every seed pooled)."""
    return voxel_results(voxel_table(quick, tuple(current_seeds())), quick)


def grain_growth_curve(size: int, n_mcs: int, grain_vox: float = 2.5, seed: int = 5,
                       samples: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pure Potts grain growth (no pores, the sintering kernel's grain-growth MCS alone, at the
    model's J/kT) on a dense ``size``^3 Voronoi polycrystal: (MCS, mean grain volume in voxels,
    grain count)."""
    # lazy: the sintering Numba kernels; `mcsim validate --help` needs none
    from mcsim.processes import sintering as si

    state = State.from_arrays(np.full((size,) * 3, ph.LAYERED, np.uint8),
                              si.polycrystal((size,) * 3, grain_vox, seed=seed))
    table = si.grain_growth_accept_table(model_parameters()["grain_growth_j_over_kt"])
    every = max(1, n_mcs // samples)
    t, vol, count = [], [], []
    for m in range(n_mcs + 1):
        if m % every == 0 or m == n_mcs:
            _, counts = np.unique(state.interior("grain"), return_counts=True)
            t.append(m)
            vol.append(counts.mean())
            count.append(counts.size)
        if m < n_mcs:
            si.drive(state, si.grain_growth_mcs(state, table, 1, m))
    return np.array(t, float), np.array(vol), np.array(count)


#: The grain-growth voxel check: a Voronoi polycrystal (one seed per cube of 4 voxels of
#: 10 nm), 40^3 voxels of 10 nm, grown for 250 MCS at 10 nm, with and without 12 % fixed
#: pores (cubes of 20 nm, each whole 20 nm cell of the box a pore with probability 0.12); the
#: same physical structure at 5 nm (80^3, pores 4 voxels across) for the MCS the model's
#: voxel scaling gives. Quick mode: 20^3 and 100 MCS at 10 nm.
PINNED_FRACTION = 0.12
PINNED_GRAIN_NM, PINNED_PORE_NM = 40.0, 20.0


def pinned_growth(scale: int, fraction: float, size0: int = 40, mcs0: int = 250,
                  seed: int = 3) -> dict:
    """Potts grain growth (the sintering kernel's grain-growth MCS at the model's J/kT for the
    voxel, :func:`~mcsim.processes.sintering.lattice_j_over_kt`) on a polycrystal with fixed
    pores, at voxel 10 nm / ``scale``: one seed per cube of PINNED_GRAIN_NM, a pore cube of
    PINNED_PORE_NM in each cell of that size with probability ``fraction`` (the same cells, so
    the same physical pores, at every scale), ``mcs0`` MCS at 10 nm times the model's voxel
    factor ((10 nm / voxel)^``grain_growth_voxel_exponent``). Returns the grain count and the
    mean grain volume in (10 nm)^3 at the start and the end."""
    # lazy: the sintering Numba kernels; `mcsim validate --help` needs none
    from mcsim import rng
    from mcsim.processes import sintering as si
    from mcsim.processes.restructure import voxel_rate_factor

    voxel_nm = 10.0 / scale
    size = size0 * scale
    grain = si.polycrystal((size,) * 3, PINNED_GRAIN_NM / voxel_nm, seed=seed)
    phase = np.full((size,) * 3, ph.LAYERED, np.uint8)
    side0 = int(round(PINNED_PORE_NM / 10.0))
    cells = size0 // side0
    u = rng.uniform_array(seed, rng.STREAM_SINTER, np.arange(cells ** 3, dtype=np.int64), 77)
    pores = np.kron((u < fraction).reshape((cells,) * 3),
                    np.ones((side0 * scale,) * 3, dtype=bool))
    phase[pores] = ph.PORE
    grain[pores] = -1
    state = State.from_arrays(phase, grain, voxel_nm=voxel_nm)
    pr = model_parameters()
    n_mcs = int(round(mcs0 * voxel_rate_factor(voxel_nm, pr["grain_growth_voxel_exponent"])))
    table = si.grain_growth_accept_table(si.lattice_j_over_kt(pr, voxel_nm))

    def measure():
        g = state.interior("grain")
        _, counts = np.unique(g[g > 0], return_counts=True)
        return counts.size, float(counts.mean()) / scale ** 3

    n0, v0 = measure()
    for m in range(n_mcs):
        si.drive(state, si.grain_growth_mcs(state, table, 1, m))
    n1, v1 = measure()
    return {"voxel_nm": voxel_nm, "mcs": n_mcs, "pore_fraction": float(pores.mean()),
            "j_over_kt": si.lattice_j_over_kt(pr, voxel_nm), "grains": (n0, n1),
            "volume": (v0, v1)}


def grain_growth_voxel_results(runs: dict, quick: bool) -> list[CheckResult]:
    """The verdicts of :func:`check_grain_growth_voxel` from ``runs[(fraction, scale)]``
    (:func:`pinned_growth`): the final mean grain volume of the 5 nm lattice over the 10 nm
    one's, within 1 +- :data:`MAX_VOXEL_CHANGE`, without and with the fixed pores."""
    def d(v):  # equivalent diameter (nm) of a volume in (10 nm)^3
        return 10.0 * (6.0 * v / math.pi) ** (1.0 / 3.0)

    out = []
    for name, fraction in (("grain_growth_voxel_dense", 0.0),
                           ("grain_growth_voxel_pinned", PINNED_FRACTION)):
        a, b = runs[(fraction, 1)], runs[(fraction, 2)]
        ratio = b["volume"][1] / a["volume"][1]
        detail = (f"Potts growth of a Voronoi polycrystal of {PINNED_GRAIN_NM:g} nm "
                  f"cells, {fraction:.0%} of the box in fixed {PINNED_PORE_NM:g} nm pores "
                  f"(drawn {a['pore_fraction']:.3f}): 10 nm lattice J/kT = "
                  f"{a['j_over_kt']:g}, {a['mcs']} MCS, grains "
                  f"{a['grains'][0]} -> {a['grains'][1]}, mean equivalent diameter "
                  f"{d(a['volume'][0]):.1f} -> {d(a['volume'][1]):.1f} nm; 5 nm lattice "
                  f"J/kT = {b['j_over_kt']:g}, {b['mcs']} MCS (the model's voxel scalings), "
                  f"grains {b['grains'][0]} -> "
                  f"{b['grains'][1]}, {d(b['volume'][0]):.1f} -> {d(b['volume'][1]):.1f} nm. "
                  "The figure is the ratio of the final mean grain volumes, 5 nm over 10 nm")
        out.append(CheckResult(
            GROUP, name, "5 nm / 10 nm = 1", ratio, f"+-{MAX_VOXEL_CHANGE:g}",
            abs(ratio - 1.0) < MAX_VOXEL_CHANGE, detail, kind="numerics",
            reduced=("a 20^3 box, 100 MCS at 10 nm" if quick else "")))
    return out


@register(GROUP, "numerics")
def check_grain_growth_voxel(quick: bool) -> list[CheckResult]:
    """(e) Halving the voxel changes the grain growth of a polycrystal by less than 30 %
    (final mean grain volume), in a dense one and among fixed pores: whether the voxel
    scaling of the grain-growth rate holds where pores pin the boundaries."""
    size0, mcs0 = (20, 100) if quick else (40, 250)
    runs = {(f, k): pinned_growth(k, f, size0, mcs0)
            for f in (0.0, PINNED_FRACTION) for k in (1, 2)}
    return grain_growth_voxel_results(runs, quick)


@register(GROUP, "numerics")
def check_parabolic_grain_growth(quick: bool) -> list[CheckResult]:
    """(c) Pure grain growth follows the parabolic law: after a transient the mean grain
    "area" <V>^(2/3) grows linearly in MCS, i.e. the grain size as t^(1/2)."""
    size, n_mcs = (64, 200) if quick else (128, 400)
    t, vol, count = grain_growth_curve(size, n_mcs)
    late = t >= 0.3 * t[-1]  # after the transient
    area = vol[late] ** (2.0 / 3.0)
    slope, icpt = np.polyfit(t[late], area, 1)
    resid = area - (slope * t[late] + icpt)
    r2 = 1.0 - (resid ** 2).sum() / ((area - area.mean()) ** 2).sum()
    exponent = np.polyfit(np.log(t[late]), np.log(vol[late] ** (1.0 / 3.0)), 1)[0]
    j_over_kt = model_parameters()["grain_growth_j_over_kt"]
    detail = (f"{size}^3 polycrystal of 2.5-voxel grains, J/kT = {j_over_kt:g}, {n_mcs} MCS: "
              f"grains {count[0]} -> {count[-1]}, mean volume {vol[0]:.1f} -> {vol[-1]:.1f} "
              "voxels; "
              f"fit over MCS >= {0.3 * t[-1]:.0f}: <V>^(2/3) = {slope:.3g} t + {icpt:.3g}, "
              f"R^2 {r2:.4f}; size exponent {exponent:.3f}. Tolerance: the exponent of 3-D Potts "
              "growth approaches 1/2 from below as the transient fades (0.40 after 100 MCS on "
              "48^3); +-0.1 covers that and the finite grain count")
    return [
        _result("grain_growth_parabolic_r2", "<V>^(2/3) linear in t", r2, "R^2 >= 0.99",
                r2 >= 0.99, detail),
        _result("grain_growth_exponent", "0.5", exponent, "+-0.1", abs(exponent - 0.5) <= 0.1,
                detail),
    ]
