"""MML-EM calibration: LSAT7 against mirt, recovery, missing data, persistence, bad input."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import Responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError
from psychometrics.irt import SCHEMA_VERSION, Calibration, calibrate
from psychometrics.simulate import simulate

# ------------------------------------------------------------------------------------------------
# LSAT7 (Bock & Lieberman, 1970). Reference values: mirt 1.47 with its defaults (61 nodes on
# [-6, 6], tol 1e-4), as published in the IRT issue:
#   mirt(LSAT7, 1, itemtype = "2PL", SE = TRUE)   # SE.type = "Oakes"
#   coef(mod, IRTpars = TRUE, simplify = TRUE); logLik(mod)
# ------------------------------------------------------------------------------------------------
MIRT_2PL_A = [0.988, 1.081, 1.706, 0.765, 0.736]
MIRT_2PL_B = [-1.879, -0.748, -1.058, -0.635, -2.520]
MIRT_2PL_LOGLIK = -2658.805
MIRT_2PL_SE_ITEM1 = {"a": 0.177, "b": 0.264}
MIRT_RASCH_B = [-1.868, -0.791, -1.461, -0.521, -1.993]
MIRT_RASCH_VARIANCE = 1.022
MIRT_RASCH_LOGLIK = -2664.901
MIRT_3PL_LOGLIK = -2658.055


@pytest.fixture
def lsat7(shared_data):
    frame = pd.read_csv(shared_data / "LSAT7.csv")
    return frame.drop(columns="freq"), frame["freq"].to_numpy()


def test_lsat7_2pl_matches_mirt(lsat7):
    patterns, freq = lsat7
    cal = calibrate(patterns, "2pl", weights=freq, se=True)
    assert cal.converged
    assert abs(cal.loglik - MIRT_2PL_LOGLIK) < 0.01
    np.testing.assert_allclose(cal.item_params["a"], MIRT_2PL_A, atol=0.01)
    np.testing.assert_allclose(cal.item_params["b"], MIRT_2PL_B, atol=0.01)
    se = cal.irt_standard_errors.iloc[0]
    assert abs(se["a"] - MIRT_2PL_SE_ITEM1["a"]) < 0.005
    assert abs(se["b"] - MIRT_2PL_SE_ITEM1["b"]) < 0.005
    # slope-intercept SE of a1 is the IRT SE of a (same parameter)
    assert cal.standard_errors.iloc[0]["a1"] == pytest.approx(se["a"], rel=1e-6)
    # information criteria with k = 10 free parameters, N = 1000 (mirt: AIC 5337.61, BIC 5386.688)
    assert cal.n_parameters == 10 and cal.n_persons == 1000
    assert cal.aic == pytest.approx(-2 * cal.loglik + 20)
    assert cal.bic == pytest.approx(-2 * cal.loglik + 10 * math.log(1000))
    assert abs(cal.aic - 5337.61) < 0.02 and abs(cal.bic - 5386.688) < 0.02


def test_lsat7_rasch_matches_mirt(lsat7):
    patterns, freq = lsat7
    cal = calibrate(patterns, "rasch", weights=freq)
    assert abs(cal.loglik - MIRT_RASCH_LOGLIK) < 0.01
    np.testing.assert_allclose(cal.item_params["b"], MIRT_RASCH_B, atol=0.01)
    assert abs(cal.latent_variance - MIRT_RASCH_VARIANCE) < 0.01
    assert (cal.item_params["a"] == 1.0).all()
    assert cal.n_parameters == 6  # five intercepts and the latent variance


def test_lsat7_1pl_is_the_rasch_model_rescaled(lsat7):
    # a common slope a with N(0, 1) equals slope 1 with variance a^2: same likelihood
    patterns, freq = lsat7
    cal = calibrate(patterns, "1pl", weights=freq)
    assert abs(cal.loglik - MIRT_RASCH_LOGLIK) < 0.01
    assert cal.item_params["a"].nunique() == 1
    assert abs(cal.item_params["a"].iloc[0] ** 2 - MIRT_RASCH_VARIANCE) < 0.01
    assert cal.n_parameters == 6


def test_lsat7_3pl_matches_mirt_loglik(lsat7):
    patterns, freq = lsat7
    cal = calibrate(patterns, "3pl", weights=freq)
    assert cal.converged
    assert abs(cal.loglik - MIRT_3PL_LOGLIK) < 0.01
    assert ((cal.item_params["g"] >= 0) & (cal.item_params["g"] < 1)).all()


def test_lsat7_3pl_standard_errors_skip_parameters_on_a_bound(lsat7):
    patterns, freq = lsat7
    with pytest.warns(ModelWarning, match="on a bound of their range: item 'Item.1' g"):
        cal = calibrate(patterns, "3pl", weights=freq, se=True)
    assert np.isnan(cal.standard_errors.loc["Item.1", "g"])
    assert cal.item_params.loc["Item.2", "g"] > 0.2
    assert np.isfinite(cal.irt_standard_errors.loc["Item.2", ["a", "b", "g"]]).all()
    assert np.isfinite(cal.irt_standard_errors["a"]).all()


def test_expanded_patterns_equal_frequency_weights(lsat7):
    patterns, freq = lsat7
    expanded = patterns.loc[patterns.index.repeat(freq)].reset_index(drop=True)
    cal = calibrate(expanded, "2pl")
    assert abs(cal.loglik - MIRT_2PL_LOGLIK) < 0.01
    np.testing.assert_allclose(cal.item_params["a"], MIRT_2PL_A, atol=0.01)


# ------------------------------------------------------------------------------------------------
# real polytomous and incomplete data against an independent maximizer: the marginal
# log-likelihood written out directly (61 nodes on [-6, 6], normal weights) and maximized by
# scipy's BFGS; EM must reach the same maximum
# ------------------------------------------------------------------------------------------------

def _direct_marginal_fit(codes: np.ndarray, n_cat: int, x0: np.ndarray) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    nodes = np.linspace(-6, 6, 61)
    log_w = -0.5 * nodes ** 2
    log_w -= np.logaddexp.reduce(log_w)
    n_items = codes.shape[1]

    def negative_loglik(x):
        par = x.reshape(n_items, n_cat)
        star = 1 / (1 + np.exp(-(par[:, None, :1] * nodes[None, :, None] + par[:, None, 1:])))
        ones, zeros = np.ones((n_items, 61, 1)), np.zeros((n_items, 61, 1))
        prob = np.concatenate([ones, star], axis=2) - np.concatenate([star, zeros], axis=2)
        if (prob <= 0).any():
            return 1e10
        log_p = np.log(prob)
        total = np.tile(log_w, (codes.shape[0], 1))
        for j in range(n_items):
            seen = codes[:, j] >= 0
            total[seen] += log_p[j][:, codes[seen, j]].T
        return -np.logaddexp.reduce(total, axis=1).sum()

    result = minimize(negative_loglik, x0, method="BFGS", options={"gtol": 1e-7})
    return result.x.reshape(n_items, n_cat), -result.fun


def test_science_graded_equals_direct_maximization(shared_data):
    data = pd.read_csv(shared_data / "Science.csv")
    cal = calibrate(data, "graded", tol=1e-6)
    assert cal.categories["Comfort"] == (1, 2, 3, 4)
    codes = (data.to_numpy() - 1).astype(int)
    direct, loglik = _direct_marginal_fit(codes, 4, np.tile([1.0, 2.0, 0.0, -2.0], 4))
    assert abs(cal.loglik - loglik) < 1e-4
    np.testing.assert_allclose(cal.slope_intercept.to_numpy(), direct, atol=1e-3)


def test_sat12_with_missing_equals_direct_maximization(shared_data):
    # 8 items of SAT12 with omitted responses kept missing: the 2PL as a 2-category graded
    # model in the direct fit (same likelihood)
    data = pd.read_csv(shared_data / "SAT12_scored.csv").iloc[:, :8]
    assert data.isna().any().any()
    cal = calibrate(data, "2pl", tol=1e-6)
    codes = np.where(data.isna(), -1, data.fillna(0)).astype(int)
    direct, loglik = _direct_marginal_fit(codes, 2, np.tile([1.0, 0.0], 8))
    assert abs(cal.loglik - loglik) < 1e-4
    np.testing.assert_allclose(cal.slope_intercept.to_numpy(), direct, atol=1e-3)


# ------------------------------------------------------------------------------------------------
# recovery on simulated data (seeded)
# ------------------------------------------------------------------------------------------------

def _true_params(model: str, n_items: int = 20, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = [f"i{j + 1:02d}" for j in range(n_items)]
    a = rng.uniform(0.8, 2.0, n_items)
    if model == "graded":
        b = rng.uniform(-2.0, -0.8, (n_items, 1)) + np.cumsum(rng.uniform(0.4, 1.1, (n_items, 4)), axis=1) - 0.4
        return pd.DataFrame(np.column_stack([a, b]), index=index, columns=["a", "b1", "b2", "b3", "b4"])
    params = pd.DataFrame({"a": a, "b": rng.uniform(-1.5, 1.5, n_items)}, index=index)
    if model == "rasch":
        params["a"] = 1.0
    if model == "1pl":
        params["a"] = 1.3
    if model in ("3pl", "4pl"):
        params["g"] = rng.uniform(0.1, 0.25, n_items)
    if model == "4pl":
        params["u"] = rng.uniform(0.85, 0.97, n_items)
    return params


def _rmse(est: pd.DataFrame, truth: pd.DataFrame, prefix: str) -> float:
    cols = [c for c in truth.columns if c == prefix or (c.startswith(prefix) and c[1:].isdigit())]
    diff = est[cols].to_numpy() - truth[cols].to_numpy()
    return float(np.sqrt(np.mean(diff ** 2)))


@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl", "graded"])
@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_recovery_5000_by_20(model, missing):
    truth = _true_params(model)
    data = simulate(truth, 5000, model=model, seed=3, missing=missing)
    cal = calibrate(data, model)
    assert cal.converged
    assert _rmse(cal.item_params, truth, "a") < 0.1
    assert _rmse(cal.item_params, truth, "b") < 0.1
    if model == "rasch":
        assert abs(cal.latent_variance - 1.0) < 0.1
    if missing:
        observed = data.notna().to_numpy().sum()
        assert cal.n_persons == 5000 and observed < 0.75 * data.size


def test_recovery_3pl_with_guessing_prior():
    # 3PL slopes need more data than the 2PL: N = 20000, beta(5, 17) prior on g (mean 0.23)
    truth = _true_params("3pl")
    data = simulate(truth, 20000, model="3pl", seed=3)
    cal = calibrate(data, "3pl", priors={"g": ("beta", 5, 17)})
    assert cal.converged
    assert _rmse(cal.item_params, truth, "a") < 0.1
    assert _rmse(cal.item_params, truth, "b") < 0.1
    assert _rmse(cal.item_params, truth, "g") < 0.05


def test_4pl_reaches_the_same_maximum_from_the_truth():
    # the 4PL is weakly identified (RMSE of a about 0.14 even at N = 1e5), so check that the
    # default start finds the maximum of the posterior a start at the truth finds
    truth = _true_params("4pl")
    data = simulate(truth, 10000, model="4pl", seed=3)
    priors = {"g": ("beta", 5, 17), "u": ("beta", 17, 5), "a1": ("lognormal", 0.2, 0.3)}
    cal = calibrate(data, "4pl", priors=priors)
    from_truth = calibrate(data, "4pl", priors=priors,
                           start=Calibration.from_item_params(truth, "4pl").slope_intercept)
    assert cal.converged and from_truth.converged
    assert abs(cal.loglik - from_truth.loglik) < 0.05
    assert _rmse(cal.item_params, truth, "g") < 0.05
    assert _rmse(cal.item_params, truth, "u") < 0.05


def test_mixed_models_and_category_counts():
    two_pl = _true_params("2pl", 6, seed=1)
    graded = _true_params("graded", 4, seed=2).rename(index=lambda i: "g" + i)
    params = pd.concat([two_pl, graded])
    models = {i: ("2pl" if i in two_pl.index else "graded") for i in params.index}
    cats = {i: ((0, 1) if models[i] == "2pl" else (1, 2, 3, 4, 5)) for i in params.index}
    data = simulate(params, 3000, model=models, categories=cats, seed=5, missing=0.2)
    cal = calibrate(data, models)
    assert cal.models == models
    assert cal.categories["gi01"] == (1, 2, 3, 4, 5)
    lp = cal.log_probabilities(np.linspace(-3, 3, 7))
    assert lp.shape == (10, 7, 5)
    assert np.all(lp[:6, :, 2:] == -np.inf)
    np.testing.assert_allclose(cal.probabilities(np.zeros(1)).sum(axis=2), 1.0)
    assert cal.information(np.zeros(3)).shape == (3, 10)
    np.testing.assert_allclose(cal.item_params.loc[params.index, "a"], params["a"], atol=0.3)


def test_oakes_standard_errors_equal_the_numerical_hessian():
    # Oakes' identity gives the observed information exactly; compare with the central
    # second differences of the marginal log-likelihood itself
    from psychometrics.estep import estep
    from psychometrics.quadrature import normal_quadrature

    truth = _true_params("2pl", 4)
    data = simulate(truth, 1500, model="2pl", seed=8)
    cal = calibrate(data, "2pl", se=True, tol=1e-8)
    codes = cal.encode(data)
    quad = normal_quadrature()
    x0 = cal.slope_intercept.to_numpy().ravel()

    from psychometrics.items import get_model

    model = get_model("2pl")

    def loglik(x):
        log_probs = model.log_probabilities(x.reshape(-1, 2), quad.nodes)
        return estep(codes, log_probs, quad.log_weights).loglik

    h = 1e-3
    n = x0.size
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = hess[j, i] = (loglik(x0 + e_i + e_j) - loglik(x0 + e_i - e_j)
                          - loglik(x0 - e_i + e_j) + loglik(x0 - e_i - e_j)) / (4 * h * h)
    numeric = np.sqrt(np.diag(np.linalg.inv(-hess))).reshape(-1, 2)
    np.testing.assert_allclose(cal.standard_errors.to_numpy(), numeric, rtol=2e-3)
    # delta method for b = -d / a
    a, d = cal.slope_intercept["a1"].to_numpy(), cal.slope_intercept["d"].to_numpy()
    assert (cal.irt_standard_errors["b"] > 0).all() and np.isfinite(a / d).all()


# ------------------------------------------------------------------------------------------------
# fixed parameters and priors
# ------------------------------------------------------------------------------------------------

def test_fixed_parameters_stay_put(lsat7):
    patterns, freq = lsat7
    fixed = {"Item.1": {"a": 0.988, "b": -1.879}, "Item.3": {"a1": 1.5}}
    cal = calibrate(patterns, "2pl", weights=freq, fixed=fixed, se=True)
    assert cal.item_params.loc["Item.1", "a"] == pytest.approx(0.988, abs=1e-12)
    assert cal.item_params.loc["Item.1", "b"] == pytest.approx(-1.879, abs=1e-12)
    assert cal.slope_intercept.loc["Item.3", "a1"] == 1.5
    assert cal.n_parameters == 7
    assert np.isnan(cal.standard_errors.loc["Item.1", "a1"]) and np.isnan(cal.irt_standard_errors.loc["Item.1", "b"])
    assert cal.loglik < MIRT_2PL_LOGLIK + 1e-6
    with pytest.raises(ValueError, match="not in the data"):
        calibrate(patterns, "2pl", weights=freq, fixed={"nope": {"a1": 1.0}})
    with pytest.raises(ValueError, match="slope-intercept names"):
        calibrate(patterns, "2pl", weights=freq, fixed={"Item.1": {"zz": 1.0}})


def test_priors_pull_estimates(lsat7):
    patterns, freq = lsat7
    free = calibrate(patterns, "3pl", weights=freq)
    pulled = calibrate(patterns, "3pl", weights=freq, priors={"g": ("beta", 20, 80)})
    # a strong beta(20, 80) prior (mean 0.2) lifts the guessing parameters off zero
    assert (pulled.item_params["g"] > 0.1).all()
    assert (free.item_params["g"] < 0.1).sum() >= 3
    slope_prior = calibrate(patterns, "2pl", weights=freq, priors={"a1": ("lognormal", 0.0, 0.05)})
    assert (abs(np.log(slope_prior.item_params["a"])) < 0.15).all()
    with pytest.raises(ValueError, match="kind one of"):
        calibrate(patterns, "2pl", weights=freq, priors={"a1": ("cauchy", 0, 1)})


# ------------------------------------------------------------------------------------------------
# bad input and warnings
# ------------------------------------------------------------------------------------------------

def _small(seed: int = 0, n: int = 400) -> pd.DataFrame:
    return simulate(_true_params("2pl", 5, seed=seed), n, model="2pl", seed=seed)


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_constant_item_raises():
    data = _small()
    data["i03"] = 1.0
    with pytest.raises(ResponseError, match="item 'i03' .* is constant"):
        calibrate(data, "2pl")


def test_item_without_responses_raises():
    data = _small()
    data["i02"] = np.nan
    with pytest.raises(ResponseError, match="item 'i02' .* has no responses"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            calibrate(data, "2pl")


def test_person_without_responses_is_left_out_with_a_warning():
    data = _small()
    data.iloc[7] = np.nan
    with pytest.warns(DataWarning, match="1 respondent\\(s\\) answered no item.*'p000008'"):
        cal = calibrate(data, "2pl")
    assert cal.n_persons == 399


def test_unused_category_is_collapsed_with_a_warning():
    truth = _true_params("graded", 5, seed=4)
    data = simulate(truth, 800, model="graded", seed=4, categories={i: (1, 2, 3, 4, 5) for i in truth.index})
    data.loc[data["i02"] == 3, "i02"] = 4
    responses = Responses(data, {i: (1, 2, 3, 4, 5) for i in data.columns})
    with pytest.warns(ModelWarning, match="item 'i02': category 3 never used; collapsed"):
        cal = calibrate(responses, "graded")
    assert cal.categories["i02"] == (1, 2, 4, 5)
    assert cal.item_params.loc["i02", ["b1", "b2", "b3"]].notna().all()
    assert np.isnan(cal.item_params.loc["i02", "b4"])


def test_non_convergence_warns_and_is_recorded():
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        cal = calibrate(_small(), "2pl", max_iter=2)
    assert not cal.converged and cal.n_iter == 2
    assert "NOT converged" in cal.summary()


def test_wrong_category_count_for_model_raises():
    data = _small()
    data.loc[data.index[:20], "i01"] = 2.0
    with pytest.raises(ResponseError, match="item 'i01' .* 3 observed categories"):
        calibrate(data, "2pl")


def test_bad_arguments_raise():
    data = _small()
    with pytest.raises(ValueError, match="unknown item model 'x'"):
        calibrate(data, "x")
    with pytest.raises(ValueError, match="no entry for item"):
        calibrate(data, {"i01": "2pl"})
    with pytest.raises(ValueError, match="tol must be positive"):
        calibrate(data, "2pl", tol=0)
    with pytest.raises(ValueError, match="weights has 3 values"):
        calibrate(data, "2pl", weights=[1, 2, 3])


def test_plain_em_converges_to_the_same_point(lsat7):
    patterns, freq = lsat7
    fast = calibrate(patterns, "2pl", weights=freq, tol=1e-6)
    slow = calibrate(patterns, "2pl", weights=freq, tol=1e-6, accelerate=False, max_iter=5000)
    assert slow.converged and fast.n_iter < slow.n_iter
    np.testing.assert_allclose(fast.slope_intercept, slow.slope_intercept, atol=1e-3)
    # EM never lowers the likelihood
    assert np.all(np.diff(slow.history) > -1e-8)


# ------------------------------------------------------------------------------------------------
# Calibration from stated parameters, encoding, persistence
# ------------------------------------------------------------------------------------------------

def test_from_item_params_both_forms():
    irt = pd.DataFrame({"a": [1.2, 0.8], "b": [0.5, -1.0], "g": [0.2, 0.1]}, index=["x", "y"])
    cal = Calibration.from_item_params(irt, "3pl")
    np.testing.assert_allclose(cal.slope_intercept["d"], [-0.6, 0.8])
    back = Calibration.from_item_params(cal.slope_intercept, "3pl", form="slope_intercept")
    np.testing.assert_allclose(back.item_params.to_numpy(), irt.to_numpy(), rtol=1e-14)
    rasch = Calibration.from_item_params(pd.DataFrame({"b": [0.0, 1.0]}, index=["p", "q"]), "rasch",
                                         latent_variance=1.5)
    assert (rasch.item_params["a"] == 1.0).all() and rasch.latent_variance == 1.5
    with pytest.raises(ValueError, match="lacks parameter|do not describe"):
        Calibration.from_item_params(irt[["a", "b"]], "3pl")


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_encode_subsets_orders_and_bad_codes():
    params = pd.DataFrame({"a": [1.0, 1.5, 1.1], "b1": [-1.0, 0.0, -0.5], "b2": [0.5, 1.0, 0.7]},
                          index=["q1", "q2", "q3"])
    cal = Calibration.from_item_params(params, "graded", categories=(1, 2, 3))
    codes = cal.encode(pd.DataFrame({"q3": [3.0, np.nan], "q1": [1.0, 2.0]}, index=["r1", "r2"]))
    np.testing.assert_array_equal(codes, [[0, -1, 2], [1, -1, -1]])
    with pytest.raises(ResponseError, match="respondent 'r2' \\(row 1\\), item 'q1' \\(column 0\\): value 7"):
        cal.encode(pd.DataFrame({"q1": [1.0, 7.0]}, index=["r1", "r2"]))
    with pytest.raises(ResponseError, match="not in the calibration"):
        cal.encode(pd.DataFrame({"zz": [1.0]}))


def test_json_round_trip_is_exact(lsat7):
    patterns, freq = lsat7
    cal = calibrate(patterns, "2pl", weights=freq, se=True)
    text = cal.to_json()
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == "psychometrics.calibration"
    back = Calibration.from_json(text)
    for name in ("item_params", "slope_intercept", "standard_errors", "irt_standard_errors"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(cal, name), check_exact=True)
    for name in ("item_ids", "models", "categories", "loglik", "aic", "bic", "n_iter", "converged",
                 "latent_mean", "latent_variance", "history", "quadrature_points", "n_persons",
                 "n_parameters", "tol"):
        assert getattr(back, name) == getattr(cal, name), name
    assert back.to_json() == text
    theta = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(back.log_probabilities(theta), cal.log_probabilities(theta))


def test_json_round_trip_of_stated_and_polytomous_parameters():
    params = pd.DataFrame({"a": [1.0, 1.5], "b1": [-1.0, 0.0], "b2": [0.5, np.nan]}, index=["q1", "q2"])
    cal = Calibration.from_item_params(params, "graded", categories={"q1": (1, 2, 3), "q2": (0, 1)})
    back = Calibration.from_json(cal.to_json())
    pd.testing.assert_frame_equal(back.item_params, cal.item_params, check_exact=True)
    assert back.categories == cal.categories and math.isnan(back.loglik)


def test_from_json_rejects_bad_documents(lsat7):
    patterns, freq = lsat7
    doc = json.loads(calibrate(patterns, "2pl", weights=freq).to_json())
    with pytest.raises(ValueError, match="schema version 99"):
        Calibration.from_json(json.dumps({**doc, "schema_version": 99}))
    doc["items"][0]["model"] = "5pl"
    with pytest.raises(ValueError, match="unknown item model '5pl'"):
        Calibration.from_json(json.dumps(doc))
    with pytest.raises(ValueError, match="not a JSON calibration"):
        Calibration.from_json("{nope")


def test_calibrated_object_feeds_scoring_reexports(lsat7):
    patterns, freq = lsat7
    import psychometrics.irt as irt
    cal = calibrate(patterns, "2pl", weights=freq)
    assert callable(irt.score) and callable(irt.item_information)
    with pytest.raises(AttributeError):
        irt.no_such_thing  # noqa: B018
    frame = cal.to_frame()
    assert list(frame.columns[:3]) == ["model", "a", "b"]


# ------------------------------------------------------------------------------------------------
# progress callback, nominal items through the IRT form
# ------------------------------------------------------------------------------------------------

def test_callback_sees_every_em_iteration(lsat7):
    patterns, freq = lsat7
    calls = []
    cal = calibrate(patterns, "2pl", weights=freq, callback=lambda it, ll, change: calls.append((it, ll, change)))
    assert [c[0] for c in calls] == list(range(1, cal.n_iter + 1))
    np.testing.assert_allclose([c[1] for c in calls], cal.history)
    assert calls[-1][2] < cal.tol <= max(c[2] for c in calls)
    plain = []
    slow = calibrate(patterns, "2pl", weights=freq, accelerate=False, callback=lambda *args: plain.append(args))
    assert len(plain) == slow.n_iter and all(isinstance(a[0], int) for a in plain)

    class Stop(Exception):
        pass

    def cancel(iteration, loglik, change):
        if iteration == 3:
            raise Stop
    with pytest.raises(Stop):
        calibrate(patterns, "2pl", weights=freq, callback=cancel)
    with pytest.raises(TypeError, match="callable"):
        calibrate(patterns, "2pl", weights=freq, callback=5)


def test_nominal_item_params_round_trip_through_irt_form():
    # the nominal IRT form has 2K values (a1..aK, c1..cK), the slope-intercept form 2K-2: the
    # stated IRT parameters must be read in full and converted as one vector
    truth = pd.DataFrame({"a1": [0.9, 1.3, 0.7], "ak1": [0.7, 1.2, 0.4], "ak2": [2.1, 1.8, 1.5],
                          "d1": [1.2, 0.3, 0.0], "d2": [0.4, 0.8, -0.2], "d3": [-0.9, -0.4, -1.0]},
                         index=["n1", "n2", "n3"])
    data = simulate(Calibration.from_item_params(truth, "nominal", form="slope_intercept"), 1500, seed=4)
    cal = calibrate(data, "nominal", max_iter=200)
    assert list(cal.item_params.columns) == ["a1", "a2", "a3", "a4", "c1", "c2", "c3", "c4"]
    back = Calibration.from_item_params(cal.item_params, "nominal", form="irt")
    theta = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(back.probabilities(theta), cal.probabilities(theta), atol=1e-12)
    np.testing.assert_allclose(back.slope_intercept.to_numpy(), cal.slope_intercept.to_numpy(), atol=1e-10)


def _two_trait_data(correlation: float, seed: int) -> pd.DataFrame:
    # 10 graded items, the first five driven by one trait, the last five by another
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, correlation], [correlation, 1.0]])
    theta = rng.multivariate_normal(np.zeros(2), cov, size=1500)
    thresholds = np.array([-1.5, -0.5, 0.5, 1.5])
    trait = np.repeat([0, 1], 5)
    latent = 1.6 * theta[:, trait] + rng.logistic(size=(1500, 10))
    codes = 1 + (latent[:, :, None] > thresholds * 1.6).sum(axis=2)
    return pd.DataFrame(codes.astype(float), columns=[f"q{j + 1:02d}" for j in range(10)])


def test_check_dimensionality_warns_for_two_uncorrelated_traits():
    data = _two_trait_data(0.0, seed=11)
    with pytest.warns(ModelWarning, match="may not be unidimensional"):
        cal = calibrate(data, "graded", check_dimensionality=True)
    assert cal.converged


def test_check_dimensionality_is_quiet_for_one_trait():
    data = _two_trait_data(1.0 - 1e-9, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        calibrate(data, "graded", check_dimensionality=True)


def test_prior_matching_no_parameter_is_an_error():
    data = _small()
    with pytest.raises(ValueError, match=r"parameter 'c' match no parameter.*g \(lower asymptote\)"):
        calibrate(data, "3pl", priors={"c": ("beta", 5, 17)})
    with pytest.raises(ValueError, match=r"item 'i01', parameter 'b'"):
        calibrate(data, "2pl", priors={"i01": {"b": ("normal", 0, 1)}})
    # "d" covers the intercepts and "g" the guessing of a 3PL: accepted
    with pytest.warns(ConvergenceWarning):
        calibrate(data, "3pl", priors={"g": ("beta", 5, 17), "d": ("normal", 0, 3)}, max_iter=5)
