"""Tests of psychometrics.factor.cfa.

Reference numbers come from lavaan 0.6.14 (R 4.2.2); the exact calls are in
tests/reference/cfa_holzinger.R and tests/reference/cfa_ordinal.R, their printed output in
the matching ``.out`` files. Our estimates agree with lavaan to about 1e-6; the tolerances
below leave room for optimizer and platform differences while staying well inside the
1e-3 asked of fit indices and loadings.
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import as_responses
from psychometrics.errors import (
    ConvergenceWarning,
    DataWarning,
    EstimationError,
    InstrumentError,
    ModelWarning,
    ResponseError,
)
from psychometrics.factor.cfa import CFAResult, cfa

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
HS_MODEL = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
TWO = {"f1": ["q1", "q2", "q3", "q4"], "f2": ["q5", "q6", "q7", "q8"]}
ONE = {"g": [f"q{i}" for i in range(1, 9)]}

FIT_TOL = 1e-5  # fit indices (absolute)
CHI2_TOL = 1e-4  # chi-square statistics (absolute)
EST_TOL = 1e-4  # standardized estimates and standard errors (absolute)


@pytest.fixture
def holzinger(shared_data: Path) -> pd.DataFrame:
    frame = pd.read_csv(shared_data / "HolzingerSwineford1939.csv")
    return frame[[f"x{i}" for i in range(1, 10)]]


@pytest.fixture(scope="module")
def ordinal() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "cfa_ordinal.csv")


@pytest.fixture(scope="module")
def ordinal_missing() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "cfa_ordinal_missing.csv")


def std_loading(result: CFAResult, factor: str, item: str) -> tuple[float, float]:
    return result.loadings.loc[item, factor], result.loadings_se.loc[item, factor]


def check_loadings(result: CFAResult, expected: dict[tuple[str, str], tuple[float, float]]) -> None:
    for (factor, item), (est, se) in expected.items():
        got_est, got_se = std_loading(result, factor, item)
        assert got_est == pytest.approx(est, abs=EST_TOL), (factor, item)
        assert got_se == pytest.approx(se, abs=EST_TOL), (factor, item)


# ------------------------------------------------------------------ ML: Holzinger & Swineford


def test_holzinger_fit_measures_match_lavaan(holzinger):
    # lavaan: cfa(model, data = hs); fitMeasures(...) -- tests/reference/cfa_holzinger.R
    # published tutorial values: 85.306, 24, CFI .931, TLI .896, RMSEA .092 (.071-.114), SRMR .065
    fit = cfa(holzinger, HS_MODEL)
    assert fit.converged
    assert fit.df == 24
    assert fit.n_persons == 301 and fit.n_dropped == 0
    assert fit.chi2 == pytest.approx(85.30552177, abs=CHI2_TOL)
    assert fit.p == pytest.approx(8.502553217e-09, rel=1e-4)
    assert fit.cfi == pytest.approx(0.9305596518, abs=FIT_TOL)
    assert fit.tli == pytest.approx(0.8958394777, abs=FIT_TOL)
    assert fit.rmsea == pytest.approx(0.09212148451, abs=FIT_TOL)
    assert fit.rmsea_ci[0] == pytest.approx(0.07141849044, abs=FIT_TOL)
    assert fit.rmsea_ci[1] == pytest.approx(0.1136780168, abs=FIT_TOL)
    assert fit.srmr == pytest.approx(0.06520505718, abs=FIT_TOL)
    assert fit.aic == pytest.approx(7517.489853, abs=1e-3)
    assert fit.bic == pytest.approx(7595.339169, abs=1e-3)
    assert fit.loglik == pytest.approx(-3737.744927, abs=1e-3)
    assert fit.baseline_chi2 == pytest.approx(918.8515893, abs=CHI2_TOL)
    assert fit.baseline_df == 36
    assert np.isnan(fit.chi2_scaled) and np.isnan(fit.cfi_scaled)


def test_holzinger_standardized_solution_matches_lavaan(holzinger):
    # lavaan standardizedSolution(fit): est.std and se (delta method)
    fit = cfa(holzinger, HS_MODEL)
    check_loadings(fit, {
        ("visual", "x1"): (0.7718804204, 0.05497272867),
        ("visual", "x2"): (0.4236009920, 0.05961911656),
        ("visual", "x3"): (0.5811323239, 0.05513930816),
        ("textual", "x4"): (0.8515822224, 0.02254309495),
        ("textual", "x5"): (0.8550654464, 0.02234124968),
        ("textual", "x6"): (0.8380100739, 0.02335517803),
        ("speed", "x7"): (0.5695146840, 0.05315486767),
        ("speed", "x8"): (0.7230444328, 0.05053057757),
        ("speed", "x9"): (0.6650092188, 0.05109434015),
    })
    corr, corr_se = fit.factor_correlations, fit.factor_correlations_se
    assert corr.loc["visual", "textual"] == pytest.approx(0.4585093004, abs=EST_TOL)
    assert corr.loc["visual", "speed"] == pytest.approx(0.4705345445, abs=EST_TOL)
    assert corr.loc["textual", "speed"] == pytest.approx(0.2829847304, abs=EST_TOL)
    assert corr_se.loc["visual", "textual"] == pytest.approx(0.06377935060, abs=EST_TOL)
    assert corr_se.loc["visual", "speed"] == pytest.approx(0.07282669543, abs=EST_TOL)
    assert corr_se.loc["textual", "speed"] == pytest.approx(0.06872928149, abs=EST_TOL)
    assert fit.residual_variances["x1"] == pytest.approx(0.4042006167, abs=EST_TOL)
    assert fit.residual_variances["x9"] == pytest.approx(0.5577627389, abs=EST_TOL)
    # items outside a factor have loading 0 and no standard error
    assert fit.loadings.loc["x1", "speed"] == 0.0
    assert np.isnan(fit.loadings_se.loc["x1", "speed"])


def test_holzinger_unstandardized_estimates_match_lavaan(holzinger):
    # lavaan parameterEstimates(fit): est and se (expected information, N)
    table = cfa(holzinger, HS_MODEL).parameters.set_index(["lhs", "op", "rhs"])
    expected = {
        ("visual", "=~", "x2"): (0.5535002938, 0.09966511877),
        ("textual", "=~", "x5"): (1.1130765781, 0.06542010861),
        ("speed", "=~", "x9"): (1.0815301569, 0.15116743809),
        ("x1", "~~", "x1"): (0.5490539732, 0.11360092326),
        ("x7", "~~", "x7"): (0.7993916383, 0.08138155906),
        ("visual", "~~", "visual"): (0.8093159811, 0.14546240741),
        ("visual", "~~", "textual"): (0.4082324421, 0.07352388220),
        ("textual", "~~", "speed"): (0.1734946846, 0.04931466045),
    }
    for key, (est, se) in expected.items():
        assert table.loc[key, "est"] == pytest.approx(est, abs=EST_TOL), key
        assert table.loc[key, "se"] == pytest.approx(se, abs=EST_TOL), key
    marker = table.loc[("visual", "=~", "x1")]
    assert marker["est"] == 1.0 and not marker["free"]
    assert len(table) == 24  # 21 free parameters + 3 markers


def test_holzinger_modification_indices_match_lavaan(holzinger):
    # lavaan modindices(fit, sort. = TRUE): the five largest
    mi = cfa(holzinger, HS_MODEL).modification_indices
    expected = [("visual", "=~", "x9", 36.411030652, 0.5770215378),
                ("x7", "~~", "x8", 34.145089360, 0.5364439702),
                ("visual", "=~", "x7", 18.630638464, -0.4218623858),
                ("x8", "~~", "x9", 14.946391738, -0.4230959181),
                ("textual", "=~", "x3", 9.150894796, -0.2716376132)]
    for row, (lhs, op, rhs, value, epc) in zip(mi.itertuples(), expected):
        assert (row.lhs, row.op, row.rhs) == (lhs, op, rhs)
        assert row.mi == pytest.approx(value, abs=1e-3)
        assert row.epc == pytest.approx(epc, abs=1e-4)
    # 9 items x 3 factors - 9 loadings in the model + 36 residual covariances
    assert len(mi) == 18 + 36


def test_holzinger_cross_loading_matches_lavaan(holzinger):
    # lavaan: cfa(paste(model, "visual =~ x9"), data = hs)
    model = dict(HS_MODEL, visual=["x1", "x2", "x3", "x9"])
    fit = cfa(holzinger, model)
    assert fit.df == 23
    assert fit.chi2 == pytest.approx(52.38211527, abs=CHI2_TOL)
    assert fit.cfi == pytest.approx(0.96671907756, abs=FIT_TOL)
    assert fit.tli == pytest.approx(0.94790812140, abs=FIT_TOL)
    assert fit.rmsea == pytest.approx(0.06514699129, abs=FIT_TOL)
    assert fit.srmr == pytest.approx(0.04512864829, abs=FIT_TOL)
    check_loadings(fit, {("visual", "x9"): (0.3838180054, 0.06017282570),
                         ("speed", "x9"): (0.4465133680, 0.06061440091),
                         ("visual", "x1"): (0.7590618892, 0.04951260548)})


def test_holzinger_correlated_residual_matches_lavaan(holzinger):
    # lavaan: cfa(paste(model, "x7 ~~ x8"), data = hs)
    fit = cfa(holzinger, HS_MODEL, correlated_residuals=[("x7", "x8")])
    assert fit.df == 23
    assert fit.chi2 == pytest.approx(53.27223635, abs=CHI2_TOL)
    assert fit.cfi == pytest.approx(0.96571084345, abs=FIT_TOL)
    assert fit.rmsea == pytest.approx(0.06612643154, abs=FIT_TOL)
    assert fit.srmr == pytest.approx(0.04711224038, abs=FIT_TOL)
    check_loadings(fit, {("speed", "x9"): (0.9559108910, 0.09682285770),
                         ("speed", "x7"): (0.3520969551, 0.06298598042)})
    row = fit.parameters.set_index(["lhs", "op", "rhs"]).loc[("x7", "~~", "x8")]
    assert row["est_std"] == pytest.approx(0.3886015406, abs=EST_TOL)
    assert row["se_std"] == pytest.approx(0.05461016382, abs=EST_TOL)
    assert fit.factor_correlations.loc["visual", "speed"] == pytest.approx(0.5442140929, abs=EST_TOL)
    # the freed pair is no longer a modification-index candidate
    mi = fit.modification_indices
    assert not ((mi["op"] == "~~") & (mi["lhs"] == "x7") & (mi["rhs"] == "x8")).any()


def test_ml_ignores_other_columns_and_units(shared_data, holzinger):
    # the full file has text columns (school) that are not in the model
    full = pd.read_csv(shared_data / "HolzingerSwineford1939.csv")
    reference = cfa(holzinger, HS_MODEL)
    assert cfa(full, HS_MODEL).chi2 == pytest.approx(reference.chi2, rel=1e-10)
    # ML is scale invariant: rescaling items, even by many orders of magnitude, changes
    # neither the fit nor the standardized solution
    rescaled = holzinger * 1e-4
    rescaled["x1"] = holzinger["x1"] * 1e4
    fit = cfa(rescaled, HS_MODEL)
    assert fit.converged
    assert fit.chi2 == pytest.approx(reference.chi2, rel=1e-8)
    np.testing.assert_allclose(fit.loadings, reference.loadings, atol=1e-7)
    np.testing.assert_allclose(fit.loadings_se.fillna(0), reference.loadings_se.fillna(0), atol=1e-6)


def test_heywood_case_warns(holzinger):
    # lavaan: cfa(paste(model, "visual =~ x9", "x7 ~~ x8"), data = hs) gives chisq 52.283 on
    # 22 df and the warning "some estimated ov variances are negative" (x8)
    model = dict(HS_MODEL, visual=["x1", "x2", "x3", "x9"])
    with pytest.warns(ModelWarning, match=r"negative residual variance for \['x8'\]"):
        fit = cfa(holzinger, model, correlated_residuals=[("x7", "x8")])
    assert fit.df == 22
    assert fit.chi2 == pytest.approx(52.283, abs=1e-3)
    assert fit.residual_variances["x8"] == pytest.approx(-0.150, abs=1e-3)


def test_ml_listwise_deletion(holzinger):
    holes = holzinger.copy()
    holes.iloc[[3, 50, 51], [0, 4, 8]] = np.nan
    with pytest.warns(DataWarning, match="3 of 301 rows"):
        with_holes = cfa(holes, HS_MODEL)
    complete = cfa(holzinger.drop(index=holzinger.index[[3, 50, 51]]), HS_MODEL)
    assert with_holes.n_persons == 298 and with_holes.n_dropped == 3
    assert with_holes.chi2 == pytest.approx(complete.chi2, rel=1e-10)
    pd.testing.assert_frame_equal(with_holes.loadings, complete.loadings)


def test_ml_observed_information_matches_lavaan(holzinger):
    # cfa(model, data = hs, information = "observed") -- tests/reference/cfa_fiml.R
    fit = cfa(holzinger, HS_MODEL, information="observed")
    assert fit.chi2 == pytest.approx(85.30552177, abs=CHI2_TOL)
    check_loadings(fit, {("visual", "x1"): (0.7718804204, 0.05753459569),
                         ("visual", "x2"): (0.4236009920, 0.06273799967),
                         ("speed", "x9"): (0.6650092188, 0.06608310439)})
    table = fit.parameters.set_index(["lhs", "op", "rhs"])
    for key, se in {("visual", "=~", "x2"): 0.1092471801, ("x1", "~~", "x1"): 0.1190488208,
                    ("visual", "~~", "visual"): 0.1497557379, ("visual", "~~", "textual"): 0.0796760463}.items():
        assert table.loc[key, "se"] == pytest.approx(se, abs=EST_TOL), key


def blank_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The missing-data rule of tests/reference/cfa_fiml.R: 118 cells, 183 complete rows."""
    out = frame.copy()
    rows = np.arange(len(out))
    for j in range(out.shape[1]):
        out.iloc[(31 * rows + 17 * j) % 23 == 0, j] = np.nan
    return out


