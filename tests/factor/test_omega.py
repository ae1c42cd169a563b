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


# ------------------------------------------------------------------------- from a bifactor CFA
#
# Reference numbers: tests/reference/omega_bifactor.csv, written by tests/reference/omega_bifactor.R.
# lavaan 0.6.14 fits cfa(model, data, orthogonal = TRUE, std.lv = TRUE); the coefficients are then
# computed in R by formula from lavInspect(fit, "std") (keys "implied:*", "observed:*", "ecv") and,
# for the ordinal fits, also by psych 2.2.9 omegaFromSem(fit) (keys "sem:*"), which equals the
# "observed" formula. Agreement is about 1e-6; tolerance 1e-3.

from psychometrics.errors import DataWarning, EstimationError, InstrumentError  # noqa: E402

BIFACTOR_TOL = 1e-3
Q = [f"q{j}" for j in range(1, 13)]
Y = [f"y{j}" for j in range(1, 13)]
Q_GROUPS = {"s1": Q[:4], "s2": Q[4:8], "s3": Q[8:]}
Y_GROUPS = {"s1": Y[:4], "s2": Y[4:8], "s3": Y[8:]}


def lavaan_reference(case: str) -> dict[str, float]:
    table = pd.read_csv(REFERENCE / "omega_bifactor.csv")
    block = table[table["case"] == case]
    return dict(zip(block["key"], block["value"].astype(float)))


def bifactor_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"omega_bifactor_{name}.csv")


def check_bifactor_omega(result, expected: dict[str, float], denominator: str, groups: list[str],
                         prefix: str | None = None) -> None:
    prefix = prefix or denominator
    assert result.approach == "bifactor_cfa" and result.denominator == denominator
    assert result.hierarchical == pytest.approx(expected[f"{prefix}:omega_h"], abs=BIFACTOR_TOL)
    assert result.total == pytest.approx(expected[f"{prefix}:omega_total"], abs=BIFACTOR_TOL)
    assert result.asymptotic == pytest.approx(expected[f"{prefix}:omega_h"] / expected[f"{prefix}:omega_total"],
                                              abs=BIFACTOR_TOL)
    assert result.ecv == pytest.approx(expected["ecv"], abs=BIFACTOR_TOL)
    assert result.per_scale.loc["g", "total"] == pytest.approx(result.total, abs=1e-12)
    assert result.per_scale.loc["g", "general"] == pytest.approx(result.hierarchical, abs=1e-12)
    for position, name in enumerate(groups, start=1):
        label = name if prefix != "sem" else f"s{position}"
        for column in ("total", "general", "group"):
            assert result.per_scale.loc[name, column] == pytest.approx(
                expected[f"{prefix}:{label}:{column}"], abs=BIFACTOR_TOL), (name, column)


@pytest.mark.parametrize("denominator", ["implied", "observed"])
def test_bifactor_omega_holzinger_matches_lavaan(shared_data, denominator):
    # an improper solution (x1's residual variance is negative in lavaan too): omega is
    # computed anyway, and the CFA's Heywood warning passes through
    frame = pd.read_csv(shared_data / "HolzingerSwineford1939.csv")[[f"x{j}" for j in range(1, 10)]]
    with pytest.warns(ModelWarning, match="Heywood"):
        result = omega(frame, model=HS_MODEL, bifactor=True, denominator=denominator)
    check_bifactor_omega(result, lavaan_reference("hs_bifactor"), denominator, list(HS_MODEL))
    assert result.cfa.df == 18 and result.cfa.chi2 == pytest.approx(34.880098, abs=1e-3)
    assert list(result.loadings.columns) == ["g", "visual", "textual", "speed", "h2", "u2", "p2"]
    assert result.loadings.loc["x1", "u2"] < 0


