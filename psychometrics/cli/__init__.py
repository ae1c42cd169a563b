"""The ``psychometrics`` command line (typer + rich).

Commands: ``analyze`` (classical item analysis), ``validate`` (the whole validation and its
HTML report), ``calibrate`` (IRT per scale into an item bank), ``score`` (theta, SE,
T-score, percentile from an item bank), ``report360`` (individual 360-degree feedback pages), ``demo``,
and ``instrument validate|schema|list``.
They print readable tables by default and machine-readable JSON with ``--json``; progress
bars and notes go to stderr and ``--quiet`` turns them off. Exit codes: 0 ok, 1 findings of
severity warning or problem (``validate``, ``factor``; notes do not count) or
non-convergence (``calibrate``), 2 error. Errors print one line; ``--debug`` shows the
traceback.

typer and rich (the ``cli`` extra) are imported only when ``app`` is first used; item banks
(:mod:`psychometrics.bank`) are read and written without them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from psychometrics.cli import _cat, _factor, _instrument, _irt, _report360, _service, _validate  # noqa: F401  (registers the commands)
        from psychometrics.cli._app import app

        return app
    raise AttributeError(f"module 'psychometrics.cli' has no attribute {name!r}")