FIML_STD = {  # standardizedSolution(cfa(model, hs, missing = "ml", information = ...))
    "observed": {("visual", "x1"): (0.7794528897, 0.05942424542), ("visual", "x2"): (0.3992113704, 0.06525195663),
                 ("textual", "x5"): (0.8581289217, 0.02270667453), ("speed", "x9"): (0.6872896538, 0.06790566791)},
    "expected": {("visual", "x1"): (0.7794528897, 0.05854275065), ("visual", "x2"): (0.3992113704, 0.06250283277),
                 ("textual", "x5"): (0.8581289217, 0.02310502045), ("speed", "x9"): (0.6872896538, 0.05240396126)},
}
FIML_SE = {  # parameterEstimates: visual =~ x2, x1 ~~ x1, visual ~~ visual, x1 ~1
    "observed": (0.1097668005, 0.1233406852, 0.1539390500, 0.0680109256),
    "expected": (0.10192276149, 0.12103255188, 0.15310984562, 0.06799424242),
}


@pytest.mark.parametrize("information", ["observed", "expected"])
def test_fiml_matches_lavaan(holzinger, information):
    # cfa(model, data = hs_with_holes, missing = "ml", information = ...) -- cfa_fiml.R
    data = blank_cells(holzinger)
    assert data.isna().sum().sum() == 118
    kwargs = {} if information == "observed" else {"information": "expected"}
    fit = cfa(data, HS_MODEL, missing="fiml", **kwargs)
    assert fit.converged and fit.n_persons == 301 and fit.df == 24
    assert fit.chi2 == pytest.approx(69.03880816, abs=CHI2_TOL)
    assert fit.cfi == pytest.approx(0.9447308012, abs=FIT_TOL)
    assert fit.tli == pytest.approx(0.9170962017, abs=FIT_TOL)
    assert fit.rmsea == pytest.approx(0.07895953391, abs=FIT_TOL)
    assert fit.rmsea_ci == pytest.approx((0.05753954821, 0.1010741242), abs=FIT_TOL)
    assert fit.srmr == pytest.approx(0.05600611440, abs=FIT_TOL)
    assert fit.loglik == pytest.approx(-3583.625748, abs=1e-3)
    assert fit.aic == pytest.approx(7227.251496, abs=1e-3)
    assert fit.bic == pytest.approx(7338.464804, abs=1e-3)
    assert fit.baseline_chi2 == pytest.approx(850.8988788, abs=CHI2_TOL)
    check_loadings(fit, FIML_STD[information])
    assert fit.factor_correlations.loc["visual", "textual"] == pytest.approx(0.4780394319, abs=EST_TOL)
    table = fit.parameters.set_index(["lhs", "op", "rhs"])
    keys = [("visual", "=~", "x2"), ("x1", "~~", "x1"), ("visual", "~~", "visual"), ("x1", "~1", "")]
    for key, se in zip(keys, FIML_SE[information]):
        assert table.loc[key, "se"] == pytest.approx(se, abs=EST_TOL), key
    assert table.loc[("x1", "~1", ""), "est"] == pytest.approx(4.9480686694, abs=EST_TOL)
    assert fit.missing == "fiml" and "FIML" in fit.summary()
    top = fit.modification_indices.iloc[0]
    assert (top["lhs"], top["rhs"]) == ("visual", "x9")
    assert top["mi"] == pytest.approx(29.17075717, abs=1e-3)
    assert top["epc"] == pytest.approx(0.5498066334, abs=1e-4)