@pytest.mark.parametrize("denominator", ["implied", "observed"])
def test_bifactor_omega_continuous_matches_lavaan(denominator):
    result = omega(bifactor_data("continuous"), model=Y_GROUPS, bifactor=True, denominator=denominator)
    check_bifactor_omega(result, lavaan_reference("cont_ml"), denominator, list(Y_GROUPS))
    assert result.cfa.estimator == "ml" and result.correlation_type == "pearson"
    # population values of the generating structure (omega_bifactor_make_data.py): omega_h .777,
    # omega total .913; a sample of 500 lands within a few standard errors (about .015)
    assert result.hierarchical == pytest.approx(0.777, abs=0.05)
    assert result.total == pytest.approx(0.913, abs=0.03)


@pytest.mark.parametrize("estimator, case", [("dwls", "ord_wlsmv"), ("uls", "ord_ulsmv")])
@pytest.mark.parametrize("denominator", ["implied", "observed"])
def test_ordinal_bifactor_omega_matches_lavaan_and_psych(estimator, case, denominator):
    result = omega(bifactor_data("ordinal"), model=Q_GROUPS, bifactor=True, correlation="polychoric",
                   estimator=estimator, denominator=denominator)
    expected = lavaan_reference(case)
    check_bifactor_omega(result, expected, denominator, list(Q_GROUPS))
    if denominator == "observed" and case == "ord_wlsmv":
        # psych::omegaFromSem(fit) on the lavaan WLSMV fit
        check_bifactor_omega(result, expected, denominator, list(Q_GROUPS), prefix="sem")
    assert result.cfa.estimator == estimator and result.correlation_type == "polychoric"


def test_ordinal_bifactor_omega_with_missing_data_matches_lavaan_and_psych():
    # pairwise polychoric correlations (lavaan missing = "pairwise"), 6% of cells missing
    expected = lavaan_reference("ord_wlsmv_pairwise")
    implied = omega(bifactor_data("ordinal_missing"), model=Q_GROUPS, bifactor=True, correlation="polychoric")
    check_bifactor_omega(implied, expected, "implied", list(Q_GROUPS))
    observed = omega(bifactor_data("ordinal_missing"), model=Q_GROUPS, bifactor=True, correlation="polychoric",
                     denominator="observed")
    check_bifactor_omega(observed, expected, "observed", list(Q_GROUPS), prefix="sem")
    complete = omega(bifactor_data("ordinal"), model=Q_GROUPS, bifactor=True, correlation="polychoric")
    assert implied.hierarchical == pytest.approx(complete.hierarchical, abs=0.01)


def test_bifactor_omega_with_listwise_deletion_warns():
    frame = bifactor_data("continuous_missing")
    with pytest.warns(DataWarning, match="listwise"):
        result = omega(frame, model=Y_GROUPS, bifactor=True)
    assert result.cfa.n_persons == int(frame.notna().all(axis=1).sum())
    complete = omega(bifactor_data("continuous"), model=Y_GROUPS, bifactor=True)
    assert result.hierarchical == pytest.approx(complete.hierarchical, abs=0.05)


def test_items_on_the_general_factor_only():
    # model names the general factor: q9-q12 load on it alone (lavaan fit with misfit)
    model = {"g": Q, "s1": Q[:4], "s2": Q[4:8]}
    expected = lavaan_reference("ord_wlsmv_misfit")
    for denominator in ("implied", "observed"):
        result = omega(bifactor_data("ordinal"), model=model, bifactor=True, correlation="polychoric",
                       denominator=denominator)
        check_bifactor_omega(result, expected, denominator, ["s1", "s2"])
        assert result.n_factors == 2
        assert (result.loadings.loc[Q[8:], ["s1", "s2"]] == 0).all().all()
        assert result.cfa.rmsea_scaled == pytest.approx(expected["rmsea.scaled"], abs=BIFACTOR_TOL)


def test_explicit_general_factor_equals_implicit():
    implicit = omega(bifactor_data("continuous"), model=Y_GROUPS, bifactor=True)
    explicit = omega(bifactor_data("continuous"), model={"general": Y, **Y_GROUPS}, bifactor=True)
    assert explicit.hierarchical == pytest.approx(implicit.hierarchical, abs=1e-10)
    pd.testing.assert_frame_equal(explicit.per_scale, implicit.per_scale, atol=1e-10)
    assert list(explicit.oblique_loadings.columns) == ["general", "s1", "s2", "s3"]


