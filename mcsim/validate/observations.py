"""Observations of the paper the model must also show (Park et al., Nat. Chem. 2022), as checks.

They read the runs :mod:`mcsim.validate.paper` makes (cached there, so nothing is run twice
in one validation) and the final R-NCM products of :mod:`mcsim.validate.microstructure`. In
quick mode they read paper's quick runs (the default particle, one seed, the ramp cut at
300 C: the DTA and TEM checks read nothing above 300 C; the pristine hydroxide on a smaller
particle, which without lithium changes nothing), so their criteria are the full ones, except
``disorder_final_rncm``, whose quick R-NCM product is the microstructure quick mode's small
particle: a reduced criterion, and the table says so.

``disorder_peak_300C`` (Fig. 1b, bottom; kind ``calibrated``: the disorder parameters cite
    it)
    On the quasi-equilibrium XRD steps (5 C/min to each step, 5 min relax, read at the end
    of the relax) the mean Li/Ni disorder of the layered oxide peaks near 300 C. The peak
    temperature is the step of largest disorder or, when several steps lie within 5 % of that
    maximum (a plateau), the mean of their temperatures. Target 300 C +-25 C (one step).
``disorder_falls_above_peak`` (Fig. 1b; ``calibrated``)
    It then falls with heating: the disorder at the last step (600 C) over its maximum, below
    0.8, and no step after the peak above the step before it by more than 0.001.
``disorder_final_rncm`` (``cross-check``)
    The final R-NCM product keeps a few per cent Li/Ni mixing, as well-made NCM622 does
    (about 2-5 %; the paper refines its products with a Li/Ni intermixing model and finds
    them structurally alike, Methods and Supplementary Tables 1-2). Target 0.02-0.05, the
    mean over seeds of ``disorder_mean`` at the end of R-NCM.
``dta_exotherm_200C`` (Fig. 1l bottom, arrow; ``cross-check``)
    On the 5 C/min ramp with LiOH, the simulated DTA (exo up) has its largest exothermic
    value between 150 and 300 C (before the main dehydration, which the paper's hydroxide
    alone shows at 220-350 C) at 200 +-20 C. The sign of the lithiation enthalpy was
    estimated from this observation (not fitted), so the check tests that lithiation's heat
    comes where the paper puts it and is not outweighed by the dehydration there.
``dta_pristine_sign`` (Fig. 1l top; ``prediction``)
    Pristine TM(OH)2 in flowing O2: the paper calls its 220-350 C event exothermic (the
    oxidation of Co and Mn as the hydroxide decomposes in oxygen outweighs the endothermic
    water loss). The simulated DTA integrated over 200-360 C must be positive (J/g).
``tem_shell_gain_300C`` / ``tem_core_loss_300C`` / ``tem_divergence_onset`` (Fig. 2e-f;
    ``cross-check``)
    The simulated TEM mass-thickness (projected mass of the TM phases through a central slab,
    time series ``tem_shell``/``tem_core``) relative to its value at 170 C: at 300 C the
    shell has gained (> 0) and the core lost (< 0), and the two part ways from about 240 C:
    the first temperature from which shell > 0 and core < 0 hold at every row up to 300 C
    is 240 +-20 C. The paper's particle was a lamella in 1:10 LiOH at 6 C/min; the check uses
    the 5 C/min ramp of the other checks.

Every check computes the simulated figure for each seed and fails when the model misses the
observation; ``mcsim validate`` exits 1 while any does.
"""

from __future__ import annotations

import numpy as np

from mcsim.validate import microstructure as ms
from mcsim.validate import paper
from mcsim.validate.harness import CheckResult, calibrated_parameters, current_seeds, register

GROUP = "observations"

DISORDER_FINAL_RANGE = (0.02, 0.05)


def _result(name, target, values, seeds, tolerance, passes, detail, *, kind, calibrated_by=(),
            reduced=""):
    return paper.seeded(GROUP, name, target, values, seeds, tolerance, passes, detail, kind=kind,
                        calibrated_by=calibrated_by, reduced=reduced)


