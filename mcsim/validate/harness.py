"""A small validation framework: registered checks, a results table, JSON output and the CLI.

A *check function* takes ``quick`` (bool: the quick variant, see below) and returns a list of
:class:`CheckResult`. Functions are registered under a group name with :func:`register`;
:func:`run_checks` calls them, turning an exception into a failed result instead of letting it
stop the run. :func:`main` is the body of ``mcsim validate``.

Every result says what kind of evidence it is (:data:`KINDS`): ``numerics`` (an analytic limit
of a kernel), ``calibrated`` (a model parameter was fitted to this very target; the result
names the parameters in ``calibrated_by``), ``cross-check`` (a paper observation not used in
fitting) or ``prediction`` (a consequence of the mechanisms and standard data such as
enthalpies, with no fit aimed at it: orderings between schedules, the sign of a heat). The
parameter names of a calibrated check are not kept here: :func:`calibrated_parameters` reads
them from the ``"calibrated: ..."`` source strings of :mod:`mcsim.params`, so the two cannot
drift apart.

Checks that run the simulator repeat over the seeds of :func:`current_seeds` (``--seeds``,
default 1, 2, 3; quick mode: the first only) and report the mean as ``simulated`` with the
per-seed values in ``per_seed``; the verdict is taken on the mean.

Quick mode (``quick=True``, ``mcsim validate --quick``) is meant to be the same test on less
work: one seed, and for the calcination checks the default particle with each schedule cut
after the last temperature a check reads (:mod:`mcsim.validate.paper`). A quick result whose
criterion or case is *not* the full check's (a smaller particle whose physics differs, fewer
points of a series) says so in ``reduced``: the table prints it as ``PASS (reduced)`` /
``FAIL (reduced)`` with the reason on a detail line, the JSON carries it, and the summary line
counts such rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

from mcsim import params

__all__ = ["KINDS", "CheckResult", "register", "registered", "run_checks", "format_table",
           "to_json", "from_json", "main", "calibrated_parameters", "current_seeds", "model_sets",
           "use_model_sets",
           "DEFAULT_SEEDS"]

#: The kinds of evidence a check can be, with what each means.
KINDS = {
    "numerics": "analytic limit of a kernel: exact or convergent reference, no paper number",
    "calibrated": "a model parameter was fitted to this target (named in calibrated_by)",
    "cross-check": "a paper observation that no parameter was fitted to",
    "prediction": "follows from the mechanisms and standard data, no fit aimed at it",
}

#: Seeds the simulator checks run over unless ``--seeds`` says otherwise.
DEFAULT_SEEDS = (1, 2, 3)
_SEEDS: tuple[int, ...] = DEFAULT_SEEDS


def current_seeds() -> tuple[int, ...]:
    """The seeds of the running validation (``--seeds``; :data:`DEFAULT_SEEDS` otherwise)."""
    return _SEEDS


#: ``--set`` overrides of the model (``model.*`` keys only) applied to every simulator run of
#: the validation, last; empty for the model as shipped.
_MODEL_SETS: tuple[str, ...] = ()


def model_sets() -> tuple[str, ...]:
    """The ``model.*`` overrides of the running validation (``--set``; none by default)."""
    return _MODEL_SETS


def use_model_sets(sets) -> tuple[str, ...]:
    """Validate a changed model: ``sets`` (``model.KEY=VALUE``) are applied to every run of
    the checks that run the simulator. Raises ValueError for a key outside ``model.`` (the
    checks set the particle, the schedule and the output themselves) and
    :class:`mcsim.errors.ConfigError` for a bad key or value, before any run."""
    global _MODEL_SETS
    sets = tuple(str(v) for v in (sets or ()))
    for item in sets:
        key = item.split("=", 1)[0].strip()
        if not key.startswith("model.") or "=" not in item:
            raise ValueError(f"--set {item!r}: only model.KEY=VALUE (model.processes.*, "
                             f"model.overrides.*, model.parameter_set) may be changed for a "
                             f"validation; the checks choose the particle, schedule and output")
    if sets:
        from mcsim import config  # lazy: loads the kernels' modules
        config.load(sets=list(sets))
    _MODEL_SETS = sets
    return _MODEL_SETS


def calibrated_parameters(*references: str, parameter_set: str = "ncm622-lioh") -> tuple[str, ...]:
    """Names of the parameters of ``parameter_set`` calibrated to a target citing ``references``.

    A parameter counts when its source string (:mod:`mcsim.params`) starts with
    ``"calibrated"`` and contains one of ``references`` verbatim (e.g. ``"Fig. 2j"``), so a
    check's list follows the parameter table instead of a copy kept by hand.

    Parameters
    ----------
    *references : str
        Texts naming the target, as the source strings cite it.
    parameter_set : str
        The set to read (``"ncm622-li2co3"`` for the Li2CO3 route).

    Returns
    -------
    tuple of str
        In the order of the parameter table; empty when none matches.
    """
    table = params.PARAMETER_SETS[parameter_set]
    return tuple(k for k, p in table.items()
                 if p.source.lower().startswith("calibrated")
                 and any(ref in p.source for ref in references))


@dataclass
class CheckResult:
    """The outcome of one validation check.

    Attributes
    ----------
    group : str
        The family of checks it belongs to (e.g. ``"analytic"``).
    name : str
        A short unique name within the group.
    target : str or float
        What the simulation is compared with (a number or a description).
    simulated : float
        The simulated figure compared with ``target`` (``nan`` when the check crashed).
    tolerance : str
        The acceptance criterion in words, with its unit.
    passed : bool
        Whether the criterion is met.
    detail : str
        How the figure was obtained, errors at every resolution, justification of the tolerance.
    kind : str
        Keyword only, required: one of :data:`KINDS`.
    calibrated_by : tuple of str
        The parameters fitted to this target; required (non-empty) for ``kind="calibrated"``
        and empty for every other kind.
    seeds : tuple of int
        The seeds the figure was averaged over (empty for checks without random numbers).
    per_seed : tuple of float
        The figure for each seed, in the order of ``seeds``; ``simulated`` is their mean.
    reduced : str
        Empty when the result applies the full check's criterion to the full check's case
        (quick mode's single seed and cut schedules do not count: they change neither). Else,
        why it is a reduced criterion: what differs from the full check and why that is
        not the same physics (e.g. a particle smaller than the default).
    """

    group: str
    name: str
    target: str | float
    simulated: float
    tolerance: str
    passed: bool
    detail: str = ""
    kind: str = field(kw_only=True)
    calibrated_by: tuple[str, ...] = field(default=(), kw_only=True)
    seeds: tuple[int, ...] = field(default=(), kw_only=True)
    per_seed: tuple[float, ...] = field(default=(), kw_only=True)
    reduced: str = field(default="", kw_only=True)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"check {self.group}/{self.name}: kind {self.kind!r} is not one of "
                             f"{', '.join(KINDS)}")
        self.calibrated_by = tuple(str(p) for p in self.calibrated_by)
        if (self.kind == "calibrated") != bool(self.calibrated_by):
            raise ValueError(f"check {self.group}/{self.name}: a calibrated check names the "
                             "parameters fitted to it, and only a calibrated check does "
                             f"(kind {self.kind!r}, calibrated_by {self.calibrated_by})")
        self.seeds = tuple(int(s) for s in self.seeds)
        self.per_seed = tuple(float(v) for v in self.per_seed)
        if len(self.per_seed) != len(self.seeds):
            raise ValueError(f"check {self.group}/{self.name}: {len(self.per_seed)} per-seed "
                             f"values for {len(self.seeds)} seeds")
        if not isinstance(self.reduced, str):
            raise ValueError(f"check {self.group}/{self.name}: reduced must be a string (why "
                             f"the criterion is reduced, or empty), got {self.reduced!r}")

    @property
    def spread(self) -> float:
        """Sample standard deviation of ``per_seed`` (nan with fewer than two seeds)."""
        v = [x for x in self.per_seed]
        if len(v) < 2 or not all(math.isfinite(x) for x in v):
            return math.nan
        m = sum(v) / len(v)
        try:
            return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
        except OverflowError:  # finite values too far apart to square
            return math.inf


#: Registered check functions as (group, function), in registration order.
_REGISTRY: list[tuple[str, Callable[[bool], list[CheckResult]]]] = []
#: The kind (and calibrated parameters) of a registered function's crash row.
_KIND_OF: dict = {}


def register(group: str, kind: str, calibrated_by: tuple[str, ...] = ()):
    """Decorator registering a check function ``fn(quick: bool) -> list[CheckResult]``.

    Parameters
    ----------
    group : str
        The group the function's results belong to; used by the ``only`` filter.
    kind, calibrated_by
        The kind of evidence (:data:`KINDS`) the row gets when the function raises instead
        of returning results (its results carry their own kinds).

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.
    """
    # fail at import, not at the first crash
    CheckResult(group, "registration", "", math.nan, "", False, kind=kind,
                calibrated_by=calibrated_by)

    def deco(fn):
        if not any(f is fn for _, f in _REGISTRY):
            _REGISTRY.append((group, fn))
            _KIND_OF[fn] = (kind, tuple(calibrated_by))
        return fn

    return deco


def registered() -> list[tuple[str, Callable]]:
    """A copy of the registry: (group, function) pairs in registration order."""
    return list(_REGISTRY)


def unregister(fn) -> None:
    """Remove ``fn`` from the registry (used by tests that register throw-away checks)."""
    _REGISTRY[:] = [(g, f) for g, f in _REGISTRY if f is not fn]
    _KIND_OF.pop(fn, None)


def _function_name(fn) -> str:
    name = getattr(fn, "__name__", repr(fn))
    return name[len("check_"):] if name.startswith("check_") else name


def run_checks(quick: bool = False, only: str | None = None, *, log=None,
               seeds=None) -> list[CheckResult]:
    """Run the registered checks and collect their results.

    Parameters
    ----------
    quick : bool
        Run the quick variant of every check: one seed, the calcination runs cut after the
        last temperature read, smaller lattices for the numerics (see the module docstring;
        a result that is not the full criterion says so in ``reduced``).
    only : str, optional
        Run only the check functions whose group or function name contains this text
        (case-insensitive); results are also filtered on their group/name.
    log : callable, optional
        Called with one progress line per check function (e.g. ``print``).
    seeds : sequence of int, optional
        Seeds of the simulator checks (:func:`current_seeds`); :data:`DEFAULT_SEEDS` when None.

    Returns
    -------
    list of CheckResult
        A check function that raises contributes one failed result carrying the error.
    """
    global _SEEDS
    previous = _SEEDS
    _SEEDS = tuple(int(s) for s in seeds) if seeds else DEFAULT_SEEDS
    try:
        return _run_checks(quick, only, log)
    finally:
        _SEEDS = previous


def _run_checks(quick, only, log) -> list[CheckResult]:
    needle = (only or "").lower()
    out: list[CheckResult] = []
    for group, fn in registered():
        fname = _function_name(fn)
        label = f"{group}/{fname}"
        if needle and needle not in label.lower():
            continue
        t0 = time.perf_counter()
        try:
            results = list(fn(quick))
        except Exception as exc:  # noqa: BLE001 - any failure of a check is a FAIL, not a crash
            tb = traceback.format_exc(limit=3).strip().splitlines()
            kind, calibrated_by = _KIND_OF[fn]
            results = [CheckResult(group, fname, "check runs to completion", math.nan,
                                   "no exception", False,
                                   f"raised {type(exc).__name__}: {exc} | {' / '.join(tb[-3:])}",
                                   kind=kind, calibrated_by=calibrated_by)]
        wall_s = time.perf_counter() - t0
        if log is not None:
            verdicts = "".join("." if r.passed else "F" for r in results)
            log(f"[validate] {label}: {verdicts} ({wall_s:.1f} s)")
        out.extend(results)
    return out


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "nan"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


def _spread_cell(r: CheckResult) -> str:
    n = len(r.per_seed)
    if n == 0:
        return ""
    if n == 1:
        return "1 seed"
    sd = r.spread
    return f"sd {_fmt(sd)}, n={n}" if math.isfinite(sd) else f"n={n}, not all finite"


def summary_line(results: list[CheckResult]) -> str:
    """``"N passed, M failed"``, followed by the failures counted by kind when there are any,
    and by the number of reduced criteria (:attr:`CheckResult.reduced`) when there are any."""
    n_pass = sum(1 for r in results if r.passed)
    line = f"{n_pass} passed, {len(results) - n_pass} failed"
    by_kind = failed_by_kind(results)
    if by_kind:
        line += " (failed: " + ", ".join(f"{n} {k}" for k, n in by_kind.items()) + ")"
    n_reduced = sum(1 for r in results if r.reduced)
    if n_reduced:
        line += (f"; {n_reduced} of them reduced criteria, not the full checks "
                 "(see their 'reduced' lines)")
    return line


def _verdict(r: CheckResult) -> str:
    return ("PASS" if r.passed else "FAIL") + (" (reduced)" if r.reduced else "")


def failed_by_kind(results: list[CheckResult]) -> dict[str, int]:
    """Failed checks per kind, in the order of :data:`KINDS` (kinds without failures left out)."""
    counts = {k: sum(1 for r in results if not r.passed and r.kind == k) for k in KINDS}
    return {k: n for k, n in counts.items() if n}


def format_table(results: list[CheckResult], *, details: bool = True) -> str:
    """A plain-text table of ``results`` with a summary line.

    Parameters
    ----------
    results : list of CheckResult
    details : bool
        Also print each check's detail text, its calibrated parameters and its per-seed
        values, indented under its row.

    Returns
    -------
    str
        Columns check (``group/name``), kind, target, simulated (the mean over seeds),
        spread (standard deviation over seeds and their number), tolerance, verdict
        (PASS/FAIL, followed by "(reduced)" for a reduced criterion), then the summary line
        of :func:`summary_line`. With ``details`` a reduced row also gets a line saying why.
    """
    head = ("check", "kind", "target", "simulated", "spread", "tolerance", "verdict")
    rows = [(f"{r.group}/{r.name}", r.kind, _fmt(r.target), _fmt(r.simulated), _spread_cell(r),
             r.tolerance, _verdict(r)) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    widths[2] = min(widths[2], 36)
    widths[5] = min(widths[5], 36)

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    for r, row in zip(results, rows):
        out.append(line(row))
        if details:
            if r.reduced:
                out.append("      reduced: " + r.reduced)
            if r.calibrated_by:
                out.append("      calibrated: " + ", ".join(r.calibrated_by))
            if len(r.per_seed) > 1:
                out.append("      per seed: " + ", ".join(
                    f"{s}: {_fmt(v)}" for s, v in zip(r.seeds, r.per_seed)))
            if r.detail:
                out.append("      " + r.detail)
    out.append(summary_line(results))
    return "\n".join(out)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_json(results: list[CheckResult], model=()) -> str:
    """The results as a JSON document.

    ``{"results": [...], "passed": n, "failed": m, "failed_by_kind": {kind: count},
    "model_sets": [...]}`` (``model``: the ``--set`` overrides of the model, if any); each
    result holds the fields of :class:`CheckResult` (``kind``, ``calibrated_by``, ``seeds``,
    ``per_seed``, ``reduced`` included) and ``spread`` (sample standard deviation over seeds,
    null with fewer than two). Non-finite numbers are written as ``null`` (nan) or the strings
    ``"inf"``/``"-inf"``.
    """
    rows = []
    for r in results:
        d = asdict(r)
        d["target"] = _json_safe(d["target"] if isinstance(d["target"], str) else float(d["target"]))
        d["simulated"] = _json_safe(float(d["simulated"]))
        d["passed"] = bool(d["passed"])
        d["calibrated_by"] = list(r.calibrated_by)
        d["seeds"] = list(r.seeds)
        d["per_seed"] = [_json_safe(v) for v in r.per_seed]
        d["spread"] = _json_safe(r.spread)
        rows.append(d)
    n_pass = sum(1 for r in rows if r["passed"])
    return json.dumps({"results": rows, "passed": n_pass, "failed": len(rows) - n_pass,
                       "failed_by_kind": failed_by_kind(results),
                       "model_sets": list(model)}, indent=2)


def from_json(text: str) -> list[CheckResult]:
    """Read back what :func:`to_json` wrote (``null`` becomes nan; a file written before
    ``reduced`` existed reads as full criteria)."""

    def num(v):
        if v is None:
            return math.nan
        if v in ("inf", "-inf"):
            return float(v)
        return v

    out = []
    for d in json.loads(text)["results"]:
        d = dict(d)
        d.pop("spread", None)  # derived from per_seed
        d["simulated"] = num(d["simulated"])
        if not isinstance(d["target"], str) or d["target"] in ("inf", "-inf"):
            d["target"] = num(d["target"])
        d["per_seed"] = tuple(num(v) for v in d.get("per_seed", ()))
        out.append(CheckResult(**d))
    return out


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds wants integers separated by commas, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(
            f"--seeds wants distinct non-negative integers, got {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mcsim validate``."""
    p = argparse.ArgumentParser(
        prog="mcsim validate",
        description="Run the validation checks (analytic limits of the kernels, paper targets) "
                    "and print a table; exit status 1 when any check fails.")
    p.add_argument("--quick", action="store_true",
                   help="the same checks on less work: one seed, the calcination checks on the "
                        "default particle with each schedule cut after the last temperature "
                        "read, smaller lattices for the numerics; a row whose criterion is not "
                        "the full one says '(reduced)' and why (the test suite runs parts)")
    p.add_argument("--only", metavar="TEXT", default=None,
                   help="run only checks whose group/name contains TEXT")
    p.add_argument("--seeds", metavar="LIST", type=_parse_seeds, default=DEFAULT_SEEDS,
                   help="seeds of the checks that run the simulator, averaged (default 1,2,3; "
                        "--quick uses the first only)")
    p.add_argument("--list", action="store_true",
                   help="list the checks (group/name, as --only matches them) and run nothing")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    p.add_argument("--no-details", action="store_true", help="table rows only, no detail lines")
    p.add_argument("--set", metavar="model.KEY=VALUE", action="append", default=[],
                   dest="model_sets",
                   help="validate a changed model: apply this override (model.* keys only: "
                        "model.processes.*, model.overrides.*, model.parameter_set; value read "
                        "as TOML) to every run of the checks that run the simulator; repeat "
                        "for several")
    return p


def main(argv=None) -> int:
    """Entry point of ``mcsim validate``: run, print the table, write JSON, return the status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``validate`` (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        0 when every check passed (or with ``--list``), 1 otherwise, 2 for bad arguments
        (``--only`` matching no check, a bad ``--set``).
    """
    # No import of mcsim.validate here (it imports this module: a circle): Python ran the
    # package's __init__, which registers every check module, before it loaded this one.
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from mcsim.errors import ConfigError
    try:
        model = use_model_sets(args.model_sets)
    except (ValueError, ConfigError) as exc:
        print(f"mcsim validate: {exc}", file=sys.stderr)
        return 2
    needle = (args.only or "").lower()
    chosen = [(label, fn) for label, fn in ((f"{g}/{_function_name(f)}", f)
                                            for g, f in registered())
              if needle in label.lower()]
    if args.list:
        for label, fn in chosen:
            print(f"{label}  ({_KIND_OF[fn][0]})")
        return 0
    if not chosen:  # before any work: a typo should not look like a failed validation
        print(f"mcsim validate: --only {args.only!r} matches no check; mcsim validate --list "
              "shows their names", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results = run_checks(quick=args.quick, only=args.only, seeds=args.seeds,
                         log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_table(results, details=not args.no_details))
    seeds = ",".join(str(s) for s in (args.seeds[:1] if args.quick else args.seeds))
    print(f"validation wall time {time.perf_counter() - t0:.1f} s"
          f" ({'quick' if args.quick else 'full'} mode, calcination checks over seeds {seeds}"
          + ("; quick: one seed, schedules cut after the last temperature read" if args.quick
             else "")
          + (f"; model changed: {', '.join(model)}" if model else "") + ")")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(to_json(results, model))
    if not results:
        print(f"no check matches --only {args.only!r}", file=sys.stderr)
        return 1
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
