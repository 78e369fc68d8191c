"""A small validation framework: registered checks, a results table, JSON output and the CLI.

A *check function* takes ``quick`` (bool: the cheap variant for tests) and returns a list of
:class:`CheckResult`. Functions are registered under a group name with :func:`register`;
:func:`run_checks` calls them, turning an exception into a failed result instead of letting it
stop the run. :func:`main` is the body of ``mcsim validate``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Callable

__all__ = ["CheckResult", "register", "registered", "run_checks", "format_table", "to_json",
           "from_json", "main"]


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
    """

    group: str
    name: str
    target: str | float
    simulated: float
    tolerance: str
    passed: bool
    detail: str = ""


#: Registered check functions as (group, function), in registration order.
_REGISTRY: list[tuple[str, Callable[[bool], list[CheckResult]]]] = []


def register(group: str):
    """Decorator registering a check function ``fn(quick: bool) -> list[CheckResult]``.

    Parameters
    ----------
    group : str
        The group the function's results belong to; used by the ``only`` filter.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.
    """

    def deco(fn):
        if not any(f is fn for _, f in _REGISTRY):
            _REGISTRY.append((group, fn))
        return fn

    return deco


def registered() -> list[tuple[str, Callable]]:
    """A copy of the registry: (group, function) pairs in registration order."""
    return list(_REGISTRY)


def unregister(fn) -> None:
    """Remove ``fn`` from the registry (used by tests that register throw-away checks)."""
    _REGISTRY[:] = [(g, f) for g, f in _REGISTRY if f is not fn]


def _function_name(fn) -> str:
    name = getattr(fn, "__name__", repr(fn))
    return name[len("check_"):] if name.startswith("check_") else name


def run_checks(quick: bool = False, only: str | None = None, *, log=None) -> list[CheckResult]:
    """Run the registered checks and collect their results.

    Parameters
    ----------
    quick : bool
        Run the cheap variant of every check (smaller lattices, fewer steps).
    only : str, optional
        Run only the check functions whose group or function name contains this text
        (case-insensitive); results are also filtered on their group/name.
    log : callable, optional
        Called with one progress line per check function (e.g. ``print``).

    Returns
    -------
    list of CheckResult
        A check function that raises contributes one failed result carrying the error.
    """
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
            results = [CheckResult(group, fname, "check runs to completion", math.nan,
                                   "no exception", False,
                                   f"raised {type(exc).__name__}: {exc} | {' / '.join(tb[-3:])}")]
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


def format_table(results: list[CheckResult], *, details: bool = True) -> str:
    """A plain-text table of ``results`` with a summary line.

    Parameters
    ----------
    results : list of CheckResult
    details : bool
        Also print each check's detail text, indented under its row.

    Returns
    -------
    str
        Columns check (``group/name``), target, simulated, tolerance, verdict (PASS/FAIL),
        then the line ``"N passed, M failed"``.
    """
    head = ("check", "target", "simulated", "tolerance", "verdict")
    rows = [(f"{r.group}/{r.name}", _fmt(r.target), _fmt(r.simulated), r.tolerance,
             "PASS" if r.passed else "FAIL") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    widths[3] = min(widths[3], 44)

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    for r, row in zip(results, rows):
        out.append(line(row))
        if details and r.detail:
            out.append("      " + r.detail)
    n_pass = sum(1 for r in results if r.passed)
    out.append(f"{n_pass} passed, {len(results) - n_pass} failed")
    return "\n".join(out)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_json(results: list[CheckResult]) -> str:
    """The results as a JSON document ``{"results": [...], "passed": n, "failed": m}``.

    Non-finite numbers are written as ``null`` (nan) or the strings ``"inf"``/``"-inf"``.
    """
    rows = []
    for r in results:
        d = asdict(r)
        d["target"] = _json_safe(d["target"] if isinstance(d["target"], str) else float(d["target"]))
        d["simulated"] = _json_safe(float(d["simulated"]))
        d["passed"] = bool(d["passed"])
        rows.append(d)
    n_pass = sum(1 for r in rows if r["passed"])
    return json.dumps({"results": rows, "passed": n_pass, "failed": len(rows) - n_pass}, indent=2)


def from_json(text: str) -> list[CheckResult]:
    """Read back what :func:`to_json` wrote (``null`` becomes nan)."""

    def num(v):
        if v is None:
            return math.nan
        if v in ("inf", "-inf"):
            return float(v)
        return v

    out = []
    for d in json.loads(text)["results"]:
        d = dict(d)
        d["simulated"] = num(d["simulated"])
        if not isinstance(d["target"], str) or d["target"] in ("inf", "-inf"):
            d["target"] = num(d["target"])
        out.append(CheckResult(**d))
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mcsim validate``."""
    p = argparse.ArgumentParser(
        prog="mcsim validate",
        description="Run the validation checks (analytic limits of the kernels, paper targets) "
                    "and print a table; exit status 1 when any check fails.")
    p.add_argument("--quick", action="store_true",
                   help="cheap variants (small lattices; what the test suite runs)")
    p.add_argument("--only", metavar="TEXT", default=None,
                   help="run only checks whose group/name contains TEXT")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    p.add_argument("--no-details", action="store_true", help="table rows only, no detail lines")
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
        0 when every check passed, 1 otherwise (also when no check matched ``--only``).
    """
    import mcsim.validate  # noqa: F401 - registers the check modules

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.perf_counter()
    results = run_checks(quick=args.quick, only=args.only,
                         log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_table(results, details=not args.no_details))
    print(f"validation wall time {time.perf_counter() - t0:.1f} s"
          f" ({'quick' if args.quick else 'full'} mode)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(to_json(results))
    if not results:
        print(f"no check matches --only {args.only!r}", file=sys.stderr)
        return 1
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
