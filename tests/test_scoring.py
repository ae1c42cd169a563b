"""Tests of psychometrics/scoring.py.

Reference values:
- mirt 1.47 published LSAT7 2PL results (issue 3): EAP for sum score 0 -> -1.870 (SE 0.693),
  sum score 5 -> 0.727 (SE 0.801), marginal reliability 0.442; the item parameters are rounded
  to 3 digits, so those checks allow 0.002.
- tests/reference/scoring_reference.R (output in scoring_reference.out): EAP by R's
  integrate(), MAP/ML by optimize()/uniroot(), WLE by uniroot() on Warm's equation, for 2PL,
  3PL and graded items. The 61-node grid reproduces the integrals to about 1e-6; the iterative
  estimates agree to the tolerance of the Fisher scoring (1e-8) plus that of the central
  differences (1e-8); we allow 1e-5.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from psychometrics import scoring
from psychometrics.data import Responses, load_responses
from psychometrics.errors import ConvergenceWarning, ResponseError
from psychometrics.irt import Calibration
from psychometrics.scoring import (
    eap_sum_table,
    empirical_reliability,
    marginal_reliability,
    plausible_values,
    score,
)

LSAT7_ITEMS = [f"Item.{i}" for i in range(1, 6)]
LSAT7_A = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
LSAT7_B = np.array([-1.879, -0.748, -1.058, -0.635, -2.520])

GRADED_A = np.array([1.5, 0.9, 2.1])
GRADED_B = np.array([[-1.5, 0.0, 1.2], [-0.8, 0.4, 2.0], [-2.0, -0.6, 0.5]])
GRADED_ITEMS = ["g1", "g2", "g3"]

THREE_PL = pd.DataFrame({"a": [1.2, 0.8, 1.6], "b": [-0.5, 0.3, 1.0], "g": [0.2, 0.25, 0.15]},
                        index=["t1", "t2", "t3"])

# From tests/reference/scoring_reference.out.
# pattern: EAP, SD, MAP, ML (None = infinite), WLE
LSAT7_R = {
    (0, 0, 0, 0, 0): (-1.8700462441, 0.6927002619, -1.8167408448, None, -4.1358341407),
    (1, 1, 1, 1, 1): (0.7271093698, 0.8009643399, 0.6381175041, None, 1.0882574567),
    (1, 0, 1, 0, 1): (-0.3037108515, 0.7004747786, -0.3656681758, -0.6553996507, -0.7622422500),
    (0, 1, 1, 0, 0): (-0.6092740037, 0.6796585569, -0.6501112485, -1.1063337592, -1.1035364487),
    (1, 1, 1, 0, 1): (0.2652872738, 0.7536173053, 0.1795301394, 0.4268617945, -0.0322459808),
    (np.nan, 1, 0, np.nan, 1): (-0.5142593029, 0.7407654113, -0.5643174756, -1.0899942511, -1.0757240786),
    (0, np.nan, np.nan, np.nan, np.nan): (-0.7182616682, 0.9257156886, -0.7450107399, None, -2.9909557578),
}
LSAT7_R_MARGINAL_RXX = 0.4417402065
# pattern: ML, WLE, information at the ML estimate
THREE_PL_R = {
    (1, 0, 1): (1.3323040977, 1.1092041073, 0.6591366211),
    (1, 1, 0): (0.4246660704, 0.5045955458, 0.6211454813),
    (0, 1, 1): (0.5223366711, 0.6107653886, 0.6460231108),
}
THREE_PL_R_WLE_EXTREME = {(0, 0, 0): -1.7639281337, (1, 1, 1): 1.8590432214}
# pattern (0-based categories): EAP, SD, MAP, ML
GRADED_R = {
    (0, 1, 2): (-0.4808207495, 0.5747884645, -0.4698928335, -0.6830545952),
    (3, 2, 1): (0.0743274064, 0.6527500995, 0.0356042110, 0.0617534386),
    (1, np.nan, 3): (0.3649265835, 0.6458364986, 0.3535159013, 0.5609138808),
    (2, 2, 2): (0.2296879850, 0.5306865964, 0.2281609154, 0.3101423855),
}
GRADED_R_WLE = {(0, 1, 2): -0.6586413361, (3, 2, 1): 0.0676646375,
                (0, 0, 0): -2.8035705167, (3, 3, 3): 2.7541024861}

R_TOL = 1e-5


# ---------------------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------------------


def _two_pl(a: np.ndarray, b: np.ndarray, items: list[str]) -> Calibration:
    return Calibration.from_item_params(pd.DataFrame({"a": a, "b": b}, index=items), "2pl")


@pytest.fixture(scope="module")
def lsat7() -> Calibration:
    return _two_pl(LSAT7_A, LSAT7_B, LSAT7_ITEMS)


@pytest.fixture(scope="module")
def graded() -> Calibration:
    params = pd.DataFrame({"a": GRADED_A, "b1": GRADED_B[:, 0], "b2": GRADED_B[:, 1],
                           "b3": GRADED_B[:, 2]}, index=GRADED_ITEMS)
    return Calibration.from_item_params(params, "graded")


@pytest.fixture(scope="module")
def three_pl() -> Calibration:
    return Calibration.from_item_params(THREE_PL, "3pl")


def _frame(patterns, items) -> pd.DataFrame:
    return pd.DataFrame(np.array(patterns, dtype=float), columns=items)


def _simulate_2pl(rng: np.random.Generator, n_persons: int, n_items: int):
    a = rng.lognormal(0.0, 0.3, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(0.0, 1.0, n_persons)
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random(p.shape) < p).astype(float)
    items = [f"q{j + 1:02d}" for j in range(n_items)]
    return a, b, theta, pd.DataFrame(x, columns=items, index=[f"p{i}" for i in range(n_persons)])


# ---------------------------------------------------------------------------------------
# EAP and the sum-score table: published mirt values and R integrals
# ---------------------------------------------------------------------------------------


def test_eap_lsat7_extreme_patterns_match_mirt(lsat7):
    result = score(lsat7, _frame([[0] * 5, [1] * 5], LSAT7_ITEMS), method="eap")
    # mirt 1.47, LSAT7 2PL, fscores(EAP): -1.870 (0.693) and 0.727 (0.801); params rounded
    np.testing.assert_allclose(result["theta"], [-1.870, 0.727], atol=0.002)
    np.testing.assert_allclose(result["se"], [0.693, 0.801], atol=0.002)


def test_eap_sum_table_lsat7_matches_mirt(lsat7):
    table = eap_sum_table(lsat7)
    assert list(table.columns) == ["sum_score", "theta", "se", "probability"]
    assert table["sum_score"].tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(table["theta"].iloc[[0, 5]], [-1.870, 0.727], atol=0.002)
    np.testing.assert_allclose(table["se"].iloc[[0, 5]], [0.693, 0.801], atol=0.002)
    assert table["probability"].sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_lsat7_patterns_match_r(lsat7, method):
    patterns = list(LSAT7_R)
    result = score(lsat7, _frame(patterns, LSAT7_ITEMS), method=method)
    column = {"eap": 0, "map": 2, "ml": 3, "wle": 4}[method]
    for i, pattern in enumerate(patterns):
        expected = LSAT7_R[pattern][column]
        if expected is None:
            answered = [v for v in pattern if not np.isnan(v)]
            assert result["theta"].iloc[i] == (np.inf if answered[0] == 1 else -np.inf)
            assert result["se"].iloc[i] == np.inf
        else:
            assert result["theta"].iloc[i] == pytest.approx(expected, abs=R_TOL), pattern
    if method == "eap":
        np.testing.assert_allclose(result["se"], [v[1] for v in LSAT7_R.values()], atol=R_TOL)


def test_marginal_reliability_lsat7(lsat7):
    value = marginal_reliability(lsat7)
    assert value == pytest.approx(0.442, abs=0.002)  # mirt 1.47 marginal_rxx, published
    assert value == pytest.approx(LSAT7_R_MARGINAL_RXX, abs=1e-6)  # R integrate()


def test_eap_with_a_stated_prior_matches_quadrature(lsat7):
    # brute force: scipy.integrate.quad of the posterior with a N(1, 4) prior
    pattern = np.array([1, 0, 1, 1, 0], dtype=float)
    p = lambda t: 1 / (1 + np.exp(-LSAT7_A * (t - LSAT7_B)))  # noqa: E731
    post = lambda t: np.prod(np.where(pattern == 1, p(t), 1 - p(t))) * stats.norm.pdf(t, 1, 2)  # noqa: E731
    norm = integrate.quad(post, -20, 20, epsabs=1e-14)[0]
    mean = integrate.quad(lambda t: t * post(t), -20, 20, epsabs=1e-14)[0] / norm
    var = integrate.quad(lambda t: (t - mean) ** 2 * post(t), -20, 20, epsabs=1e-14)[0] / norm
    result = score(lsat7, _frame([pattern], LSAT7_ITEMS), method="EAP", prior_mean=1.0, prior_variance=4.0,
                   quadrature_points=121)
    assert result["theta"].iloc[0] == pytest.approx(mean, abs=1e-6)
    assert result["se"].iloc[0] == pytest.approx(np.sqrt(var), abs=1e-6)


def test_lsat7_data_scores(lsat7, shared_data):
    table = pd.read_csv(shared_data / "LSAT7.csv")
    data = table.loc[table.index.repeat(table["freq"])].drop(columns="freq").reset_index(drop=True)
    eap = score(lsat7, data, method="eap")
    sums = data.sum(axis=1)
    np.testing.assert_allclose(eap["theta"][sums == 0], -1.870, atol=0.002)  # mirt 1.47
    np.testing.assert_allclose(eap["theta"][sums == 5], 0.727, atol=0.002)
    # At the MML estimates, the EAP mean and var(EAP) + mean(PSD^2) reproduce the latent
    # mean 0 and variance 1 (parameters rounded to 3 digits: allow 0.005 / 0.01).
    assert eap["theta"].mean() == pytest.approx(0.0, abs=0.005)
    assert eap["theta"].var(ddof=0) + (eap["se"] ** 2).mean() == pytest.approx(1.0, abs=0.01)
    # the model-implied sum-score distribution matches the observed one (n = 1000)
    observed = sums.value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(eap_sum_table(lsat7)["probability"], observed, atol=0.02)


def test_sat12_calibrated_with_missing_responses(shared_data):
    # Real dichotomous data with 69 omitted responses, calibrated by this package's MML-EM.
    from psychometrics.irt import calibrate

    data = pd.read_csv(shared_data / "SAT12_scored.csv")
    calibration = calibrate(data, model="2pl")
    eap = score(calibration, data, method="eap")
    assert eap.index.equals(data.index)
    np.testing.assert_array_equal(eap["n_answered"], data.notna().sum(axis=1))
    assert np.isfinite(eap[["theta", "se"]].to_numpy()).all()
    # at the MML estimates the posterior means average to the latent mean and the
    # empirical reliability sits next to the model's marginal reliability (n = 600)
    assert eap["theta"].mean() == pytest.approx(calibration.latent_mean, abs=0.02)
    assert empirical_reliability(eap) == pytest.approx(marginal_reliability(calibration), abs=0.02)
    wle = score(calibration, data, method="wle")
    assert np.isfinite(wle["theta"]).all()
    assert np.corrcoef(wle["theta"], eap["theta"])[0, 1] > 0.97


def test_sum_table_equals_pattern_enumeration(graded):
    # The Lord-Wingersky table must equal brute-force enumeration of all 4^3 patterns.
    patterns = np.array(list(itertools.product(range(4), repeat=3)), dtype=float)
    nodes = np.linspace(-6, 6, 61)
    weights = stats.norm.pdf(nodes)
    weights /= weights.sum()
    prob = graded.probabilities(nodes)  # (items, Q, K)
    like = np.ones((len(patterns), nodes.size))
    for j in range(3):
        like *= prob[j][:, patterns[:, j].astype(int)].T
    marginal = like @ weights
    post_mean = (like * weights) @ nodes / marginal
    sums = patterns.sum(axis=1).astype(int)
    table = eap_sum_table(graded)
    assert table["sum_score"].tolist() == list(range(10))
    for s in range(10):
        chosen = sums == s
        assert table["probability"].iloc[s] == pytest.approx(marginal[chosen].sum(), rel=1e-10)
        expected = (marginal[chosen] * post_mean[chosen]).sum() / marginal[chosen].sum()
        assert table["theta"].iloc[s] == pytest.approx(expected, abs=1e-10)


def test_sum_table_long_test_does_not_underflow(rng):
    a, b, _, _ = _simulate_2pl(rng, 1, 400)
    calibration = _two_pl(a, b, [f"q{j}" for j in range(400)])
    table = eap_sum_table(calibration)
    assert len(table) == 401
    assert np.isfinite(table["theta"]).all()
    assert table["probability"].sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.diff(table["theta"]) > 0)


# ---------------------------------------------------------------------------------------
# MAP / ML / WLE against R and against scipy root finding
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_graded_patterns_match_r(graded, method):
    if method == "wle":
        patterns = list(GRADED_R_WLE)
        expected = list(GRADED_R_WLE.values())
    else:
        patterns = list(GRADED_R)
        expected = [GRADED_R[p][{"eap": 0, "map": 2, "ml": 3}[method]] for p in patterns]
    result = score(graded, _frame(patterns, GRADED_ITEMS), method=method)
    np.testing.assert_allclose(result["theta"], expected, atol=R_TOL)
    if method == "eap":
        np.testing.assert_allclose(result["se"], [GRADED_R[p][1] for p in patterns], atol=R_TOL)


def test_three_pl_ml_wle_match_r(three_pl):
    patterns = list(THREE_PL_R)
    ml = score(three_pl, _frame(patterns, list(THREE_PL.index)), method="ml")
    wle = score(three_pl, _frame(patterns, list(THREE_PL.index)), method="wle")
    np.testing.assert_allclose(ml["theta"], [v[0] for v in THREE_PL_R.values()], atol=R_TOL)
    np.testing.assert_allclose(wle["theta"], [v[1] for v in THREE_PL_R.values()], atol=R_TOL)
    # SE of ML = 1 / sqrt(I(theta_ML)), with I from R's closed form
    np.testing.assert_allclose(ml["se"], [1 / np.sqrt(v[2]) for v in THREE_PL_R.values()], rtol=1e-5)


def test_wle_is_finite_for_extreme_patterns(three_pl, graded, lsat7):
    wle = score(three_pl, _frame(list(THREE_PL_R_WLE_EXTREME), list(THREE_PL.index)), method="wle")
    np.testing.assert_allclose(wle["theta"], list(THREE_PL_R_WLE_EXTREME.values()), atol=R_TOL)
    assert wle["flag"].tolist() == ["all_lowest", "all_highest"]
    graded_wle = score(graded, _frame([[0, 0, 0], [3, 3, 3]], GRADED_ITEMS), method="wle")
    assert np.isfinite(graded_wle["theta"]).all() and np.isfinite(graded_wle["se"]).all()
    assert score(lsat7, _frame([[0] * 5], LSAT7_ITEMS), method="wle")["theta"].iloc[0] > -np.inf


def test_ml_and_wle_match_scipy_root_finding(rng):
    a, b, _, data = _simulate_2pl(rng, 40, 15)
    calibration = _two_pl(a, b, list(data.columns))
    data = data.mask(rng.random(data.shape) < 0.2)
    ml = score(calibration, data, method="ml")
    wle = score(calibration, data, method="wle")
    for i in range(12):
        x = data.iloc[i].to_numpy()
        seen = ~np.isnan(x)
        aj, bj, xj = a[seen], b[seen], x[seen]
        if xj.min() == xj.max():
            continue

        def p(t):
            return 1 / (1 + np.exp(-aj * (t - bj)))

        def gradient(t):
            return np.sum(aj * (xj - p(t)))

        def warm(t):
            pt = p(t)
            info = np.sum(aj**2 * pt * (1 - pt))
            return gradient(t) + np.sum(aj**3 * pt * (1 - pt) * (1 - 2 * pt)) / (2 * info)

        root = optimize.brentq(gradient, -15, 15, xtol=1e-13)
        assert ml["theta"].iloc[i] == pytest.approx(root, abs=1e-6)
        pt = p(root)
        assert ml["se"].iloc[i] == pytest.approx(1 / np.sqrt(np.sum(aj**2 * pt * (1 - pt))), rel=1e-6)
        assert wle["theta"].iloc[i] == pytest.approx(optimize.brentq(warm, -15, 15, xtol=1e-13), abs=1e-6)


def test_map_matches_scipy_optimum_and_posterior_se(graded, rng):
    data = pd.DataFrame(rng.integers(0, 4, size=(8, 3)).astype(float), columns=GRADED_ITEMS)
    result = score(graded, data, method="map", prior_mean=0.5, prior_variance=2.0)
    for i in range(len(data)):
        codes = data.iloc[i].to_numpy().astype(int)

        def negative_log_posterior(t):
            log_p = graded.log_probabilities(np.array([t]))[:, 0, :]
            return -(log_p[np.arange(3), codes].sum() + stats.norm.logpdf(t, 0.5, np.sqrt(2.0)))

        best = optimize.minimize_scalar(negative_log_posterior, bounds=(-8, 8), method="bounded",
                                        options={"xatol": 1e-12})
        assert result["theta"].iloc[i] == pytest.approx(best.x, abs=1e-6)
        info = graded.information(np.array([best.x])).sum()
        assert result["se"].iloc[i] == pytest.approx(1 / np.sqrt(info + 0.5), rel=1e-6)


FAMILIES = {
    "rasch": pd.DataFrame({"b": [-1.0, 0.2, 0.8, -0.3]}),
    "4pl": pd.DataFrame({"a": [1.0, 0.7, 1.5, 1.2], "b": [-1.0, 0.2, 0.5, -0.2], "g": [0.1, 0.2, 0.15, 0.0],
                         "u": [0.9, 0.95, 1.0, 0.97]}),
    "gpcm": pd.DataFrame({"a": [1.0, 0.7, 1.4, 0.9], "b1": [-1.0, 0.2, -0.4, 0.0], "b2": [0.5, 1.1, 0.3, 0.8]}),
    "pcm": pd.DataFrame({"b1": [-1.0, 0.2, -0.4, 0.0], "b2": [0.5, 1.1, 0.3, 0.8]}),
    "graded": pd.DataFrame({"a": [1.0, 0.7, 1.4, 0.9], "b1": [-1.0, 0.2, -0.4, 0.0], "b2": [0.5, 1.1, 0.3, 0.8]}),
}
# divide-by-total (exponential-family) models: Warm's J equals I', so the WLE maximizes
# L + log(I) / 2 (Warm 1989), an identity independent of how score() computes J
EXPONENTIAL_FAMILY = {"rasch", "gpcm", "pcm"}


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_every_model_family_matches_scipy(model, rng):
    params = FAMILIES[model].set_axis([f"i{j}" for j in range(4)])
    calibration = Calibration.from_item_params(params, model)
    k = len(calibration.categories["i0"])
    data = pd.DataFrame(rng.integers(0, k, size=(10, 4)).astype(float), columns=params.index)
    data = data.mask(rng.random(data.shape) < 0.25)
    results = {m: score(calibration, data, method=m) for m in ("ml", "map", "wle")}
    for i in range(len(data)):
        x = data.iloc[i].to_numpy()
        seen = np.flatnonzero(~np.isnan(x))
        codes = x[seen].astype(int)
        if seen.size == 0:
            continue

        def loglik(t):
            return calibration.log_probabilities(np.array([t]))[seen, 0, codes].sum()

        def best(f):
            return optimize.minimize_scalar(lambda t: -f(t), bounds=(-10, 10), method="bounded",
                                            options={"xatol": 1e-10}).x

        mode = best(lambda t: loglik(t) + stats.norm.logpdf(t))
        assert results["map"]["theta"].iloc[i] == pytest.approx(mode, abs=1e-5), (model, i)
        if codes.max() > 0 and codes.min() < k - 1:  # not an extreme pattern
            ml = best(loglik)
            if abs(ml) < 9.9:  # otherwise the supremum is at infinity (4PL) or off the bracket
                assert results["ml"]["theta"].iloc[i] == pytest.approx(ml, abs=1e-5), (model, i)
        if model in EXPONENTIAL_FAMILY:
            wle = best(lambda t: loglik(t) + 0.5 * np.log(calibration.information(np.array([t]))[0, seen].sum()))
            assert results["wle"]["theta"].iloc[i] == pytest.approx(wle, abs=1e-5), (model, i)
        assert np.isfinite(results["wle"]["theta"].iloc[i])


# ---------------------------------------------------------------------------------------
# flags, extremes, persons without responses
# ---------------------------------------------------------------------------------------


def test_ml_extreme_patterns_are_infinite_with_flag(lsat7):
    data = _frame([[0, 0, np.nan, 0, 0], [1, 1, 1, 1, np.nan], [1, 0, 1, 0, 1]], LSAT7_ITEMS)
    result = score(lsat7, data, method="ML")
    assert result["theta"].iloc[0] == -np.inf and result["theta"].iloc[1] == np.inf
    assert result["se"].iloc[0] == np.inf and result["se"].iloc[1] == np.inf
    assert result["flag"].tolist() == ["all_lowest", "all_highest", ""]
    assert result["n_answered"].tolist() == [4, 4, 5]


def test_persons_without_responses(lsat7):
    data = _frame([[np.nan] * 5, [1, 0, 1, 0, 1]], LSAT7_ITEMS)
    # by default no answers give no estimate
    for method in ("eap", "map"):
        default = score(lsat7, data, method=method)
        assert np.isnan(default["theta"].iloc[0]) and np.isnan(default["se"].iloc[0])
        assert default["flag"].iloc[0] == "no_responses" and np.isfinite(default["theta"].iloc[1])
    eap = score(lsat7, data, method="eap", empty="prior")
    # the prior on the 61-node grid: mean 0, SD 1 (to 1e-9)
    assert eap["theta"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert eap["se"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert eap["flag"].iloc[0] == "no_responses" and eap["n_answered"].iloc[0] == 0
    map_ = score(lsat7, data, method="map", prior_mean=0.3, prior_variance=2.0, empty="prior")
    assert map_["theta"].iloc[0] == 0.3 and map_["se"].iloc[0] == pytest.approx(np.sqrt(2.0))
    for method in ("ml", "wle"):
        result = score(lsat7, data, method=method)
        assert np.isnan(result["theta"].iloc[0]) and np.isnan(result["se"].iloc[0])
        assert result["flag"].iloc[0] == "no_responses"
        assert np.isfinite(result["theta"].iloc[1])


def test_ml_unbounded_for_guessing_pattern():
    # With guessing, the likelihood of "only the hard item right" can rise towards -inf: the
    # supremum is at infinity even though the pattern is not extreme.
    params = pd.DataFrame({"a": [2.5, 2.5], "b": [-2.0, 2.5], "g": [0.0, 0.45]}, index=["easy", "hard"])
    calibration = Calibration.from_item_params(params, "3pl")
    result = score(calibration, pd.DataFrame({"easy": [0.0], "hard": [1.0]}), method="ml")
    assert result["theta"].iloc[0] == -np.inf
    assert result["flag"].iloc[0] == "unbounded"


def test_non_convergence_warns_and_flags(lsat7):
    data = _frame([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0]], LSAT7_ITEMS)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = score(lsat7, data, method="ml", max_iter=1)
    assert (result["flag"] == "not_converged").all()


# ---------------------------------------------------------------------------------------
# missing data, subsets, orientation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_missing_responses_equal_scoring_on_answered_items(rng, method):
    a, b, _, data = _simulate_2pl(rng, 300, 12)
    calibration = _two_pl(a, b, list(data.columns))
    data = data.mask(rng.random(data.shape) < 0.3)
    full = score(calibration, data, method=method)
    tol = 1e-10 if method == "eap" else 1e-7
    for i in range(0, 300, 37):
        row = data.iloc[[i]]
        answered = list(row.columns[row.notna().iloc[0]])
        alone = score(calibration, row[answered], method=method)
        np.testing.assert_allclose(alone[["theta", "se"]].to_numpy(), full[["theta", "se"]].iloc[[i]].to_numpy(),
                                   atol=tol)
        assert alone["n_answered"].iloc[0] == len(answered)


def test_item_order_and_subset_do_not_matter(lsat7):
    data = _frame(list(LSAT7_R)[:5], LSAT7_ITEMS)
    reordered = data[LSAT7_ITEMS[::-1]]
    pd.testing.assert_frame_equal(score(lsat7, data, method="wle"), score(lsat7, reordered, method="wle"))
    part = score(lsat7, data[["Item.2", "Item.3", "Item.5"]], method="eap")
    expected = score(lsat7, data.assign(**{"Item.1": np.nan, "Item.4": np.nan}), method="eap")
    pd.testing.assert_frame_equal(part, expected)


def test_index_and_inputs(lsat7):
    data = _frame([[1, 0, 1, 0, 1], [1, 1, 1, 1, 0]], LSAT7_ITEMS)
    data.index = pd.Index(["r-17", "r-03"], name="respondent")
    result = score(lsat7, data)
    assert list(result.index) == ["r-17", "r-03"] and result.index.name == "respondent"
    assert list(result.columns) == ["theta", "se", "n_answered", "flag"]
    assert result["theta"].dtype == np.float64
    pd.testing.assert_frame_equal(score(lsat7, load_responses(data, warn=False)), result)


def test_likert_codes_are_mapped_to_categories():
    params = pd.DataFrame({"a": GRADED_A, "b1": GRADED_B[:, 0], "b2": GRADED_B[:, 1],
                           "b3": GRADED_B[:, 2]}, index=GRADED_ITEMS)
    calibration = Calibration.from_item_params(params, "graded", categories={i: (1, 2, 3, 4) for i in GRADED_ITEMS})
    result = score(calibration, _frame([[1, 2, 3], [4, 3, 2]], GRADED_ITEMS), method="eap")
    np.testing.assert_allclose(result["theta"], [GRADED_R[(0, 1, 2)][0], GRADED_R[(3, 2, 1)][0]], atol=R_TOL)


def test_mixed_models_and_category_counts():
    two = Calibration.from_item_params(pd.DataFrame({"a": [1.0, 1.3], "b": [0.0, -0.5]}, index=["d1", "d2"]), "2pl")
    params = pd.DataFrame({"a": [1.0, 1.3, 1.1], "b": [0.0, -0.5, np.nan], "b1": [np.nan, np.nan, -1.0],
                           "b2": [np.nan, np.nan, 1.0]},
                          index=["d1", "d2", "p1"])
    mixed = Calibration.from_item_params(params, {"d1": "2pl", "d2": "2pl", "p1": "graded"})
    data = pd.DataFrame({"d1": [1.0, 0.0], "d2": [0.0, 1.0], "p1": [np.nan, np.nan]})
    # an unanswered item changes nothing
    pd.testing.assert_frame_equal(score(mixed, data, method="wle"), score(two, data[["d1", "d2"]], method="wle"))
    highest = score(mixed, pd.DataFrame({"d1": [1.0], "d2": [1.0], "p1": [2.0]}), method="ml")
    assert highest["flag"].iloc[0] == "all_highest"
    not_highest = score(mixed, pd.DataFrame({"d1": [1.0], "d2": [1.0], "p1": [1.0]}), method="ml")
    assert np.isfinite(not_highest["theta"].iloc[0])


def test_chunks_give_the_same_answer(lsat7, rng, monkeypatch):
    a, b, _, data = _simulate_2pl(rng, 500, 10)
    calibration = _two_pl(a, b, list(data.columns))
    data = data.mask(rng.random(data.shape) < 0.2)
    whole = {m: score(calibration, data, method=m) for m in ("eap", "wle")}
    monkeypatch.setattr(scoring, "_EAP_CHUNK", 37)
    monkeypatch.setattr(scoring, "_NEWTON_CHUNK", 41)
    for method, expected in whole.items():
        # BLAS blocking differs with the chunk size, so EAP agrees to rounding and WLE (started
        # from EAP) to well within its tolerance
        pd.testing.assert_frame_equal(score(calibration, data, method=method), expected, atol=1e-9, rtol=0)


# ---------------------------------------------------------------------------------------
# recovery, reliability, plausible values
# ---------------------------------------------------------------------------------------


def test_recovery_and_reliability_on_simulated_data(rng):
    a, b, theta, data = _simulate_2pl(rng, 3000, 30)
    calibration = _two_pl(a, b, list(data.columns))
    eap = score(calibration, data, method="eap")
    wle = score(calibration, data, method="wle")
    rho = marginal_reliability(calibration)
    # corr(EAP, theta)^2 is the reliability of EAP scores; for WLE slightly less
    assert np.corrcoef(eap["theta"], theta)[0, 1] == pytest.approx(np.sqrt(rho), abs=0.02)
    assert np.corrcoef(eap["theta"], theta)[0, 1] > 0.9
    assert np.corrcoef(wle["theta"], theta)[0, 1] > 0.9
    # EAP shrinks, WLE is nearly unbiased: regression of truth on estimate has slope ~1 for EAP
    assert np.polyfit(eap["theta"], theta, 1)[0] == pytest.approx(1.0, abs=0.08)
    assert np.polyfit(theta, wle["theta"], 1)[0] == pytest.approx(1.0, abs=0.08)
    # For EAP, var(EAP) + mean(PSD^2) estimates the prior variance, so the empirical
    # reliability sits near the marginal one (sampling error about 0.01 at n = 3000).
    assert empirical_reliability(eap) == pytest.approx(marginal_reliability(calibration), abs=0.03)
    # the observed squared error agrees with the reported posterior variance
    assert np.mean((eap["theta"] - theta) ** 2) == pytest.approx(np.mean(eap["se"] ** 2), rel=0.1)


def test_empirical_reliability_formula_and_missing():
    frame = pd.DataFrame({"theta": [0.0, 1.0, 2.0, np.inf, np.nan], "se": [0.5, 0.5, 0.5, np.inf, np.nan]})
    # var(0, 1, 2) = 1 (n - 1), mean se^2 = 0.25: 1 / 1.25; non-finite rows are left out
    assert empirical_reliability(frame) == pytest.approx(0.8, abs=1e-15)
    with pytest.raises(ValueError, match="at least two rows"):
        empirical_reliability(frame.iloc[[0, 3, 4]])
    with pytest.raises(ValueError, match="columns 'theta' and 'se'"):
        empirical_reliability(pd.DataFrame({"theta": [1.0, 2.0]}))


def test_plausible_values_follow_the_posterior(lsat7):
    pattern = [1, 0, 1, 0, 1]
    data = _frame([pattern] * 4000 + [[np.nan] * 5] * 4000, LSAT7_ITEMS)
    draws = plausible_values(lsat7, data, n=3, seed=11)
    assert list(draws.columns) == ["pv1", "pv2", "pv3"] and draws.shape == (8000, 3)
    first, prior = draws.iloc[:4000].to_numpy(), draws.iloc[4000:].to_numpy()
    eap_mean, eap_sd = LSAT7_R[tuple(pattern)][:2]
    # Monte Carlo SE of the mean ~ 0.7 / sqrt(12000) = 0.006; of the SD ~ 0.005
    assert first.mean() == pytest.approx(eap_mean, abs=0.03)
    assert first.std() == pytest.approx(eap_sd, abs=0.03)
    assert prior.mean() == pytest.approx(0.0, abs=0.04) and prior.std() == pytest.approx(1.0, abs=0.03)
    again = plausible_values(lsat7, data, n=3, seed=11)
    pd.testing.assert_frame_equal(draws, again)
    assert not plausible_values(lsat7, data, n=3, seed=12).equals(draws)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_arguments_raise(lsat7):
    data = _frame([[1, 0, 1, 0, 1]], LSAT7_ITEMS)
    with pytest.raises(ValueError, match="method must be one of"):
        score(lsat7, data, method="bayes")
    with pytest.raises(ValueError, match="quadrature_points"):
        score(lsat7, data, quadrature_points=2)
    with pytest.raises(ValueError, match="prior_variance"):
        score(lsat7, data, prior_variance=0.0)
    with pytest.raises(ValueError, match="prior_mean"):
        score(lsat7, data, prior_mean=float("nan"))
    with pytest.raises(ValueError, match="max_iter"):
        score(lsat7, data, method="ml", max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        score(lsat7, data, method="wle", tol=-1.0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plausible_values(lsat7, data, n=0)
    with pytest.raises(ValueError, match="quadrature_points"):
        eap_sum_table(lsat7, quadrature_points=3)


def test_unknown_response_code_names_respondent_and_item(lsat7):
    data = _frame([[1, 0, 1, 0, 1], [1, 2, 1, 0, 1]], LSAT7_ITEMS)
    data.index = ["ok", "r-99"]
    with pytest.raises(ResponseError, match=r"r-99.*Item\.2|Item\.2.*r-99"):
        score(lsat7, data)


def test_unknown_item_is_rejected(lsat7):
    data = _frame([[1, 0, 1, 0, 1]], LSAT7_ITEMS).rename(columns={"Item.4": "Item.9"})
    with pytest.raises(ResponseError, match="Item.9"):
        score(lsat7, data)


def test_reexported_from_irt():
    from psychometrics import irt

    assert irt.score is score and irt.eap_sum_table is eap_sum_table
    assert irt.marginal_reliability is marginal_reliability


def test_methods_are_case_insensitive(lsat7):
    data = _frame([[1, 0, 1, 0, 1]], LSAT7_ITEMS)
    for method in ("eap", "map", "ml", "wle"):
        pd.testing.assert_frame_equal(score(lsat7, data, method=method.upper()), score(lsat7, data, method=method))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score(lsat7, Responses(data, {i: (0, 1) for i in LSAT7_ITEMS}), method="Wle")


# ---------------------------------------------------------------------------------------
# the compiled Newton path equals the reference (numpy differences) path
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["2pl", "3pl", "graded", "gpcm", "nominal"])
def test_compiled_newton_matches_the_difference_path(model, rng, monkeypatch):
    if model in ("2pl", "3pl"):
        params = pd.DataFrame({"a": rng.uniform(0.5, 2.0, 12), "b": rng.normal(0.0, 1.0, 12)})
        if model == "3pl":
            params["g"] = rng.uniform(0.05, 0.25, 12)
        k = 2
    else:
        b = np.sort(rng.normal(0.0, 1.0, (12, 3)), axis=1)
        params = pd.DataFrame(b, columns=["b1", "b2", "b3"])
        params.insert(0, "a", rng.uniform(0.5, 2.0, 12))
        k = 4
    params.index = [f"i{j}" for j in range(12)]
    if model == "nominal":
        nominal = pd.DataFrame({"a1": params["a"], "ak1": 1.2, "ak2": 1.9, "d1": 0.5, "d2": 0.2, "d3": -0.4})
        calibration = Calibration.from_item_params(nominal, "nominal", form="slope_intercept")
    else:
        calibration = Calibration.from_item_params(params, model)
    data = pd.DataFrame(rng.integers(0, k, size=(300, 12)).astype(float), columns=params.index)
    data = data.mask(rng.random(data.shape) < 0.15)
    data.iloc[0] = 0.0  # extreme patterns and a person without responses
    data.iloc[1] = k - 1.0
    data.iloc[2] = np.nan
    for method in ("ml", "map", "wle"):
        monkeypatch.setattr(scoring, "COMPILED_FROM", 10**12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference = score(calibration, data, method=method)
            monkeypatch.setattr(scoring, "COMPILED_FROM", 0)
            compiled = score(calibration, data, method=method)
        assert (compiled["flag"] == reference["flag"]).all(), method
        finite = np.isfinite(reference["theta"])
        assert (np.isfinite(compiled["theta"]) == finite).all(), method
        np.testing.assert_allclose(compiled["theta"][finite], reference["theta"][finite], rtol=0, atol=1e-6)
        np.testing.assert_allclose(compiled["se"][finite], reference["se"][finite], rtol=1e-6)


def test_compiled_wle_matches_scipy_root_of_warms_equation(rng, monkeypatch):
    monkeypatch.setattr(scoring, "COMPILED_FROM", 0)
    b = np.sort(rng.normal(0.0, 1.0, (6, 4)), axis=1)
    params = pd.DataFrame(b, columns=["b1", "b2", "b3", "b4"], index=[f"g{j}" for j in range(6)])
    params.insert(0, "a", rng.uniform(0.6, 2.0, 6))
    calibration = Calibration.from_item_params(params, "graded")
    data = pd.DataFrame(rng.integers(0, 5, size=(10, 6)).astype(float), columns=params.index)
    result = score(calibration, data, method="wle")
    grid_step = 1e-4
    for i in range(len(data)):
        codes = data.iloc[i].to_numpy().astype(int)

        def log_lik(t):
            return calibration.log_probabilities(np.array([t]))[np.arange(6), 0, codes].sum()

        def warm(t):
            # Warm's psi = L' + J / (2 I) with I = sum P'^2 / P and J = sum P' P'' / P
            nodes = t + grid_step * np.arange(-2, 3)
            p = calibration.probabilities(nodes)[:, :, :5]
            d1 = (p[:, 3] - p[:, 1]) / (2 * grid_step)
            d2 = (p[:, 3] - 2 * p[:, 2] + p[:, 1]) / grid_step**2
            info = np.sum(d1 * d1 / p[:, 2])
            warm_j = np.sum(d1 * d2 / p[:, 2])
            slope = (log_lik(t + grid_step) - log_lik(t - grid_step)) / (2 * grid_step)
            return slope + warm_j / (2 * info)

        root = optimize.brentq(warm, -8, 8, xtol=1e-12)
        # central differences of probabilities: ~1e-7 in psi, so ~1e-7 in the root
        assert result["theta"].iloc[i] == pytest.approx(root, abs=1e-5)


def _graded_case(rng, n_items=20, n=2000):
    b = np.sort(rng.normal(0.0, 1.2, (n_items, 4)), axis=1)
    params = pd.DataFrame(b, columns=["b1", "b2", "b3", "b4"], index=[f"g{j}" for j in range(n_items)])
    params.insert(0, "a", rng.uniform(0.5, 2.5, n_items))
    calibration = Calibration.from_item_params(params, "graded")
    data = pd.DataFrame(rng.integers(0, 5, size=(n, n_items)).astype(float), columns=params.index)
    data.iloc[:50] = 0.0  # extreme and nearly extreme patterns
    data.iloc[50:100] = 4.0
    data.iloc[100:150, 1:] = 0.0
    return calibration, data.mask(rng.random(data.shape) < 0.15)


@pytest.mark.parametrize("method", ["ml", "map", "wle"])
def test_last_newton_step_without_evaluation_keeps_the_estimates(method, rng, monkeypatch):
    # stopping on the predicted error of the last (untaken-then-taken) step, with the
    # information moved along by I' delta, against stopping only when the step is below tol
    calibration, data = _graded_case(rng)
    monkeypatch.setattr(scoring, "COMPILED_FROM", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast = score(calibration, data, method=method)
        monkeypatch.setattr(scoring, "_LAST_STEP", 0.0)
        slow = score(calibration, data, method=method)
    assert (fast["flag"] == slow["flag"]).all()
    finite = np.isfinite(slow["theta"])
    np.testing.assert_allclose(fast["theta"][finite], slow["theta"][finite], rtol=0, atol=2e-8)
    np.testing.assert_allclose(fast["se"][finite], slow["se"][finite], rtol=0, atol=2e-8)


@pytest.mark.parametrize("model", ["2pl", "graded", "gpcm"])
@pytest.mark.parametrize("method", ["ml", "map"])
def test_weighted_score_start_gives_the_eap_started_estimates(model, method, rng, monkeypatch):
    # the log-likelihood (and posterior) of these models is concave: any start reaches the
    # same maximum, here the EAP start (weights=None) against the weighted-score start
    calibration, data = _graded_case(rng, n_items=8)
    if model != "graded":
        params = calibration.item_params
        if model == "2pl":
            params = pd.DataFrame({"a": params["a"], "b": params["b2"]})
            data = (data >= 2).astype(float).where(data.notna())
        else:
            params = params[["a", "b1", "b2", "b3", "b4"]]
        calibration = Calibration.from_item_params(params, model)
    monkeypatch.setattr(scoring, "COMPILED_FROM", 0)
    kernels_of = scoring._Kernels.of
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = score(calibration, data, method=method)
        monkeypatch.setattr(scoring._Kernels, "of",
                            classmethod(lambda cls, c, l: dataclasses.replace(kernels_of(c, l), weights=None)))
        from_eap = score(calibration, data, method=method)
    assert (weighted["flag"] == from_eap["flag"]).all()
    finite = np.isfinite(from_eap["theta"])
    np.testing.assert_allclose(weighted["theta"][finite], from_eap["theta"][finite], rtol=0, atol=1e-6)
    np.testing.assert_allclose(weighted["se"][finite], from_eap["se"][finite], rtol=0, atol=1e-6)