def test_fiml_on_complete_data_equals_ml(holzinger):
    # lavaan: missing = "ml" on complete data gives the ML chi-square; SRMR and AIC then
    # include the (saturated) means: srmr 0.05952380114, aic 7535.489853
    fit = cfa(holzinger, HS_MODEL, missing="fiml")
    assert fit.chi2 == pytest.approx(85.30552177, abs=CHI2_TOL)
    assert fit.srmr == pytest.approx(0.05952380114, abs=FIT_TOL)
    assert fit.aic == pytest.approx(7535.489853, abs=1e-3)
    pd.testing.assert_frame_equal(fit.loadings, cfa(holzinger, HS_MODEL).loadings, atol=1e-6)


def test_fiml_beats_listwise_on_simulated_data(rng):
    lam = np.zeros((6, 2))
    lam[:3, 0] = [0.8, 0.7, 0.6]
    lam[3:, 1] = [0.7, 0.6, 0.5]
    data = simulate(rng, 1500, lam, np.array([[1.0, 0.3], [0.3, 1.0]]))
    data = data.mask(rng.random(data.shape) < 0.15)  # most rows lose something
    model = {"a": ["i1", "i2", "i3"], "b": ["i4", "i5", "i6"]}
    fit = cfa(data, model, missing="fiml")
    assert fit.n_persons == 1500 and fit.n_dropped == 0
    np.testing.assert_allclose(fit.loadings.to_numpy(), lam, atol=0.06)
    with pytest.warns(DataWarning, match="listwise"):
        listwise = cfa(data, model)
    assert listwise.n_persons < 700
    # more information: smaller standard errors than the complete cases give
    ours, complete_cases = fit.loadings_se.stack().dropna(), listwise.loadings_se.stack().dropna()
    assert len(ours) == 6 and (ours < complete_cases).all()


