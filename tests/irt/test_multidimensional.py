"""Multidimensional calibration: known answers (one factor = unidimensional, direct numerical
maximization of the grid likelihood, full-dimensional bifactor likelihood), recovery on
simulated data, settings, persistence and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from psychometrics.errors import ModelWarning
from psychometrics.irt import Calibration, calibrate
from psychometrics.quadrature import mvn_log_weights, product_nodes


def _graded_data(rng, slopes, intercepts, corr, n, missing=0.0):
    """Responses of a compensatory graded model; intercepts (items, K-1) decreasing."""
    theta = rng.multivariate_normal(np.zeros(len(corr)), corr, size=n)
    eta = theta @ np.asarray(slopes).T
    star = 1.0 / (1.0 + np.exp(-(eta[:, :, None] + np.asarray(intercepts)[None, :, :])))
    u = rng.random(eta.shape)
    x = (u[:, :, None] < star).sum(axis=2).astype(float)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return pd.DataFrame(x, columns=[f"q{j + 1}" for j in range(x.shape[1])])


def _two_factor_2pl(rng, n=500):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.8, 0], [0, 1.2], [0, 1.6], [0, 0.9]])
    d = np.array([[0.5], [-0.4], [0.0], [1.0], [-0.8], [0.3]])
    data = _graded_data(rng, slopes, d, np.array([[1.0, 0.45], [0.45, 1.0]]), n)
    return data, {"A": ["q1", "q2", "q3"], "B": ["q4", "q5", "q6"]}


@pytest.mark.parametrize("model", ["2pl", "graded", "gpcm"])
def test_one_factor_equals_unidimensional(rng, model):
    slopes = rng.uniform(0.8, 2.0, (6, 1))
    d = np.sort(rng.normal(0, 1, (6, 3)), axis=1)[:, ::-1] if model != "2pl" else rng.normal(0, 1, (6, 1))
    data = _graded_data(rng, slopes, d, np.eye(1), 400, missing=0.1)
    uni = calibrate(data, model)
    one = calibrate(data, model, factors={"F": list(data.columns)})
    assert one.factors == ("F",) and one.n_parameters == uni.n_parameters
    assert one.loglik == pytest.approx(uni.loglik, abs=1e-9)
    assert one.n_iter == uni.n_iter
    np.testing.assert_allclose(one.slope_intercept.to_numpy(), uni.slope_intercept.to_numpy(), atol=1e-9)
    assert one.aic == pytest.approx(uni.aic, abs=1e-8) and one.bic == pytest.approx(uni.bic, abs=1e-8)


def _grid_loglik(data, structure, slopes, d, rho, points):
    """Marginal log-likelihood of a 2-factor 2PL on the same grid, written independently."""
    x = data.to_numpy()
    nodes = product_nodes(np.linspace(-6, 6, points), 2)
    log_w = mvn_log_weights(nodes, np.array([[1.0, rho], [rho, 1.0]]))
    z = nodes @ slopes.T + d[None, :]                       # (Q, J)
    log_p1 = -np.logaddexp(0.0, -z)
    log_p0 = -np.logaddexp(0.0, z)
    obs = ~np.isnan(x)
    x1 = np.where(obs, x, 0.0)
    ll = x1 @ log_p1.T + (obs * (1 - x1)) @ log_p0.T       # (N, Q)
    top = ll.max(axis=1, keepdims=True)
    return float((top[:, 0] + np.log(np.exp(ll - top + log_w[None, :]).sum(axis=1))).sum())


def test_em_equals_direct_maximization(rng):
    data, structure = _two_factor_2pl(rng)
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=15, tol=1e-6)
    assert cal.converged
    mask = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]], dtype=bool)

    def negative(v):
        slopes = np.zeros((6, 2))
        slopes[mask] = v[:6]
        rho = np.tanh(v[12])
        return -_grid_loglik(data, structure, slopes, v[6:12], rho, 15)

    start = np.concatenate([np.ones(6), np.zeros(6), [0.0]])
    res = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-7, "maxiter": 2000})
    assert abs(-res.fun - cal.loglik) < 1e-4
    est = cal.slope_intercept
    slopes = est[["a1", "a2"]].to_numpy()[mask]
    np.testing.assert_allclose(slopes, res.x[:6], atol=2e-3)
    np.testing.assert_allclose(est["d"].to_numpy(), res.x[6:12], atol=2e-3)
    assert cal.factor_correlations.loc["A", "B"] == pytest.approx(np.tanh(res.x[12]), abs=2e-3)
    # the reported log-likelihood is that of the estimates on the grid
    assert cal.loglik == pytest.approx(_grid_loglik(data, structure, est[["a1", "a2"]].to_numpy(),
                                                    est["d"].to_numpy(), cal.factor_correlations.iloc[0, 1], 15),
                                       abs=1e-8)
    # 6 slopes + 6 intercepts + 1 correlation
    assert cal.n_parameters == 13


def test_recovery_two_correlated_factors_graded(rng):
    j = 12
    slopes = np.zeros((j, 2))
    slopes[:6, 0] = rng.uniform(1.0, 2.2, 6)
    slopes[6:, 1] = rng.uniform(1.0, 2.2, 6)
    slopes[5, 1] = 0.8                                     # one cross-loading item
    d = np.sort(rng.normal(0, 1.2, (j, 3)), axis=1)[:, ::-1]
    truth_rho = 0.4
    data = _graded_data(rng, slopes, d, np.array([[1, truth_rho], [truth_rho, 1]]), 3000, missing=0.05)
    items = list(data.columns)
    cal = calibrate(data, "graded", factors={"social": items[:6], "drive": items[5:]})
    assert cal.converged
    est = cal.slope_intercept
    a_hat = est[["a1", "a2"]].to_numpy()
    loads = slopes != 0
    assert np.sqrt(np.mean((a_hat[loads] - slopes[loads]) ** 2)) < 0.15
    assert np.all(a_hat[~loads] == 0.0)
    d_hat = est[["d1", "d2", "d3"]].to_numpy()
    assert np.sqrt(np.mean((d_hat - d) ** 2)) < 0.15
    assert abs(cal.factor_correlations.loc["social", "drive"] - truth_rho) < 0.06
    assert list(cal.loadings.columns) == ["social", "drive"]
    assert cal.loadings.loc["q1", "drive"] == 0.0 and 0.3 < cal.loadings.loc["q1", "social"] < 0.9


def test_orthogonal_option_and_information_criteria(rng):
    data, structure = _two_factor_2pl(rng)
    corr = calibrate(data, "2pl", factors=structure, quadrature_points=15)
    orth = calibrate(data, "2pl", factors=structure, quadrature_points=15, correlated=False)
    np.testing.assert_array_equal(orth.factor_correlations.to_numpy(), np.eye(2))
    assert orth.n_parameters == corr.n_parameters - 1
    # the correlated model nests the orthogonal one
    assert corr.loglik > orth.loglik
    assert corr.aic == pytest.approx(-2 * corr.loglik + 2 * corr.n_parameters)


def test_fixed_parameters_and_priors(rng):
    data, structure = _two_factor_2pl(rng)
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=15,
                    fixed={"q1": {"a1": 1.0}}, priors={"a": ("lognormal", 0.0, 0.25)})
    assert cal.slope_intercept.loc["q1", "a1"] == 1.0
    assert cal.slope_intercept.loc["q1", "a2"] == 0.0
    free = calibrate(data, "2pl", factors=structure, quadrature_points=15, fixed={"q1": {"a1": 1.0}})
    assert cal.n_parameters == free.n_parameters == 12
    # a tight prior around 1 pulls the largest slope towards 1
    assert abs(cal.slope_intercept.loc["q3", "a1"] - 1) < abs(free.slope_intercept.loc["q3", "a1"] - 1)
    with pytest.raises(ValueError, match="has no parameter"):
        calibrate(data, "2pl", factors=structure, fixed={"q1": {"a3": 1.0}})


def test_json_round_trip_and_standard_errors(rng):
    data, structure = _two_factor_2pl(rng, n=400)
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=15, se=True)
    assert cal.standard_errors.loc["q1", "a1"] > 0 and np.isnan(cal.standard_errors.loc["q1", "a2"])
    assert 0 < cal.factor_correlations_se.loc["A", "B"] < 0.2
    text = cal.to_json()
    back = Calibration.from_json(text)
    assert back.to_json() == text
    assert back.factors == ("A", "B") and back.factor_model == "confirmatory"
    pd.testing.assert_frame_equal(back.factor_correlations, cal.factor_correlations)
    pd.testing.assert_frame_equal(back.loadings, cal.loadings)
    theta = np.array([[0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_array_equal(back.log_probabilities(theta), cal.log_probabilities(theta))


def test_bad_structures(rng):
    data, structure = _two_factor_2pl(rng, n=200)
    with pytest.raises(ValueError, match="not in the data"):
        calibrate(data, "2pl", factors={"A": ["q1", "zz"], "B": ["q2", "q3", "q4", "q5", "q6"]})
    with pytest.raises(ValueError, match=r"load on no factor"):
        calibrate(data, "2pl", factors={"A": ["q1", "q2", "q3"]})
    with pytest.raises(ValueError, match="no free slope"):
        calibrate(data, "rasch", factors=structure)
    with pytest.raises(ValueError, match="latent_variance do"):
        calibrate(data, "2pl", factors=structure, latent_variance=2.0)
    with pytest.raises(ValueError, match="invariance do"):
        calibrate(data, "2pl", factors=structure, group=np.repeat(["x", "y"], 100), invariance=["slopes"])
    with pytest.raises(ValueError, match="multi-group exploratory"):
        calibrate(data, "2pl", factors=2, group=np.repeat(["x", "y"], 100))
    with pytest.raises(ValueError, match="reference and estimate_latent need group"):
        calibrate(data, "2pl", factors=structure, estimate_latent=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="rotation applies"):
            calibrate(data, "2pl", factors=structure, rotation="oblimin")


# ------------------------------------------------------------------------------------------------
# scoring and information
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def two_factor_calibration(rng):
    data, structure = _two_factor_2pl(rng, n=400)
    return data, calibrate(data, "2pl", factors=structure, quadrature_points=21)


def test_eap_profiles_equal_direct_quadrature(two_factor_calibration):
    from psychometrics.irt import score

    data, cal = two_factor_calibration
    new = data.iloc[:5].copy()
    new.iloc[0] = np.nan                                   # no responses: the prior
    new.iloc[1, :3] = np.nan                               # only factor B answered
    out = score(cal, new, method="eap", quadrature_points=25)
    assert list(out.columns) == ["theta_A", "theta_B", "se_A", "se_B", "n_answered", "flag"]
    assert out["flag"].iloc[0] == "no_responses"
    np.testing.assert_allclose(out.iloc[0][["theta_A", "theta_B"]].astype(float), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.iloc[0][["se_A", "se_B"]].astype(float), 1.0, atol=1e-6)
    # independent posterior on the same grid
    q = np.linspace(-6, 6, 25)
    nodes = product_nodes(q, 2)
    rho = cal.factor_correlations.iloc[0, 1]
    log_w = mvn_log_weights(nodes, np.array([[1, rho], [rho, 1]]))
    si = cal.slope_intercept
    z = nodes @ si[["a1", "a2"]].to_numpy().T + si["d"].to_numpy()
    for i in range(1, 5):
        x = new.iloc[i].to_numpy()
        obs = ~np.isnan(x)
        ll = (np.where(x[obs] == 1, -np.logaddexp(0, -z[:, obs]), -np.logaddexp(0, z[:, obs]))).sum(axis=1) + log_w
        post = np.exp(ll - ll.max())
        post /= post.sum()
        mean = post @ nodes
        sd = np.sqrt(post @ nodes ** 2 - mean ** 2)
        np.testing.assert_allclose(out.iloc[i][["theta_A", "theta_B"]].astype(float), mean, atol=1e-10)
        np.testing.assert_allclose(out.iloc[i][["se_A", "se_B"]].astype(float), sd, atol=1e-10)
    # answering only B's items still moves A through the correlation
    assert out["theta_A"].iloc[1] != 0.0 and out["se_A"].iloc[1] < 1.0


def test_map_profiles_are_posterior_modes(two_factor_calibration):
    from psychometrics.irt import score

    data, cal = two_factor_calibration
    out = score(cal, data.iloc[:6], method="map")
    si = cal.slope_intercept
    a, d = si[["a1", "a2"]].to_numpy(), si["d"].to_numpy()
    rho = cal.factor_correlations.iloc[0, 1]
    precision = np.linalg.inv(np.array([[1, rho], [rho, 1]]))
    for i in range(6):
        x = data.iloc[i].to_numpy()

        def negative(t, x=x):
            z = a @ t + d
            return -(np.where(x == 1, -np.logaddexp(0, -z), -np.logaddexp(0, z)).sum() - 0.5 * t @ precision @ t)

        res = optimize.minimize(negative, np.zeros(2), method="BFGS", options={"gtol": 1e-9})
        np.testing.assert_allclose(out.iloc[i][["theta_A", "theta_B"]].astype(float), res.x, atol=1e-5)
    assert (out["flag"] == "").all() or set(out["flag"]) <= {"", "all_lowest", "all_highest"}
    assert (out[["se_A", "se_B"]].to_numpy() > 0).all()


def test_profile_scores_borrow_strength(rng):
    from psychometrics.irt import score

    slopes = np.zeros((8, 2))
    slopes[:3, 0] = 1.5                                   # a short scale
    slopes[3:, 1] = 1.5
    data = _graded_data(rng, slopes, np.zeros((8, 1)), np.array([[1, 0.7], [0.7, 1]]), 1500)
    items = list(data.columns)
    multi = calibrate(data, "2pl", factors={"short": items[:3], "long": items[3:]}, quadrature_points=21)
    alone = calibrate(data[items[:3]], "2pl")
    se_multi = score(multi, data, method="eap")["se_short"].mean()
    se_alone = score(alone, data[items[:3]], method="eap")["se"].mean()
    assert se_multi < 0.95 * se_alone


def test_directional_information(rng):
    from psychometrics.irt import test_information

    slopes = rng.uniform(0.8, 2.0, (5, 1))
    data = _graded_data(rng, slopes, rng.normal(0, 1, (5, 1)), np.eye(1), 300)
    uni = calibrate(data, "2pl")
    one = calibrate(data, "2pl", factors={"F": list(data.columns)})
    theta = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(test_information(one, theta[:, None])[:, 0], test_information(uni, theta),
                               rtol=1e-9)
    data2, structure = _two_factor_2pl(rng, n=300)
    cal = calibrate(data2, "2pl", factors=structure, quadrature_points=15)
    points = np.array([[0.0, 0.0], [1.0, -0.5]])
    per_axis = test_information(cal, points)
    assert per_axis.shape == (2, 2)
    np.testing.assert_allclose(test_information(cal, points, direction=[0, 1]), per_axis[:, 1])
    # along the diagonal: sum_j (a_j'u)^2 I_j, here a simple-structure sum of both halves / 2
    diag = test_information(cal, points, direction=[1, 1])
    np.testing.assert_allclose(diag, per_axis.sum(axis=1) / 2, rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# bifactor
# ------------------------------------------------------------------------------------------------

def _bifactor_data(rng, n=800):
    j = 9
    slopes = np.zeros((j, 3))
    slopes[:, 0] = rng.uniform(1.0, 1.8, j)
    slopes[:4, 1] = rng.uniform(0.7, 1.3, 4)
    slopes[4:8, 2] = rng.uniform(0.7, 1.3, 4)            # q9 loads on the general factor only
    d = np.sort(rng.normal(0, 1, (j, 2)), axis=1)[:, ::-1]
    data = _graded_data(rng, slopes, d, np.eye(3), n, missing=0.05)
    return data, slopes, {"s1": ["q1", "q2", "q3", "q4"], "s2": ["q5", "q6", "q7", "q8"]}


def test_bifactor_dimension_reduction_equals_full_quadrature(rng):
    from psychometrics.estep import estep, log_likelihood_matrix
    from psychometrics.estep_bifactor import bifactor_estep

    data, slopes, groups = _bifactor_data(rng, n=500)
    cal = calibrate(data, "graded", bifactor=groups, quadrature_points=11, tol=1e-3, se=True)
    assert cal.factors == ("general", "s1", "s2") and cal.factor_model == "bifactor"
    ses = cal.standard_errors
    assert 0 < ses.loc["q1", "a1"] < 1 and 0 < ses.loc["q1", "a2"] < 1 and np.isnan(ses.loc["q1", "a3"])
    assert cal.slope_intercept.loc["q9", ["a2", "a3"]].tolist() == [0.0, 0.0]
    assert cal.slope_intercept.loc["q1", "a3"] == 0.0 and cal.slope_intercept.loc["q5", "a2"] == 0.0
    q = np.linspace(-6, 6, 11)
    nodes3 = product_nodes(q, 3)
    log_w3 = mvn_log_weights(nodes3, np.eye(3))
    codes = cal.encode(data)
    log_p3 = cal.log_probabilities(nodes3)
    ll = log_likelihood_matrix(codes, log_p3) + log_w3
    top = ll.max(axis=1, keepdims=True)
    full = float((top[:, 0] + np.log(np.exp(ll - top).sum(axis=1))).sum())
    assert cal.loglik == pytest.approx(full, abs=1e-6)
    # the expected counts are the full-dimensional ones summed over the other specific factor
    e3 = estep(codes, log_p3, log_w3)
    counts3 = e3.counts.reshape(9, 11, 11, 11, -1)
    nodes2 = product_nodes(q, 2)
    item_set = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    log_p2 = np.stack([cal.log_probabilities(np.column_stack([nodes2[:, 0], nodes2[:, 1] * (s == 1),
                                                              nodes2[:, 1] * (s == 2)]))[j]
                       for j, s in enumerate([1, 1, 1, 1, 2, 2, 2, 2, 0])])
    e2 = bifactor_estep(codes, log_p2, item_set, mvn_log_weights(q[:, None], np.eye(1)))
    assert e2.loglik == pytest.approx(full, abs=1e-6)
    c2 = e2.counts.reshape(9, 11, 11, -1)
    np.testing.assert_allclose(c2[:4], counts3[:4].sum(axis=3), atol=1e-8)
    np.testing.assert_allclose(c2[4:8], counts3[4:8].sum(axis=2), atol=1e-8)
    np.testing.assert_allclose(c2[8].sum(axis=1), counts3[8].sum(axis=(1, 2)), atol=1e-8)


def test_bifactor_recovery_and_scoring(rng):
    from psychometrics.irt import score

    data, slopes, groups = _bifactor_data(rng, n=2500)
    cal = calibrate(data, "graded", bifactor=groups, quadrature_points=15)
    assert cal.converged
    a_hat = cal.slope_intercept[["a1", "a2", "a3"]].to_numpy()
    loads = slopes != 0
    assert np.sqrt(np.mean((a_hat[loads] - slopes[loads]) ** 2)) < 0.2
    np.testing.assert_array_equal(cal.factor_correlations.to_numpy(), np.eye(3))
    # n_parameters: 9 general + 8 specific slopes + 18 intercepts
    assert cal.n_parameters == 35
    # EAP by dimension reduction equals EAP on the full three-dimensional grid
    out = score(cal, data.iloc[:20], quadrature_points=15)
    direct = Calibration.from_json(cal.to_json())
    object.__setattr__(direct, "factor_model", "confirmatory")
    full = score(direct, data.iloc[:20], quadrature_points=15)
    np.testing.assert_allclose(out.filter(like="theta_").to_numpy(), full.filter(like="theta_").to_numpy(),
                               atol=1e-9)
    np.testing.assert_allclose(out.filter(like="se_").to_numpy(), full.filter(like="se_").to_numpy(), atol=1e-9)


# ------------------------------------------------------------------------------------------------
# exploratory
# ------------------------------------------------------------------------------------------------

def test_exploratory_oblimin_recovers_structure(rng):
    slopes = np.zeros((8, 2))
    slopes[:4, 0] = rng.uniform(1.3, 2.0, 4)
    slopes[4:, 1] = rng.uniform(1.3, 2.0, 4)
    data = _graded_data(rng, slopes, rng.normal(0, 0.8, (8, 1)), np.array([[1, 0.35], [0.35, 1]]), 1500)
    items = list(data.columns)
    efa = calibrate(data, "2pl", factors=2, rotation="oblimin", quadrature_points=21)
    cfa = calibrate(data, "2pl", factors={"A": items[:4], "B": items[4:]}, quadrature_points=21)
    assert efa.factor_model == "exploratory" and efa.rotation == "oblimin" and efa.factors == ("F1", "F2")
    # 16 slopes - 1 fixed for identification + 8 intercepts
    assert efa.n_parameters == 23
    # the exploratory model nests the confirmatory simple structure
    assert efa.loglik >= cfa.loglik - 1e-6
    loads = efa.loadings.to_numpy()
    first = int(np.argmax(np.abs(loads[:4]).sum(axis=0)))
    order = [first, 1 - first]
    matched = loads[:, order]
    assert (matched[:4, 0] > 0.5).all() and (matched[4:, 1] > 0.5).all()
    assert np.abs(matched[:4, 1]).max() < 0.15 and np.abs(matched[4:, 0]).max() < 0.15
    assert abs(efa.factor_correlations.iloc[0, 1] - 0.35) < 0.1
    # rotation leaves the estimation (and its likelihood) unchanged
    varimax = calibrate(data, "2pl", factors=2, rotation="varimax", quadrature_points=21, se=True)
    assert (varimax.standard_errors["d"] > 0).all()
    np.testing.assert_allclose(varimax.factor_correlations.to_numpy(), np.eye(2), atol=1e-12)
    assert varimax.loglik == efa.loglik


def test_rotated_slope_standard_errors_by_the_delta_method(rng):
    """Standard errors of varimax-rotated slopes = J Cov(unrotated) J' with the Jacobian of an
    independent varimax (factor_analyzer's Rotator, Kaiser-normalized) by central differences."""
    from factor_analyzer.rotator import Rotator

    from psychometrics.items.multidimensional import LOGISTIC_SCALE

    slopes = np.zeros((8, 2))
    slopes[:4, 0] = rng.uniform(1.3, 2.0, 4)
    slopes[4:, 1] = rng.uniform(1.3, 2.0, 4)
    slopes[[1, 5], [1, 0]] = 0.6
    data = _graded_data(rng, slopes, rng.normal(0, 0.8, (8, 1)), np.eye(2), 1500)
    unrotated = calibrate(data, "2pl", factors=2, rotation="none", quadrature_points=21, se=True)
    rotated = calibrate(data, "2pl", factors=2, rotation="varimax", quadrature_points=21, se=True)
    a = unrotated.slope_intercept[["a1", "a2"]].to_numpy()
    labels = list(unrotated.covariance.index)
    free = [(j, m) for j, item in enumerate(unrotated.item_ids) for m, nm in enumerate(["a1", "a2"])
            if (item, nm, "*") in labels]
    slots = [labels.index((unrotated.item_ids[j], ["a1", "a2"][m], "*")) for j, m in free]
    cov = unrotated.covariance.to_numpy()[np.ix_(slots, slots)]
    target = rotated.slope_intercept[["a1", "a2"]].to_numpy()

    def varimax_slopes(x):
        h = np.sqrt((x * x).sum(axis=1) + LOGISTIC_SCALE ** 2)
        loadings = x / h[:, None]
        out = Rotator(method="varimax", normalize=True, max_iter=10_000, tol=1e-14).fit_transform(loadings)
        out = out * h[:, None]
        # the same factor order and signs as the reported solution
        if abs(np.corrcoef(out[:, 0], target[:, 0])[0, 1]) < abs(np.corrcoef(out[:, 1], target[:, 0])[0, 1]):
            out = out[:, ::-1]
        return out * np.sign((out * target).sum(axis=0))

    np.testing.assert_allclose(varimax_slopes(a), target, atol=1e-5)
    jac = np.empty((16, len(free)))
    for c, (j, m) in enumerate(free):
        up, down = a.copy(), a.copy()
        up[j, m] += 1e-5
        down[j, m] -= 1e-5
        jac[:, c] = (varimax_slopes(up) - varimax_slopes(down)).reshape(-1) / 2e-5
    expected = np.sqrt(np.diag(jac @ cov @ jac.T)).reshape(8, 2)
    got = rotated.standard_errors[["a1", "a2"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=2e-3)
    # the rotated slopes' uncertainty is spread over both factors: no slope is exactly known
    assert (got > 0.02).all()


def test_bundled_sample_profile_numbers_quoted_in_readme():
    from psychometrics import Instrument, fit
    from psychometrics.instrument import bundled_sample
    from psychometrics.irt import score

    soft = Instrument.bundled("soft-skills-7")
    likert = soft.prepare(bundled_sample("soft-skills-7"))
    scales = {k: soft.scale_items()[k] for k in ("communication", "teamwork")}
    both = likert.subset(scales["communication"] + scales["teamwork"])
    profile = calibrate(both, model="graded", factors=scales)
    orthogonal = calibrate(both, model="graded", factors=scales, correlated=False)
    assert profile.factor_correlations.loc["communication", "teamwork"] == pytest.approx(0.47, abs=0.005)
    test = fit.likelihood_ratio(orthogonal, profile)
    assert test.df == 1 and test.chi2 == pytest.approx(112.9, abs=0.5)
    se = score(profile, both).filter(like="se_").mean()
    assert se["se_communication"] == pytest.approx(0.465, abs=0.001)
    assert se["se_teamwork"] == pytest.approx(0.476, abs=0.001)
    alone = calibrate(likert.subset(scales["teamwork"]), model="graded")
    assert score(alone, likert.subset(scales["teamwork"]))["se"].mean() == pytest.approx(0.488, abs=0.001)


# ------------------------------------------------------------------------------------------------
# more than three factors: quasi-Monte Carlo EM
# ------------------------------------------------------------------------------------------------

def test_four_factors_by_quasi_monte_carlo(rng):
    from psychometrics.estep import log_likelihood_matrix

    d_factors, per = 4, 3
    corr = np.full((d_factors, d_factors), 0.4)
    np.fill_diagonal(corr, 1.0)
    slopes = np.zeros((d_factors * per, d_factors))
    for m in range(d_factors):
        slopes[m * per:(m + 1) * per, m] = rng.uniform(1.5, 2.2, per)
    data = _graded_data(rng, slopes, rng.normal(0, 0.8, (d_factors * per, 1)), corr, 1500)
    items = list(data.columns)
    structure = {f"F{m + 1}": items[m * per:(m + 1) * per] for m in range(d_factors)}
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=1000, integration="qmc")
    assert cal.converged and np.isfinite(cal.loglik_se) and 0 < cal.loglik_se < 2.0
    off = cal.factor_correlations.to_numpy()[np.triu_indices(d_factors, 1)]
    assert np.abs(off - 0.4).max() < 0.12 and abs(off.mean() - 0.4) < 0.05
    a_hat = cal.slope_intercept[[f"a{m}" for m in range(1, d_factors + 1)]].to_numpy()
    assert np.sqrt(np.mean((a_hat[slopes != 0] - slopes[slopes != 0]) ** 2)) < 0.3
    # the reported (quasi-Monte Carlo) log-likelihood against a tensor-product grid at the estimates
    q = np.linspace(-5, 5, 13)
    nodes = product_nodes(q, d_factors)
    log_w = mvn_log_weights(nodes, cal.factor_correlations.to_numpy())
    ll = log_likelihood_matrix(cal.encode(data), cal.log_probabilities(nodes)) + log_w
    top = ll.max(axis=1, keepdims=True)
    grid = float((top[:, 0] + np.log(np.exp(ll - top).sum(axis=1))).sum())
    assert abs(cal.loglik - grid) < 4 * cal.loglik_se + 0.5
    # scoring with more than three factors integrates on quasi-Monte Carlo points too
    from psychometrics.irt import score

    out = score(cal, data.iloc[:3])
    assert out.filter(like="theta_").shape == (3, 4) and (out.filter(like="se_").to_numpy() < 1).all()


def test_repr_and_summary_name_the_factors(rng):
    data, structure = _two_factor_2pl(rng, n=200)
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=11)
    assert "2 factors (confirmatory)" in repr(cal)
    text = cal.summary()
    assert "correlations" in text and "standardized loadings" in text


def test_unidimensional_verbs_refuse_multidimensional_calibrations(two_factor_calibration):
    from psychometrics import fit
    from psychometrics.irt import eap_sum_table, marginal_reliability

    data, cal = two_factor_calibration
    with pytest.raises(ValueError, match="2 factors"):
        marginal_reliability(cal)
    with pytest.raises(ValueError, match="2 factors"):
        eap_sum_table(cal)
    with pytest.raises(ValueError, match="2 factors"):
        fit.item_fit(cal, data)
    with pytest.raises(ValueError, match="2 factors"):
        cal.log_probabilities(np.zeros(4))


def test_frequency_weights_equal_repeated_rows(rng):
    data, structure = _two_factor_2pl(rng, n=400)
    patterns = data.value_counts().reset_index()
    counts = patterns.pop("count").to_numpy()
    full = calibrate(data, "2pl", factors=structure, quadrature_points=11)
    weighted = calibrate(patterns, "2pl", factors=structure, quadrature_points=11, weights=counts)
    assert weighted.n_persons == 400
    assert weighted.loglik == pytest.approx(full.loglik, abs=1e-6)
    np.testing.assert_allclose(weighted.slope_intercept.to_numpy(), full.slope_intercept.to_numpy(), atol=1e-6)
