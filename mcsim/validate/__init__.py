"""Validation of mcsim: analytic limits of the kinetic kernels and the paper's targets.

Importing this package registers every check module with :mod:`mcsim.validate.harness`:
:mod:`mcsim.validate.analytic` always, :mod:`mcsim.validate.paper`,
:mod:`mcsim.validate.microstructure` and :mod:`mcsim.validate.observations` when they exist.
Every result carries its kind (``numerics``, ``calibrated``, ``cross-check`` or
``prediction``, see :data:`mcsim.validate.harness.KINDS`).
Run them with ``mcsim validate`` or :func:`mcsim.validate.harness.main`.
"""

from __future__ import annotations

import importlib
import importlib.util

from mcsim.validate import analytic  # noqa: F401 - registers the analytic checks
from mcsim.validate.harness import (KINDS, CheckResult, format_table, main, register, run_checks,
                                    to_json)

if importlib.util.find_spec("mcsim.validate.paper") is not None:
    importlib.import_module("mcsim.validate.paper")
if importlib.util.find_spec("mcsim.validate.microstructure") is not None:
    importlib.import_module("mcsim.validate.microstructure")
if importlib.util.find_spec("mcsim.validate.observations") is not None:
    importlib.import_module("mcsim.validate.observations")

__all__ = ["KINDS", "CheckResult", "format_table", "main", "register", "run_checks", "to_json"]