# ------------------------------------------------------------------ ordinal: WLSMV / ULSMV


ORDINAL_REFERENCE = {
    # cfa(model, data = d, ordered = TRUE, estimator = ...) -- tests/reference/cfa_ordinal.R
    ("dwls", "two"): dict(
        chi2=12.79643988, df=19, p=0.8488267577, chi2_scaled=19.81617276, p_scaled=0.4057151486,
        scaling_factor=0.7270427848, baseline_chi2=1839.465969, baseline_chi2_scaled=1335.502302,
        cfi=1.0, tli=1.005046790, rmsea=0.0, rmsea_ci_high=0.02238600199, cfi_scaled=0.9993757772,
        tli_scaled=0.9990800927, rmsea_scaled=0.009278205231, srmr=0.02642610546,
        loadings={("f1", "q1"): (0.7734552772, 0.03895940890), ("f1", "q4"): (0.5073029331, 0.04464071726),
                  ("f2", "q5"): (0.7787009740, 0.03368142069), ("f2", "q8"): (0.6408712380, 0.04029602921)},
        factor_correlation=(0.4378651730, 0.05212322934)),
    ("uls", "two"): dict(
        chi2=12.22643518, df=19, chi2_scaled=18.57260022, p_scaled=0.4845451754,
        scaling_factor=0.7514447697, baseline_chi2=1490.302675, baseline_chi2_scaled=1059.123276,
        cfi=1.0, tli=1.006826285, rmsea=0.0, rmsea_ci_high=0.01996831031, cfi_scaled=1.0,
        tli_scaled=1.000610841, rmsea_scaled=0.0, srmr=0.02608845749,
        loadings={("f1", "q1"): (0.7900992874, 0.04102125152), ("f1", "q3"): (0.5783215073, 0.04227396032),
                  ("f2", "q6"): (0.7176261290, 0.03519700888), ("f2", "q7"): (0.5782105741, 0.04092494974)},
        factor_correlation=(0.4355535285, 0.05233788911)),
    ("dwls", "one"): dict(
        chi2=244.9343283187, df=20, chi2_scaled=307.1565070077, scaling_factor=0.8065194319,
        baseline_chi2=1839.4659693827, baseline_chi2_scaled=1335.5023015497, cfi=0.8758274612,
        tli=0.8261584457, rmsea=0.1501283113, rmsea_ci_low=0.1336204921, rmsea_ci_high=0.1672416990,
        cfi_scaled=0.7803778191, tli_scaled=0.6925289467, rmsea_scaled=0.1696266403, srmr=0.1139663427,
        loadings={("g", "q1"): (0.6368017132, 0.03640327488), ("g", "q5"): (0.6882544726, 0.03237620336),
                  ("g", "q8"): (0.5671188110, 0.03912660798)}),
    ("uls", "one"): dict(
        chi2=224.6691867443, df=20, chi2_scaled=295.9770713632, scaling_factor=0.7674608358,
        baseline_chi2=1490.3026751300, baseline_chi2_scaled=1059.1232757615, cfi=0.8600363726,
        tli=0.8040509217, rmsea=0.1432059166, rmsea_ci_low=0.1266754423, rmsea_ci_high=0.1603646971,
        cfi_scaled=0.7323529806, tli_scaled=0.6252941729, rmsea_scaled=0.1662919516, srmr=0.1118330665,
        loadings={("g", "q2"): (0.5394259946, 0.04238117051), ("g", "q6"): (0.6128440304, 0.03660481865)}),
}


def check_ordinal(fit: CFAResult, expected: dict) -> None:
    assert fit.converged
    for name, value in expected.items():
        if name == "loadings":
            check_loadings(fit, value)
        elif name == "factor_correlation":
            assert fit.factor_correlations.iloc[0, 1] == pytest.approx(value[0], abs=EST_TOL)
            assert fit.factor_correlations_se.iloc[0, 1] == pytest.approx(value[1], abs=EST_TOL)
        elif name == "df":
            assert fit.df == value
        elif name == "rmsea_ci_low":
            assert fit.rmsea_ci[0] == pytest.approx(value, abs=FIT_TOL)
        elif name == "rmsea_ci_high":
            assert fit.rmsea_ci[1] == pytest.approx(value, abs=FIT_TOL)
        else:
            tol = CHI2_TOL if "chi2" in name else FIT_TOL
            assert getattr(fit, name) == pytest.approx(value, abs=tol), name


@pytest.mark.parametrize("estimator, model", list(ORDINAL_REFERENCE))
def test_ordinal_estimators_match_lavaan(ordinal, estimator, model):
    fit = cfa(ordinal, TWO if model == "two" else ONE, estimator)
    check_ordinal(fit, ORDINAL_REFERENCE[(estimator, model)])
    assert np.isnan(fit.aic) and np.isnan(fit.loglik)
    # thresholds: lavaan q5|t3 = 0.2121371983
    assert fit.thresholds["q5"][2] == pytest.approx(0.2121371983, abs=1e-8)


def test_uls_standard_statistic_has_no_p_value(ordinal):
    # lavaan reports pvalue = NA for ULSMV's unadjusted statistic
    fit = cfa(ordinal, TWO, "uls")
    assert np.isnan(fit.p) and 0 < fit.p_scaled < 1