# ------------------------------------------------------------------------------ disorder
def disorder_steps(ts: dict) -> tuple[np.ndarray, np.ndarray]:
    """(step temperature, disorder at the end of its relax) on a quasi-equilibrium run."""
    temp = ts["temperature_c"]
    heat = paper.heating(ts)
    steps, values = [], []
    for t in paper.QE_STEPS_C:
        rows = np.nonzero(heat & (temp <= t + 1e-6))[0]
        if len(rows) and abs(temp[rows[-1]] - t) < 1e-6:
            steps.append(float(t))
            values.append(float(ts["disorder_mean"][rows[-1]]))
    return np.array(steps), np.array(values)


def disorder_peak(steps, values, plateau: float = 0.05) -> float:
    """Peak temperature: the mean temperature of the steps within ``plateau`` (relative) of the
    maximum disorder (just the step of the maximum when it stands out); nan with no disorder."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or not np.isfinite(values).all() or values.max() <= 0:
        return float("nan")
    near = values >= (1.0 - plateau) * values.max()
    return float(np.mean(np.asarray(steps)[near]))


def disorder_fall(steps, values) -> tuple[float, bool]:
    """(disorder at the last step / maximum, whether no step after the peak rises by > 0.001)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or values.max() <= 0:
        return float("nan"), False
    k = int(np.argmax(values))
    after = values[k:]
    return float(values[-1] / values.max()), bool(np.all(np.diff(after) <= 1e-3))


@register(GROUP, "calibrated", calibrated_parameters("Fig. 1b"))
def check_disorder_ramp(quick: bool) -> list[CheckResult]:
    """Li/Ni disorder on the quasi-equilibrium steps: peaks near 300 C, then falls (Fig. 1b)."""
    seeds = paper.seeds_for(quick)
    fit = calibrated_parameters("Fig. 1b")
    peaks, falls, monotone, lines = [], [], [], []
    for s in seeds:
        steps, values = disorder_steps(paper.run(paper.QUASI_EQUILIBRIUM, s))
        peaks.append(disorder_peak(steps, values))
        ratio, mono = disorder_fall(steps, values)
        falls.append(ratio)
        monotone.append(mono)
        lines.append(f"seed {s}: " + ", ".join(f"{t:.0f} C {100 * v:.2f} %"
                                               for t, v in zip(steps, values)))
    detail = ("disorder per layered TM at the end of each relax: " + "; ".join(lines))
    return [_result("disorder_peak_300C", 300.0, peaks, seeds, "+-25 C (one XRD step)",
                    lambda v: abs(v - 300) <= 25,
                    "peak = mean T of the steps within 5 % of the largest disorder (a plateau "
                    "gives its middle); the paper's steps are 25-50 C apart, hence one step; "
                    f"{paper.spread_note(peaks, 25)}; " + detail,
                    kind="calibrated", calibrated_by=fit),
            _result("disorder_falls_above_peak", "last step / max < 0.8, no rise after peak",
                    falls, seeds, "< 0.8 and monotone", lambda v: v < 0.8 and all(monotone),
                    "'continuously decreases with heating' read as a fall by a fifth or more "
                    "up to 600 C with no step rising by more than 0.1 %; "
                    f"{paper.spread_note(falls, threshold=0.8)}", kind="calibrated",
                    calibrated_by=fit)]


