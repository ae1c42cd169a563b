"""Omega total, hierarchical, per group factor and per scale; ECV (psychometrics/factor/omega.py).

Reference numbers: tests/reference/factor_reference.csv from tests/reference/factor_reference.R
(psych 2.2.9 ``omega(x, nfactors = 3)``, ``omega(ord, 3, poly = TRUE)``,
``omega(cont[, 1:8], nfactors = 2)``) on the seeded data of tests/reference/factor_make_data.py.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.factor import omega
from psychometrics.factor.omega import omega_from_loadings

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def reference(name: str) -> pd.DataFrame:
    table = pd.read_csv(REFERENCE / "factor_reference.csv")
    block = table[table["name"] == name]
    rows = list(dict.fromkeys(block["row"].astype(str)))
    cols = list(dict.fromkeys(block["col"].astype(str)))
    return block.assign(row=block["row"].astype(str), col=block["col"].astype(str)).pivot(
        index="row", columns="col", values="value").loc[rows, cols]


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"factor_{name}.csv", index_col=0)


CASES = [
    ("omega_cont", lambda: data("continuous"), 3, "pearson", 1e-6),
    # ordinal omega inherits the ~2e-5 polychoric differences
    ("omega_poly", lambda: data("ordinal"), 3, "polychoric", 1e-3),
    ("omega_two", lambda: data("continuous").iloc[:, :8], 2, "pearson", 1e-6),
]


def fit(case):
    tag, frame, k, correlation, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # two group factors
        return omega(frame(), k, correlation=correlation)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_coefficients_match_psych(case):
    result = fit(case)
    expected = reference(f"{case[0]}_stats").iloc[:, 0]
    expected.index = [name.split(".")[0] for name in expected.index]  # R names ECV "ecv.g"
    tol = max(case[4], 1e-3 if case[3] == "polychoric" else 1e-6)
    assert result.hierarchical == pytest.approx(expected["omega_h"], abs=tol)
    assert result.total == pytest.approx(expected["omega_total"], abs=tol)
    assert result.asymptotic == pytest.approx(expected["omega_lim"], abs=tol)
    assert result.alpha == pytest.approx(expected["alpha"], abs=tol)  # ordinal alpha for polychoric
    assert result.ecv == pytest.approx(expected["ecv"], abs=tol)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_group_omegas_and_loadings_match_psych(case):
    result = fit(case)
    group = reference(f"{case[0]}_group")
    np.testing.assert_allclose(result.per_scale.loc[group.index, ["total", "general", "group"]].to_numpy(),
                               group.to_numpy(), atol=1e-3)
    sl = reference(f"{case[0]}_sl")
    columns = ["g"] + [f"F{i + 1}*" for i in range(case[2])] + ["h2", "u2", "p2"]
    np.testing.assert_allclose(result.loadings.loc[sl.index, columns].to_numpy(), sl[columns].to_numpy(), atol=1e-2)
    np.testing.assert_allclose(result.loadings.loc[sl.index, columns].to_numpy(), sl[columns].to_numpy(),
                               atol=1e-3 if case[3] == "polychoric" else 1e-5)


def test_two_group_factors_warn():
    with pytest.warns(ModelWarning, match="two group factors"):
        omega(data("continuous").iloc[:, :8], 2)


def test_recovers_bifactor_structure(rng):
    # general loadings .6, group loadings .45, three groups of five items
    n_items, general, group = 15, 0.6, 0.45
    loadings = np.zeros((n_items, 4))
    loadings[:, 0] = general
    for g in range(3):
        loadings[5 * g:5 * g + 5, g + 1] = group
    factors = rng.standard_normal((6000, 4))
    z = factors @ loadings.T + rng.standard_normal((6000, n_items)) * np.sqrt(1 - general ** 2 - group ** 2)
    frame = pd.DataFrame(z, columns=[f"i{j + 1}" for j in range(n_items)])
    result = omega(frame, 3)
    sigma = loadings @ loadings.T
    np.fill_diagonal(sigma, 1.0)
    truth = omega_from_loadings(sigma, loadings[:, 0], loadings[:, 1:])
    assert result.hierarchical == pytest.approx(truth["hierarchical"], abs=0.03)
    assert result.total == pytest.approx(truth["total"], abs=0.01)
    assert result.ecv == pytest.approx(general ** 2 / (general ** 2 + group ** 2), abs=0.04)
    np.testing.assert_allclose(result.loadings["g"], general, atol=0.07)


def test_omega_from_loadings_known_values():
    # one factor, loadings .7 on 4 items: omega = (2.8)^2 / ((2.8)^2 + 4 * .51)
    loadings = np.full(4, 0.7)
    sigma = np.outer(loadings, loadings)
    np.fill_diagonal(sigma, 1.0)
    values = omega_from_loadings(sigma, loadings, np.zeros((4, 0)))
    expected = 2.8 ** 2 / (2.8 ** 2 + 4 * 0.51)
    assert values["total"] == pytest.approx(expected, abs=1e-12)
    assert values["hierarchical"] == pytest.approx(expected, abs=1e-12)
    assert values["ecv"] == pytest.approx(1.0)
    # alpha of a tau-equivalent scale equals omega
    assert values["alpha"] == pytest.approx(expected, abs=1e-12)


def test_negative_items_are_reversed(rng):
    frame = data("continuous").copy()
    frame["x1"] = -frame["x1"]
    result = omega(frame, 3)
    assert result.reversed_items == ("x1",)
    reference_result = omega(data("continuous"), 3)
    assert result.hierarchical == pytest.approx(reference_result.hierarchical, abs=1e-8)


def test_per_scale_omega():
    scales = {"A": ["x1", "x2", "x3", "x4"], "B": ["x5", "x6", "x7", "x8"]}
    result = omega(data("continuous"), 3, scales=scales)
    assert list(result.scales.index) == ["A", "B"]
    assert (result.scales["omega_total"] >= result.scales["alpha"] - 1e-6).all()
    assert "omega total" in result.summary()
    with pytest.raises(ResponseError, match="scale 'C'"):
        omega(data("continuous"), 3, scales={"C": ["x1", "nope", "x2"]})


def test_missing_data_close_to_complete():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        partial = omega(data("ordinal_missing"), 3, correlation="polychoric")
    complete = omega(data("ordinal"), 3, correlation="polychoric")
    assert partial.total == pytest.approx(complete.total, abs=0.03)
    assert partial.hierarchical == pytest.approx(complete.hierarchical, abs=0.05)


def test_bad_input():
    frame = data("continuous")
    with pytest.raises(ValueError, match="n_factors"):
        omega(frame, 0)
    with pytest.raises(ValueError, match="method"):
        omega(frame, 3, method="alpha")
    with pytest.raises(ResponseError, match="more items than factors"):
        omega(frame.iloc[:, :3], 3)
    with pytest.raises(ValueError, match="correlation"):
        omega(frame, 3, correlation="spearman")


# ------------------------------------------------------------------------- from a CFA

HS_MODEL = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}


def test_schmid_leiman_of_cfa_matches_psych(shared_data):
    # psych::omega(lavInspect(fit, "std")$lambda, Phi = lavInspect(fit, "std")$psi) for the
    # lavaan ML fit of the three-factor Holzinger & Swineford model (factor_reference.R)
    frame = pd.read_csv(shared_data / "HolzingerSwineford1939.csv")[[f"x{j}" for j in range(1, 10)]]
    result = omega(frame, model=HS_MODEL)
    expected = reference("hs_cfa_omega").iloc[:, 0]
    assert result.hierarchical == pytest.approx(expected["omega_h"], abs=1e-3)
    assert result.total == pytest.approx(expected["omega_total"], abs=1e-3)
    assert result.ecv == pytest.approx(expected["ecv.g"], abs=1e-3)
    group = reference("hs_cfa_omega_group")
    np.testing.assert_allclose(result.per_scale.loc[group.index, ["total", "general", "group"]].to_numpy(),
                               group.to_numpy(), atol=1e-3)
    sl = reference("hs_cfa_omega_sl")
    columns = ["g", "F1*", "F2*", "F3*", "h2", "u2", "p2"]
    np.testing.assert_allclose(result.loadings.loc[sl.index, columns].to_numpy(), sl[columns].to_numpy(), atol=1e-3)
    assert list(result.factor_correlations.columns) == ["visual", "textual", "speed"]


def test_cfa_route_on_ordinal_data_with_missing_values():
    model = {"F1": ["q1", "q2", "q3"], "F2": ["q4", "q5", "q6"], "F3": ["q7", "q8", "q9"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        partial = omega(data("ordinal_missing"), correlation="polychoric", model=model)
    complete = omega(data("ordinal"), correlation="polychoric", model=model)
    exploratory = omega(data("ordinal"), 3, correlation="polychoric")
    assert partial.total == pytest.approx(complete.total, abs=0.03)
    # the simple-structure CFA and the oblimin EFA of simple-structure data agree closely
    assert complete.total == pytest.approx(exploratory.total, abs=0.03)
    assert complete.hierarchical == pytest.approx(exploratory.hierarchical, abs=0.05)
