"""Problems of a fitted calibration: estimates that are blown up, implausible or not identified.

EM "converges" on data that cannot identify the parameters: a 2PL on two persons gives slopes
in the thousands, 500 items on 50 persons give thresholds near -900. A convergence flag says
that the iterations stopped, not that the numbers mean anything. After every calibration
:func:`find_problems` checks each item against the bounds below; :func:`warn_problems` emits
one :class:`~psychometrics.errors.ModelWarning` per problem (naming item, parameter and
value) and :attr:`Calibration.problems` lists them as a DataFrame.

Bounds (IRT form, logistic metric, latent trait standardised to mean 0 and SD 1)
---------------------------------------------------------------------------------
``SLOPE_BOUND = 4``
    Baker's (2001) labels call slopes above 1.7 "very high"; de Ayala (2009, ch. 5) gives
    0.8-2.5 as the usual range of well-estimated slopes. A slope above 4 means the item
    separates persons within a tenth of a standard deviation, which questionnaire items do
    not; it is the signature of a likelihood that rises without bound (a near-perfect
    split in a small sample, Heywood-like cases).
``THRESHOLD_BOUND = 4``
    Fewer than 1 in 15,000 persons of a standard normal population lie beyond 4 SD; a
    threshold (``b``) beyond it is located where nobody was observed, so it is extrapolated
    (de Ayala 2009, ch. 5; Baker 2001, ch. 2 uses -3..3 as the practical range).
``SE_BOUND = 2``
    A standard error of two logits on a slope or threshold spans most of the trait's range:
    the data do not determine the parameter.
``PERSONS_PER_PARAMETER = 5``
    Fewer than five persons per free parameter is below the minimum ratio used for latent
    variable models (Bentler & Chou, 1987); IRT sample-size studies ask for more (de Ayala
    2009, ch. 5: hundreds of persons for a 2PL or graded item set).

A negative slope is reported too: after keying, every item should rise with the trait, so a
negative slope usually means a reverse-keyed item that was not reversed.

A model with one item is not identified (the slope and the latent scale trade off):
:func:`check_identified` makes it an error before any estimation.

References
----------
.. [1] Baker, F. B. (2001). The Basics of Item Response Theory (2nd ed.). ERIC
       Clearinghouse on Assessment and Evaluation, ch. 2-3.
.. [2] de Ayala, R. J. (2009). The Theory and Practice of Item Response Theory. Guilford, ch. 5.
.. [3] Bentler, P. M., & Chou, C.-P. (1987). Practical issues in structural modeling.
       Sociological Methods & Research, 16(1), 78-117.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import EstimationError, ModelWarning

__all__ = [
    "PERSONS_PER_PARAMETER",
    "PROBLEM_COLUMNS",
    "SE_BOUND",
    "SLOPE_BOUND",
    "THRESHOLD_BOUND",
    "check_identified",
    "find_problems",
    "warn_problems",
]

SLOPE_BOUND = 4.0
THRESHOLD_BOUND = 4.0
SE_BOUND = 2.0
PERSONS_PER_PARAMETER = 5

#: Columns of :attr:`Calibration.problems`.
PROBLEM_COLUMNS = ["item", "parameter", "value", "problem"]

_DESCRIPTIONS = {
    "not_finite": "is not a finite number",
    "extreme_slope": f"is beyond +-{SLOPE_BOUND:g}: an extreme slope, usually a likelihood without a maximum "
                     "(too few persons, a near-perfect split)",
    "negative_slope": "is negative: the item falls as the trait rises (a reverse-keyed item that was not reversed?)",
    "extreme_threshold": f"is beyond +-{THRESHOLD_BOUND:g}: a threshold where almost nobody is, extrapolated",
    "huge_se": f"has a standard error above {SE_BOUND:g}: the data do not determine it",
    "too_few_persons": f"persons for the free parameters: fewer than {PERSONS_PER_PARAMETER} per parameter",
}


def check_identified(item_ids: list[str], models: Any = None) -> None:
    """Raise :class:`EstimationError` for a model that no data can identify (one item)."""
    if len(item_ids) == 1:
        raise EstimationError(f"an IRT model of one item ('{item_ids[0]}') is not identified: its slope and the "
                              "latent scale trade off; calibrate it together with other items of its scale")


def find_problems(calibration: Any) -> pd.DataFrame:
    """Every problem of ``calibration`` (see the module docstring for the bounds).

    Returns
    -------
    DataFrame
        Columns ``item``, ``parameter``, ``value``, ``problem`` (one of ``not_finite``,
        ``extreme_slope``, ``negative_slope``, ``extreme_threshold``, ``huge_se``,
        ``too_few_persons``); the last names no item (``item`` is ``""``). Empty when
        nothing is wrong.
    """
    rows: list[tuple[str, str, float, str]] = []
    params = calibration.item_params
    for item in calibration.item_ids:
        row = params.loc[item]
        for name, value in row.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue  # a parameter of another model in a mixed table
            value = float(value)
            if not math.isfinite(value):
                rows.append((item, str(name), value, "not_finite"))
            elif name == "a" and abs(value) > SLOPE_BOUND:
                rows.append((item, "a", value, "extreme_slope"))
            elif name == "a" and value < 0:
                rows.append((item, "a", value, "negative_slope"))
            elif str(name).startswith("b") and abs(value) > THRESHOLD_BOUND:
                rows.append((item, str(name), value, "extreme_threshold"))
    errors = calibration.irt_standard_errors
    if errors is not None:
        for item in calibration.item_ids:
            for name, value in errors.loc[item].items():
                if value is not None and np.isfinite(value) and value > SE_BOUND:
                    rows.append((item, f"{name} (SE)", float(value), "huge_se"))
    n_persons = float(calibration.n_persons)
    n_parameters = int(calibration.n_parameters)
    if n_parameters and n_persons < PERSONS_PER_PARAMETER * n_parameters:
        rows.append(("", "n_persons", n_persons, "too_few_persons"))
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def describe(problem: pd.Series, n_parameters: int | None = None) -> str:
    """One sentence about one row of :func:`find_problems`."""
    if problem["problem"] == "too_few_persons":
        return (f"{problem['value']:g} persons for {n_parameters} free parameters: fewer than "
                f"{PERSONS_PER_PARAMETER} per parameter, the estimates are not trustworthy")
    return (f"item '{problem['item']}': {problem['parameter']} = {problem['value']:.4g} "
            f"{_DESCRIPTIONS[problem['problem']]}")


def warn_problems(calibration: Any, *, stacklevel: int = 3) -> pd.DataFrame:
    """Emit one :class:`ModelWarning` per problem of ``calibration``; return the problems."""
    problems = find_problems(calibration)
    for _, problem in problems.iterrows():
        warnings.warn(describe(problem, calibration.n_parameters), ModelWarning, stacklevel=stacklevel)
    return problems