def test_ordinal_pairwise_missing_matches_lavaan(ordinal_missing):
    # cfa(model, data = dm, ordered = TRUE, estimator = "WLSMV", missing = "pairwise")
    fit = cfa(ordinal_missing, TWO, "dwls")
    assert fit.n_persons == 500
    check_ordinal(fit, dict(
        chi2=9.202829628, df=19, p=0.9699566939, chi2_scaled=14.21912736, p_scaled=0.7707706935,
        scaling_factor=0.7458842758, baseline_chi2=1552.968079, baseline_chi2_scaled=1170.065975,
        tli=1.009467697, tli_scaled=1.006169080, srmr=0.02442587402,
        loadings={("f1", "q1"): (0.7517653966, 0.04051520739), ("f1", "q4"): (0.5192292101, 0.04599734592),
                  ("f2", "q5"): (0.7675948789, 0.03665089183), ("f2", "q7"): (0.5883120764, 0.04211435221)},
        factor_correlation=(0.4279777487, 0.05460417666)))
    assert fit.thresholds["q5"][2] == pytest.approx(0.2072419647, abs=1e-8)


def test_ordinal_cross_loading_and_correlated_residual_match_lavaan(ordinal):
    # cfa(paste(model, "q1 ~~ q2", "f2 =~ q4"), data = d, ordered = TRUE, estimator = "WLSMV")
    model = dict(TWO, f2=TWO["f2"] + ["q4"])
    fit = cfa(ordinal, model, "dwls", correlated_residuals=[("q1", "q2")])
    check_ordinal(fit, dict(
        chi2=7.612957277, df=17, chi2_scaled=13.12326258, scaling_factor=0.6726328650,
        tli=1.008535083, tli_scaled=1.004883521, srmr=0.02062120232,
        loadings={("f1", "q1"): (0.88579011230, 0.07170070283), ("f1", "q4"): (0.42350358357, 0.05988150061),
                  ("f2", "q4"): (0.07129139682, 0.05846170084)},
        factor_correlation=(0.39478526981, 0.05562020444)))
    row = fit.parameters.set_index(["lhs", "op", "rhs"]).loc[("q1", "~~", "q2")]
    assert row["est_std"] == pytest.approx(-0.79192382099, abs=EST_TOL)
    assert row["se_std"] == pytest.approx(0.72647841945, abs=1e-3)


def test_ordinal_modification_indices_match_lavaan(ordinal):
    # modindices(fit, sort. = TRUE) for the WLSMV two-factor model
    mi = cfa(ordinal, TWO, "dwls").modification_indices
    expected = [("q2", "~~", "q3", 6.848043824, 0.15907453269, 0.2806714084),
                ("f2", "=~", "q1", 4.895526530, 0.17826004073, 0.1388112673),
                ("f2", "=~", "q3", 4.142349236, -0.14168113128, -0.1103272349),
                ("q1", "~~", "q2", 3.294524284, -0.13648191831, -0.3058565826)]
    for row, (lhs, op, rhs, value, epc, sepc) in zip(mi.itertuples(), expected):
        assert (row.lhs, row.op, row.rhs) == (lhs, op, rhs)
        assert row.mi == pytest.approx(value, abs=1e-3)
        assert row.epc == pytest.approx(epc, abs=1e-4)
        assert row.sepc_all == pytest.approx(sepc, abs=1e-4)


def test_ordinal_accepts_responses_and_drops_empty_rows(ordinal):
    frame = ordinal.copy()
    frame.loc[len(frame)] = np.nan  # a respondent who answered nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        responses = as_responses(frame)
    fit = cfa(responses, TWO, "dwls")
    assert fit.n_persons == 500 and fit.n_dropped == 1
    assert fit.chi2 == pytest.approx(cfa(ordinal, TWO, "dwls").chi2, rel=1e-10)


# ------------------------------------------------------------------ recovery on simulated data


def simulate(rng: np.random.Generator, n: int, loadings: np.ndarray, phi: np.ndarray,
             cuts: np.ndarray | None = None) -> pd.DataFrame:
    p, m = loadings.shape
    eta = rng.standard_normal((n, m)) @ np.linalg.cholesky(phi).T
    unique = 1.0 - np.sum((loadings @ phi) * loadings, axis=1)
    latent = eta @ loadings.T + rng.standard_normal((n, p)) * np.sqrt(unique)
    if cuts is not None:
        latent = 1 + (latent[:, :, None] > cuts[None, None, :]).sum(axis=2)
    return pd.DataFrame(latent, columns=[f"i{j + 1}" for j in range(p)])


def test_ml_recovers_simulated_structure(rng):
    lam = np.zeros((9, 3))
    lam[0:3, 0] = [0.8, 0.7, 0.6]
    lam[3:6, 1] = [0.75, 0.65, 0.55]
    lam[6:9, 2] = [0.7, 0.7, 0.5]
    lam[5, 2] = 0.3  # a cross-loading
    phi = np.array([[1.0, 0.3, 0.5], [0.3, 1.0, 0.2], [0.5, 0.2, 1.0]])
    data = simulate(rng, 3000, lam, phi) * 2.0 + 5.0  # scale and location must not matter
    model = {"a": ["i1", "i2", "i3"], "b": ["i4", "i5", "i6"], "c": ["i7", "i8", "i9", "i6"]}
    fit = cfa(data, model)
    assert fit.converged and fit.df == 23
    np.testing.assert_allclose(fit.loadings.to_numpy(), lam, atol=0.05)
    np.testing.assert_allclose(fit.factor_correlations.to_numpy(), phi, atol=0.06)
    assert fit.p > 0.001 and fit.cfi > 0.99 and fit.rmsea < 0.03


def test_dwls_recovers_simulated_ordinal_structure(rng):
    lam = np.zeros((8, 2))
    lam[:4, 0] = [0.8, 0.7, 0.6, 0.5]
    lam[4:, 1] = [0.75, 0.65, 0.6, 0.7]
    phi = np.array([[1.0, 0.4], [0.4, 1.0]])
    data = simulate(rng, 3000, lam, phi, cuts=np.array([-1.5, -0.5, 0.4, 1.3]))
    data = data.mask(rng.random(data.shape) < 0.05)  # 5% missing, pairwise use
    model = {"f1": ["i1", "i2", "i3", "i4"], "f2": ["i5", "i6", "i7", "i8"]}
    for estimator in ("dwls", "uls"):
        fit = cfa(data, model, estimator)
        np.testing.assert_allclose(fit.loadings.to_numpy(), lam, atol=0.06)
        assert fit.factor_correlations.iloc[0, 1] == pytest.approx(0.4, abs=0.06)
        assert fit.p_scaled > 0.001 and fit.cfi_scaled > 0.98