@register(GROUP, "cross-check")
def check_disorder_final(quick: bool) -> list[CheckResult]:
    """The final R-NCM product keeps a few per cent of Li/Ni mixing."""
    rows = ms.ordering_rows(quick, current_seeds())
    seeds = [r["seed"] for r in rows]
    vals = [r["r-ncm"]["final_disorder"] for r in rows]
    ts_vals = [r["ts-ncm"]["final_disorder"] for r in rows]
    lo, hi = DISORDER_FINAL_RANGE
    return [_result("disorder_final_rncm", f"{lo:g}-{hi:g}", vals, seeds,
                    f"within {lo:g}-{hi:g}", lambda v: lo <= v <= hi,
                    "disorder_mean of the layered oxide at the end of R-NCM (TS-NCM: "
                    + ", ".join(f"{v:.4f}" for v in ts_vals) + "); well-made NCM622 keeps "
                    "about 2-5 % Li/Ni mixing; the model anneals disorder first order towards "
                    "zero with no equilibrium share, so it cannot keep any; "
                    f"{paper.spread_note(vals)}"
                    + (f" (quick: R = {ms.QUICK_RADIUS_UM} um)" if quick else ""),
                    kind="cross-check",
                    reduced=(f"R-NCM on the microstructure quick mode's {ms.QUICK_RADIUS_UM} um "
                             "particle with the default diffusivities: the lithium fronts cross "
                             "it sooner than the default 0.6 um particle, so its calcination, "
                             "and the disorder it leaves, is not the default particle's"
                             if quick else ""))]


# ------------------------------------------------------------------------------------- DTA
def dta_peak(ts: dict, lo: float = 150.0, hi: float = 300.0) -> tuple[float, float]:
    """(temperature, value in W/g) of the largest DTA value between ``lo`` and ``hi`` C on
    heating; the temperature is nan when that value is not exothermic (> 0)."""
    heat = paper.heating(ts)
    temp = ts["temperature_c"][heat]
    dta = ts["dta_w_per_g"][heat]
    sel = np.nonzero((temp >= lo) & (temp <= hi))[0]
    if len(sel) == 0:
        return float("nan"), float("nan")
    i = sel[int(np.argmax(dta[sel]))]
    # the DTA of a row is the heat rate over the interval ending at it: its mid temperature
    t_mid = 0.5 * (temp[i] + temp[i - 1]) if i > 0 else temp[i]
    return (float(t_mid) if dta[i] > 0 else float("nan")), float(dta[i])


def dta_integral(ts: dict, lo: float, hi: float) -> float:
    """Heat released between ``lo`` and ``hi`` C on heating, J per gram of initial sample
    (exothermic positive): the sum of DTA rate times row interval."""
    heat = paper.heating(ts)
    temp = ts["temperature_c"][heat]
    time = ts["time_s"][heat]
    dta = ts["dta_w_per_g"][heat]
    dt = np.diff(time, prepend=time[0])
    mid = temp - 0.5 * np.diff(temp, prepend=temp[0])
    sel = (mid >= lo) & (mid <= hi)
    return float(np.sum(dta[sel] * dt[sel]))


@register(GROUP, "cross-check")
def check_dta_lioh(quick: bool) -> list[CheckResult]:
    """The exotherm near 200 C of TM(OH)2 with LiOH (Fig. 1l bottom, arrow)."""
    seeds = paper.seeds_for(quick)
    temps, peaks = [], []
    for s in seeds:
        t, v = dta_peak(paper.ramp_run(quick, s))
        temps.append(t)
        peaks.append(v)
    return [_result("dta_exotherm_200C", 200.0, temps, seeds, "+-20 C, exothermic",
                    lambda v: abs(v - 200) <= 20,
                    "T of the largest DTA value (exo > 0) between 150 and 300 C on the 5 C/min "
                    "ramp with LiOH (nan: no exotherm there); its value per seed "
                    + ", ".join(f"{v:.3g}" for v in peaks) + " W/g; the arrow is read to "
                    "+-10 C and the 60 s rows are 5 C apart; lithiation_dh_j_per_mol's sign "
                    f"was estimated from this event; {paper.spread_note(temps, 20)} (Fig. 1l)",
                    kind="cross-check")]


