"""Validation of mcsim: analytic limits of the kinetic kernels and the paper's targets.

Importing this package registers every check module with :mod:`mcsim.validate.harness`:
:mod:`mcsim.validate.analytic` always, :mod:`mcsim.validate.paper` and
:mod:`mcsim.validate.microstructure` when they exist.
Run them with ``mcsim validate`` or :func:`mcsim.validate.harness.main`.
"""

from __future__ import annotations

import importlib
import importlib.util

from mcsim.validate import analytic  # noqa: F401 - registers the analytic checks
from mcsim.validate.harness import CheckResult, format_table, main, register, run_checks, to_json

if importlib.util.find_spec("mcsim.validate.paper") is not None:
    importlib.import_module("mcsim.validate.paper")
if importlib.util.find_spec("mcsim.validate.microstructure") is not None:
    importlib.import_module("mcsim.validate.microstructure")

__all__ = ["CheckResult", "format_table", "main", "register", "run_checks", "to_json"]