def test_misspecified_model_is_detected(rng):
    lam = np.zeros((8, 2))
    lam[:4, 0] = 0.7
    lam[4:, 1] = 0.7
    data = simulate(rng, 1500, lam, np.array([[1.0, 0.2], [0.2, 1.0]]))
    fit = cfa(data, {"g": list(data.columns)})
    assert fit.p < 1e-6 and fit.rmsea > 0.1 and fit.cfi < 0.9
    top = fit.modification_indices.iloc[0]
    assert top["op"] == "~~" and top["mi"] > 20


# ------------------------------------------------------------------ errors and warnings


@pytest.fixture
def small(rng) -> pd.DataFrame:
    lam = np.zeros((6, 2))
    lam[:3, 0] = 0.7
    lam[3:, 1] = 0.7
    return simulate(rng, 300, lam, np.array([[1.0, 0.3], [0.3, 1.0]]))


def test_unknown_item_is_named(small):
    with pytest.raises(InstrumentError, match="'f'.*'zz'"):
        cfa(small, {"f": ["i1", "i2", "zz"]})


@pytest.mark.parametrize("model, message", [
    ({}, "non-empty mapping"),
    ({"f": []}, "lists no items"),
    ({"f": "i1"}, "must list its items"),
    ({"f": ["i1", "i2", "i1"]}, "twice"),
    ({"i1": ["i1", "i2", "i3"]}, "both as factor and item"),
])
def test_malformed_model_raises(small, model, message):
    with pytest.raises(InstrumentError, match=message):
        cfa(small, model)


def test_bad_correlated_residuals_raise(small):
    model = {"f": ["i1", "i2", "i3"]}
    with pytest.raises(InstrumentError, match="'i6' is not in the model"):
        cfa(small, model, correlated_residuals=[("i1", "i6")])
    with pytest.raises(InstrumentError, match="names one item twice"):
        cfa(small, model, correlated_residuals=[("i1", "i1")])
    with pytest.raises(InstrumentError, match="pairs"):
        cfa(small, model, correlated_residuals=[("i1", "i2", "i3")])


def test_bad_estimator_and_settings_raise(small):
    model = {"f": ["i1", "i2", "i3"]}
    with pytest.raises(ValueError, match="estimator"):
        cfa(small, model, "gls")
    with pytest.raises(ValueError, match="max_iter"):
        cfa(small, model, max_iter=0)
    with pytest.raises(ValueError, match="missing must be"):
        cfa(small, model, missing="pairwise")
    with pytest.raises(ValueError, match="applies to estimator='ml'"):
        cfa(small, model, "dwls", missing="fiml")
    with pytest.raises(ValueError, match="information"):
        cfa(small, model, "uls", information="observed")


def test_single_item_factor_is_not_identified(small):
    with pytest.raises(EstimationError, match="factor 'b' has a single item"):
        cfa(small, {"a": ["i1", "i2", "i3"], "b": ["i4"]})


def test_negative_df_raises(small):
    with pytest.raises(EstimationError, match=r"df = -1"):
        cfa(small, {"f": ["i1", "i2"]})


def test_empirically_unidentified_model_raises(small):
    # df = 0, yet the factor variance and the loadings of i3/i4 are confounded
    with pytest.raises(EstimationError, match="not identified"):
        cfa(small, {"f": ["i1", "i2", "i3", "i4"]}, correlated_residuals=[("i1", "i2"), ("i3", "i4")])


def test_non_convergence_warns(small):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = cfa(small, {"a": ["i1", "i2", "i3"], "b": ["i4", "i5", "i6"]}, max_iter=1)
    assert not fit.converged
    assert "NOT CONVERGED" in fit.summary()


def test_ml_rejects_non_numeric_and_constant_data(small):
    bad = small.astype(object)
    bad.iloc[7, 2] = "abc"
    with pytest.raises(ResponseError, match=r"row 7.*'i3'.*'abc'"):
        cfa(bad, {"f": ["i1", "i2", "i3"]})
    flat = small.copy()
    flat["i2"] = 1.0
    with pytest.raises(ResponseError, match="'i2' has zero variance"):
        cfa(flat, {"f": ["i1", "i2", "i3"]})
    with pytest.raises(ResponseError, match="more respondents than items"):
        cfa(small.iloc[:3], {"f": ["i1", "i2", "i3"]})


def test_ordinal_rejects_continuous_scores(small):
    with pytest.raises(ResponseError, match="not an integer"):
        cfa(small, {"f": ["i1", "i2", "i3"]}, "dwls")


def test_ordinal_rejects_item_with_one_category(ordinal):
    flat = ordinal.copy()
    flat["q2"] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(ResponseError, match="'q2'"):
            cfa(flat, TWO, "dwls")


# ------------------------------------------------------------------ result object


def test_result_object(small):
    model = {"a": ["i1", "i2", "i3"], "b": ["i4", "i5", "i6"]}
    fit = cfa(small.to_numpy(), {"a": ["item1", "item2", "item3"], "b": ["item4", "item5", "item6"]})
    assert fit.df == 8
    named = cfa(small, model)
    assert fit.chi2 == pytest.approx(named.chi2, rel=1e-12)
    measures = named.fit_measures()
    assert measures["chi2"] == named.chi2 and measures["rmsea_ci_high"] == named.rmsea_ci[1]
    frame = named.to_frame()
    assert list(frame.columns) == ["lhs", "op", "rhs", "free", "est", "se", "z", "p", "est_std", "se_std"]
    assert "CFI" in named.summary() and "Standardized loadings" in named.summary()
    assert named.implied.shape == (6, 6) and named.sample.shape == (6, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        named.chi2 = 0.0  # type: ignore[misc]
    assert named.missing == "listwise"
    # results survive pickling (modification indices are computed lazily)
    copy = pickle.loads(pickle.dumps(named))
    pd.testing.assert_frame_equal(copy.modification_indices, named.modification_indices)


# ------------------------------------------------------------------ orthogonal factors, std.lv, bifactor
#
# Reference numbers: tests/reference/omega_bifactor.csv, written by tests/reference/omega_bifactor.R
# (lavaan 0.6.14: cfa(model, data, orthogonal = TRUE, std.lv = TRUE), estimators ML, ML with
# missing = "ml", WLSMV and ULSMV) on Holzinger & Swineford and on the seeded data of
# tests/reference/omega_bifactor_make_data.py. Agreement is about 1e-6; tolerance 1e-3 as asked
# of fit indices and standardized loadings.

BIFACTOR_TOL = 1e-3
Y = [f"y{j}" for j in range(1, 13)]
Q = [f"q{j}" for j in range(1, 13)]
Y_BIFACTOR = {"g": Y, "s1": Y[:4], "s2": Y[4:8], "s3": Y[8:]}
Q_BIFACTOR = {"g": Q, "s1": Q[:4], "s2": Q[4:8], "s3": Q[8:]}
HS_BIFACTOR = {"g": [f"x{j}" for j in range(1, 10)], **HS_MODEL}


def lavaan_reference(case: str) -> dict[str, float]:
    table = pd.read_csv(REFERENCE / "omega_bifactor.csv")
    block = table[table["case"] == case]
    return dict(zip(block["key"], block["value"].astype(float)))


def reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"omega_bifactor_{name}.csv")