@register(GROUP, "prediction")
def check_dta_pristine(quick: bool) -> list[CheckResult]:
    """The sign of the pristine hydroxide's event in flowing O2 (Fig. 1l top: exothermic)."""
    seeds = paper.seeds_for(quick)
    heats = [dta_integral(paper.pristine_run(quick, s), 200.0, 360.0) for s in seeds]
    return [_result("dta_pristine_sign", "> 0 J/g (exothermic)", heats, seeds, "> 0",
                    lambda v: v > 0,
                    "heat released by TM(OH)2 alone between 200 and 360 C on 5 C/min (J/g of "
                    "initial sample, exo > 0); the model books dehydration with the enthalpy "
                    "of Ni(OH)2 -> NiO + H2O(g) (endothermic) and has no oxidation of Co and "
                    "Mn in O2, which the paper's exothermic event needs; "
                    f"{paper.spread_note(heats, threshold=0.0)} (Fig. 1l top)", kind="prediction")]


# ------------------------------------------------------------------------------------- TEM
def tem_relative(ts: dict, ref_c: float = 170.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(temperature, shell change, core change) of the mass-thickness on heating, relative to
    the values at ``ref_c`` (as the paper's Fig. 2f: I / I_170 - 1)."""
    heat = paper.heating(ts)
    temp = ts["temperature_c"][heat]
    shell = ts["tem_shell"][heat]
    core = ts["tem_core"][heat]
    s0 = np.interp(ref_c, temp, shell)
    c0 = np.interp(ref_c, temp, core)
    return temp, shell / s0 - 1.0, core / c0 - 1.0


def tem_onset(temp, shell, core, ref_c: float = 170.0, until_c: float = 300.0) -> float:
    """First temperature above ``ref_c`` from which shell > 0 and core < 0 hold at every row
    up to ``until_c`` (nan if they do not hold at ``until_c``)."""
    sel = np.nonzero((temp > ref_c) & (temp <= until_c + 1e-6))[0]
    ok = (shell[sel] > 0) & (core[sel] < 0)
    if len(sel) == 0 or not ok[-1]:
        return float("nan")
    bad = np.nonzero(~ok)[0]
    first = sel[bad[-1] + 1] if len(bad) else sel[0]
    return float(temp[first])


@register(GROUP, "cross-check")
def check_tem_intensity(quick: bool) -> list[CheckResult]:
    """TEM negative intensity: the shell gains, the core loses, from ~240 C (Fig. 2e-f)."""
    seeds = paper.seeds_for(quick)
    gain, loss, onset, one_pct = [], [], [], []
    for s in seeds:
        ts = paper.ramp_run(quick, s)
        temp, shell, core = tem_relative(ts)
        gain.append(float(np.interp(300.0, temp, shell)))
        loss.append(float(np.interp(300.0, temp, core)))
        onset.append(tem_onset(temp, shell, core))
        after = temp > 170.0
        one_pct.append(f"{paper.first_crossing(temp[after], shell[after], 0.01):.0f} / "
                       f"{paper.first_crossing(temp[after], -core[after], 0.01):.0f} C")
    where = ("projected TM-phase mass through the central slab, shell pixels 0.7 <= rho/R < 1, "
             "core rho/R < 0.5, relative to 170 C, 5 C/min ramp with LiOH")
    return [_result("tem_shell_gain_300C", "> 0", gain, seeds, "> 0", lambda v: v > 0,
                    f"shell I/I170 - 1 at 300 C; {where}; "
                    f"{paper.spread_note(gain, threshold=0.0)} (Fig. 2f)",
                    kind="cross-check"),
            _result("tem_core_loss_300C", "< 0", loss, seeds, "< 0", lambda v: v < 0,
                    f"core I/I170 - 1 at 300 C; {where}; "
                    f"{paper.spread_note(loss, threshold=0.0)} (Fig. 2f)",
                    kind="cross-check"),
            _result("tem_divergence_onset", 240.0, onset, seeds, "+-20 C",
                    lambda v: abs(v - 240) <= 20,
                    "first T from which shell > 0 and core < 0 hold up to 300 C (nan: not "
                    "at 300 C); TEM frames every 10 C, the paper says 'from 240 C'; for "
                    "reference, shell +1 % / core -1 % first reached at " + ", ".join(one_pct)
                    + f" per seed; {paper.spread_note(onset, 20)} (Fig. 2e-f)",
                    kind="cross-check")]