def test_bifactor_omega_by_formula_on_simulated_data(rng):
    # population: general .6, group .45 on three groups of four items
    n_items, general, group = 12, 0.6, 0.45
    loadings = np.zeros((n_items, 4))
    loadings[:, 0] = general
    for g in range(3):
        loadings[4 * g:4 * g + 4, g + 1] = group
    z = rng.standard_normal((5000, 4)) @ loadings.T + rng.standard_normal((5000, n_items)) * np.sqrt(
        1 - general ** 2 - group ** 2)
    frame = pd.DataFrame(z, columns=[f"i{j + 1}" for j in range(n_items)])
    groups = {name: list(frame.columns[4 * g:4 * g + 4]) for g, name in enumerate("ABC")}
    result = omega(frame, model=groups, bifactor=True)
    v = (12 * general) ** 2 + 3 * (4 * group) ** 2 + 12 * (1 - general ** 2 - group ** 2)
    assert result.hierarchical == pytest.approx((12 * general) ** 2 / v, abs=0.02)
    assert result.total == pytest.approx(((12 * general) ** 2 + 3 * (4 * group) ** 2) / v, abs=0.01)
    assert result.ecv == pytest.approx(general ** 2 / (general ** 2 + group ** 2), abs=0.03)
    v_group = (4 * general) ** 2 + (4 * group) ** 2 + 4 * (1 - general ** 2 - group ** 2)
    np.testing.assert_allclose(result.per_scale.loc[list("ABC"), "group"], (4 * group) ** 2 / v_group, atol=0.04)
    # the recomputation from the reported loadings and implied matrix is exact
    sl = result.loadings
    sums = sl["g"].sum() ** 2 + sum(sl[name].sum() ** 2 for name in "ABC") + sl["u2"].sum()
    assert result.hierarchical == pytest.approx(sl["g"].sum() ** 2 / sums, abs=1e-10)
    # a reversed item is reversed back, leaving the coefficients unchanged
    flipped = frame.copy()
    flipped["i5"] = -flipped["i5"]
    again = omega(flipped, model=groups, bifactor=True)
    assert again.reversed_items == ("i5",)
    assert again.hierarchical == pytest.approx(result.hierarchical, abs=1e-6)
    assert again.total == pytest.approx(result.total, abs=1e-6)
    assert "bifactor CFA (ML), implied total variance" in again.summary()


def test_bifactor_omega_per_scale_and_result():
    result = omega(bifactor_data("continuous"), model=Y_GROUPS, bifactor=True, scales={"first": Y[:4]})
    assert list(result.scales.index) == ["first"]
    assert result.factor_correlations.shape == (4, 4)
    assert np.isnan(result.general_loadings).all()
    assert result.to_frame().shape == (1, 5)


def test_bifactor_omega_bad_input():
    frame = bifactor_data("continuous")
    with pytest.raises(InstrumentError, match="bifactor=True needs model"):
        omega(frame, bifactor=True)
    with pytest.raises(InstrumentError, match="at least two group factors"):
        omega(frame, model={"s1": Y[:4]}, bifactor=True)
    with pytest.raises(InstrumentError, match="named 'g'"):
        omega(frame, model={"g": Y[:4], "s2": Y[4:8]}, bifactor=True)
    with pytest.raises(InstrumentError, match="'zz'"):
        omega(frame, model={"s1": Y[:4], "s2": ["y5", "y6", "zz"]}, bifactor=True)
    with pytest.raises(ValueError, match="denominator"):
        omega(frame, model=Y_GROUPS, bifactor=True, denominator="sample")
    with pytest.raises(ValueError, match="does not go with"):
        omega(frame, model=Y_GROUPS, bifactor=True, estimator="dwls")
    with pytest.raises(TypeError, match="bifactor"):
        omega(frame, model=Y_GROUPS, bifactor="yes")
    with pytest.raises(EstimationError, match="two group factors are often not identified"):
        omega(frame, model={"s1": Y[:3], "s2": Y[3:6]}, bifactor=True)