def check_against_lavaan(fit: CFAResult, expected: dict[str, float], *, scaled: bool = False,
                         se: bool = True, skip_se: tuple[str, ...] = ()) -> None:
    assert fit.converged
    assert fit.df == expected["df"]
    assert fit.chi2 == pytest.approx(expected["chisq"], abs=BIFACTOR_TOL)
    for ours, theirs in [("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("srmr", "srmr")]:
        assert getattr(fit, ours) == pytest.approx(expected[theirs], abs=BIFACTOR_TOL), ours
    assert fit.rmsea_ci[0] == pytest.approx(expected["rmsea.ci.lower"], abs=BIFACTOR_TOL)
    assert fit.rmsea_ci[1] == pytest.approx(expected["rmsea.ci.upper"], abs=BIFACTOR_TOL)
    if scaled:
        assert fit.chi2_scaled == pytest.approx(expected["chisq.scaled"], abs=BIFACTOR_TOL)
        assert fit.scaling_factor == pytest.approx(expected["chisq.scaling.factor"], abs=BIFACTOR_TOL)
        for ours, theirs in [("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"),
                             ("rmsea_scaled", "rmsea.scaled")]:
            assert getattr(fit, ours) == pytest.approx(expected[theirs], abs=BIFACTOR_TOL), ours
    n_checked = 0
    for factor in fit.loadings.columns:
        keys = [f"std:{factor}=~{item}" for item in fit.loadings.index]
        listed = [(item, key) for item, key in zip(fit.loadings.index, keys) if key in expected]
        # with std.lv a factor's sign is arbitrary: ours sum to >= 0, lavaan's need not
        sign = 1.0 if sum(expected[key] for _, key in listed) >= 0 else -1.0
        for item, key in listed:
            assert fit.loadings.loc[item, factor] == pytest.approx(sign * expected[key], abs=BIFACTOR_TOL), key
            if se and factor not in skip_se:
                assert fit.loadings_se.loc[item, factor] == pytest.approx(
                    expected[key.replace("std:", "se:")], abs=BIFACTOR_TOL), key
            n_checked += 1
    assert n_checked == int(fit.loadings.ne(0).to_numpy().sum())
    for item in fit.residual_variances.index:
        assert fit.residual_variances[item] == pytest.approx(expected[f"std:{item}~~{item}"], abs=BIFACTOR_TOL)


def test_bifactor_holzinger_matches_lavaan(holzinger):
    # lavaan converges to an improper solution here (x1's residual variance -0.84: the visual
    # group factor collapses onto x1) and so do we; its visual loadings have standard errors
    # near 3, so only their estimates are compared
    with pytest.warns(ModelWarning, match="x1"):
        fit = cfa(holzinger, HS_BIFACTOR, orthogonal=True, std_lv=True)
    check_against_lavaan(fit, lavaan_reference("hs_bifactor"), skip_se=("visual",))
    assert fit.df == 18
    assert fit.chi2 == pytest.approx(34.880098117659, abs=1e-4)
    np.testing.assert_array_equal(fit.factor_correlations.to_numpy(), np.eye(4))


def test_orthogonal_holzinger_matches_lavaan(holzinger):
    # lavaan: cfa(three-factor model, data = hs, orthogonal = TRUE) -- markers
    expected = lavaan_reference("hs_orthogonal")
    fit = cfa(holzinger, HS_MODEL, orthogonal=True)
    check_against_lavaan(fit, expected)
    assert fit.df == 27
    # the factor covariances fixed at 0 become modification-index candidates
    mi = fit.modification_indices.set_index(["lhs", "op", "rhs"])
    for pair in [("visual", "textual"), ("visual", "speed"), ("textual", "speed")]:
        key = f"{pair[0]}~~{pair[1]}"
        row = mi.loc[(pair[1], "~~", pair[0])] if (pair[1], "~~", pair[0]) in mi.index else mi.loc[
            (pair[0], "~~", pair[1])]
        assert row["mi"] == pytest.approx(expected[f"mi:{key}"], abs=1e-3), key
        assert row["epc"] == pytest.approx(expected[f"epc:{key}"], abs=1e-3), key
    # std.lv changes the parametrization, not the fit or the standardized solution
    unit = cfa(holzinger, HS_MODEL, orthogonal=True, std_lv=True)
    assert unit.chi2 == pytest.approx(fit.chi2, abs=1e-8)
    np.testing.assert_allclose(unit.loadings.to_numpy(), fit.loadings.to_numpy(), atol=1e-7)
    np.testing.assert_allclose(unit.loadings_se.to_numpy(), fit.loadings_se.to_numpy(), atol=1e-6)
    unit_mi = unit.modification_indices.set_index(["lhs", "op", "rhs"])["mi"]
    np.testing.assert_allclose(unit_mi.loc[mi.index].to_numpy(), mi["mi"].to_numpy(), atol=1e-6)


def test_std_lv_on_correlated_factors_matches_markers(holzinger):
    marker = cfa(holzinger, HS_MODEL)
    unit = cfa(holzinger, HS_MODEL, std_lv=True)
    assert unit.chi2 == pytest.approx(marker.chi2, abs=1e-8) and unit.df == marker.df
    np.testing.assert_allclose(unit.loadings.to_numpy(), marker.loadings.to_numpy(), atol=1e-7)
    np.testing.assert_allclose(unit.factor_correlations.to_numpy(), marker.factor_correlations.to_numpy(),
                               atol=1e-7)
    table = unit.parameters
    # every loading is free, factor variances are fixed at 1 and so not listed
    assert table.loc[table["op"] == "=~", "free"].all() and (table["op"] == "=~").sum() == 9
    assert not ((table["op"] == "~~") & (table["lhs"] == table["rhs"]) & table["lhs"].isin(HS_MODEL)).any()
    loadings = table[table["op"] == "=~"]
    # unstandardized loadings are now in units of standardized factors: est_std = est / sd(item)
    sd = np.sqrt(np.diag(unit.implied.to_numpy()))
    position = {item: j for j, item in enumerate(unit.implied.index)}
    np.testing.assert_allclose(loadings["est"] / sd[loadings["rhs"].map(position)], loadings["est_std"],
                               atol=1e-10)


def test_bifactor_continuous_ml_matches_lavaan():
    fit = cfa(reference_data("continuous"), Y_BIFACTOR, orthogonal=True, std_lv=True)
    check_against_lavaan(fit, lavaan_reference("cont_ml"))


def test_bifactor_fiml_matches_lavaan():
    # lavaan: missing = "ml"; 6% of cells missing at random
    fit = cfa(reference_data("continuous_missing"), Y_BIFACTOR, orthogonal=True, std_lv=True,
              missing="fiml")
    check_against_lavaan(fit, lavaan_reference("cont_fiml"))
    assert fit.n_persons == 500


@pytest.mark.parametrize("estimator, case", [("dwls", "ord_wlsmv"), ("uls", "ord_ulsmv")])
def test_bifactor_ordinal_matches_lavaan(estimator, case):
    fit = cfa(reference_data("ordinal"), Q_BIFACTOR, estimator, orthogonal=True, std_lv=True)
    check_against_lavaan(fit, lavaan_reference(case), scaled=True)


def test_bifactor_ordinal_pairwise_missing_matches_lavaan():
    fit = cfa(reference_data("ordinal_missing"), Q_BIFACTOR, "dwls", orthogonal=True, std_lv=True)
    check_against_lavaan(fit, lavaan_reference("ord_wlsmv_pairwise"), scaled=True)
    assert fit.missing == "pairwise"


def test_misspecified_bifactor_ordinal_matches_lavaan():
    # the s3 items load on g only: indices away from their bounds (scaled CFI .987, RMSEA .046)
    model = {"g": Q, "s1": Q[:4], "s2": Q[4:8]}
    fit = cfa(reference_data("ordinal"), model, "dwls", orthogonal=True, std_lv=True)
    check_against_lavaan(fit, lavaan_reference("ord_wlsmv_misfit"), scaled=True)
    top = fit.modification_indices.iloc[0]
    assert (top["lhs"], top["op"], top["rhs"]) == ("s1", "~~", "s2")


def simulate_bifactor(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    general = np.array([0.7, 0.6, 0.5, 0.6, 0.5, 0.7, 0.55, 0.65, 0.6])
    group = np.array([0.5, 0.4, 0.45, 0.35, 0.5, 0.4, 0.45, 0.4, 0.3])
    loadings = np.zeros((9, 4))
    loadings[:, 0] = general
    loadings[np.arange(9), 1 + np.repeat(np.arange(3), 3)] = group
    return simulate(rng, n, loadings, np.eye(4)), loadings


def test_bifactor_recovers_simulated_loadings(rng):
    data, truth = simulate_bifactor(rng, 4000)
    items = list(data.columns)
    model = {"g": items, "a": items[:3], "b": items[3:6], "c": items[6:]}
    fit = cfa(data, model, orthogonal=True, std_lv=True)
    assert fit.converged and fit.df == 18 and fit.p > 0.001
    np.testing.assert_allclose(fit.loadings.to_numpy(), truth, atol=0.06)
    # marker identification reaches the same optimum when no marker loads near 0
    marker = cfa(data, model, orthogonal=True)
    assert marker.chi2 == pytest.approx(fit.chi2, abs=1e-6)
    np.testing.assert_allclose(marker.loadings.to_numpy(), fit.loadings.to_numpy(), atol=1e-5)
    # ordinal version
    cuts = np.array([-1.5, -0.5, 0.5, 1.5])
    coded = 1 + (data.to_numpy()[:, :, None] > cuts).sum(axis=2)
    ordinal_fit = cfa(pd.DataFrame(coded, columns=items), model, "dwls", orthogonal=True, std_lv=True)
    np.testing.assert_allclose(ordinal_fit.loadings.to_numpy(), truth, atol=0.07)


def test_bifactor_sign_is_normalized(rng):
    data, _ = simulate_bifactor(rng, 1000)
    items = list(data.columns)
    model = {"g": items, "a": items[:3], "b": items[3:6], "c": items[6:]}
    flipped = data.copy()
    flipped[items[:3]] = -flipped[items[:3]]
    fit = cfa(flipped, model, orthogonal=True, std_lv=True)
    assert (fit.loadings.sum() >= 0).all()
    reference = cfa(data, model, orthogonal=True, std_lv=True)
    assert fit.chi2 == pytest.approx(reference.chi2, abs=1e-6)
    # reversing items reverses their rows: g keeps its sign, group factor a is all-negative
    # in one fit and all-positive in the other, so its column is reflected as a whole
    np.testing.assert_allclose(fit.loadings.loc[items[3:], "g"], reference.loadings.loc[items[3:], "g"],
                               atol=1e-6)
    np.testing.assert_allclose(np.abs(fit.loadings.to_numpy()), np.abs(reference.loadings.to_numpy()),
                               atol=1e-6)


def test_bifactor_bad_settings_raise(small):
    items = list(small.columns)
    with pytest.raises(TypeError, match="orthogonal"):
        cfa(small, {"f": items}, orthogonal="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="std_lv"):
        cfa(small, {"f": items}, std_lv=1)  # type: ignore[arg-type]
    # two orthogonal factors on the same items can be rotated into each other
    with pytest.raises(EstimationError, match="not identified"):
        cfa(small, {"g": items, "s": items}, orthogonal=True, std_lv=True)
    with pytest.raises(EstimationError, match="factor 's' has a single item"):
        cfa(small, {"g": items, "s": ["i1"], "t": items[1:4]}, orthogonal=True, std_lv=True)
