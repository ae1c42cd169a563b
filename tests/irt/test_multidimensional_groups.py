"""Multi-group multidimensional calibration (correlated factors, bifactor) and two-tier models:
direct numerical maximization of the grid likelihood, a shared distribution equal to the
single-group fit, dimension reduction equal to full-dimensional quadrature, recovery of known
group differences on simulated data, the JSON round trip and explicit quadrature points."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from psychometrics.errors import ConvergenceWarning
from psychometrics.estep import log_likelihood_matrix
from psychometrics.irt import Calibration, calibrate
from psychometrics.quadrature import mvn_log_weights, product_nodes


def _responses(rng, slopes, intercepts, mean, cov, n, missing=0.0, start=0):
    """Graded (2PL with one intercept) responses of n persons with theta ~ N(mean, cov)."""
    theta = rng.multivariate_normal(mean, cov, size=n)
    eta = theta @ np.asarray(slopes).T
    star = 1.0 / (1.0 + np.exp(-(eta[:, :, None] + np.asarray(intercepts)[None, :, :])))
    x = (rng.random(eta.shape)[:, :, None] < star).sum(axis=2).astype(float)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return pd.DataFrame(x, columns=[f"q{j + 1}" for j in range(x.shape[1])],
                        index=[f"p{start + i}" for i in range(n)])


def _two_groups(rng, slopes, intercepts, ref_cov, focal_mean, focal_cov, n_ref, n_focal, missing=0.0):
    d = len(ref_cov)
    ref = _responses(rng, slopes, intercepts, np.zeros(d), ref_cov, n_ref, missing)
    focal = _responses(rng, slopes, intercepts, focal_mean, focal_cov, n_focal, missing, start=n_ref)
    return pd.concat([ref, focal]), np.array(["ref"] * n_ref + ["focal"] * n_focal)


# ------------------------------------------------------------------------------------------------
# correlated factors
# ------------------------------------------------------------------------------------------------

def _group_grid_loglik(data, labels, slopes, d, rho, focal_mean, focal_cov, points):
    """Two-group marginal log-likelihood of a 2-factor 2PL on the grid, written independently:
    reference N(0, [[1, rho], [rho, 1]]), focal N(focal_mean, focal_cov), normalized weights."""
    nodes = product_nodes(np.linspace(-6, 6, points), 2)
    z = nodes @ slopes.T + d[None, :]
    log_p1, log_p0 = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    total = 0.0
    for g, (mean, cov) in (("ref", (np.zeros(2), np.array([[1.0, rho], [rho, 1.0]]))),
                           ("focal", (focal_mean, focal_cov))):
        x, count = np.unique(data.to_numpy()[labels == g], axis=0, return_counts=True)
        log_w = mvn_log_weights(nodes, cov, mean)
        ll = x @ log_p1.T + (1 - x) @ log_p0.T + log_w[None, :]
        top = ll.max(axis=1, keepdims=True)
        total += float(count @ (top[:, 0] + np.log(np.exp(ll - top).sum(axis=1))))
    return total


def test_multigroup_em_equals_direct_maximization(rng):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.2, 0.7], [0, 1.5], [0, 0.9]])
    d = np.array([[0.3], [-0.5], [0.2], [0.8], [-0.2]])
    data, labels = _two_groups(rng, slopes, d, np.array([[1.0, 0.4], [0.4, 1.0]]), np.array([0.5, -0.3]),
                               np.array([[1.3, 0.3], [0.3, 0.8]]), 500, 400)
    structure = {"A": ["q1", "q2", "q3"], "B": ["q3", "q4", "q5"]}
    cal = calibrate(data, "2pl", factors=structure, group=labels, quadrature_points=15, tol=1e-6)
    assert cal.converged and cal.groups == ("ref", "focal")
    mask = slopes != 0

    def unpack(v):
        a = np.zeros((5, 2))
        a[mask] = v[:6]
        chol = np.array([[np.exp(v[14]), 0.0], [v[15], np.exp(v[16])]])
        return a, v[6:11], np.tanh(v[11]), v[12:14], chol @ chol.T

    def negative(v):
        a, dd, rho, mean, cov = unpack(v)
        return -_group_grid_loglik(data, labels, a, dd, rho, mean, cov, 15)

    start = np.concatenate([np.ones(6), np.zeros(5), [0.0], [0.0, 0.0], [0.0, 0.0, 0.0]])
    res = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-6, "maxiter": 3000})
    assert abs(-res.fun - cal.loglik) < 1e-4
    a, dd, rho, mean, cov = unpack(res.x)
    est = cal.slope_intercept
    np.testing.assert_allclose(est[["a1", "a2"]].to_numpy(), a, atol=3e-3)
    np.testing.assert_allclose(est["d"].to_numpy(), dd, atol=3e-3)
    assert cal.factor_correlations.loc["A", "B"] == pytest.approx(rho, abs=3e-3)
    np.testing.assert_allclose(cal.factor_means.loc["focal"].to_numpy(), mean, atol=3e-3)
    np.testing.assert_allclose(cal.factor_covariances.loc["focal"].to_numpy(), cov, atol=5e-3)
    # the reference group: means 0, unit variances, the estimated correlation
    np.testing.assert_array_equal(cal.factor_means.loc["ref"].to_numpy(), [0.0, 0.0])
    np.testing.assert_allclose(cal.factor_covariances.loc["ref"].to_numpy(), [[1.0, rho], [rho, 1.0]], atol=3e-3)
    # 6 slopes + 5 intercepts + 1 correlation + 2 means + 3 covariance entries
    assert cal.n_parameters == 17
    assert cal.loglik == pytest.approx(
        _group_grid_loglik(data, labels, est[["a1", "a2"]].to_numpy(), est["d"].to_numpy(),
                           cal.factor_correlations.iloc[0, 1], cal.factor_means.loc["focal"].to_numpy(),
                           cal.factor_covariances.loc["focal"].to_numpy(), 15), abs=1e-8)


def test_shared_distribution_equals_single_group_fit(rng):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.6, 0], [0, 1.2], [0, 1.5], [0, 0.9]])
    d = np.array([[0.3, -0.6], [-0.2, -1.0], [0.5, -0.4], [0.8, -0.3], [0.0, -1.2], [0.4, -0.5]])
    data, labels = _two_groups(rng, slopes, d, np.array([[1.0, 0.4], [0.4, 1.0]]), np.zeros(2),
                               np.array([[1.0, 0.4], [0.4, 1.0]]), 300, 300, missing=0.05)
    structure = {"A": ["q1", "q2", "q3"], "B": ["q4", "q5", "q6"]}
    single = calibrate(data, "graded", factors=structure, quadrature_points=15)
    shared = calibrate(data, "graded", factors=structure, quadrature_points=15, group=labels,
                       estimate_latent=False)
    assert shared.n_iter == single.n_iter and shared.n_parameters == single.n_parameters
    assert shared.loglik == pytest.approx(single.loglik, abs=1e-8)
    np.testing.assert_allclose(shared.slope_intercept.to_numpy(), single.slope_intercept.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(shared.factor_correlations.to_numpy(), single.factor_correlations.to_numpy(),
                               atol=1e-8)
    np.testing.assert_allclose(shared.factor_covariances.loc["focal"].to_numpy(),
                               single.factor_correlations.to_numpy(), atol=1e-8)


def test_multigroup_recovery_of_factor_means_and_covariances(rng):
    j = 12
    slopes = np.zeros((j, 2))
    slopes[:6, 0] = rng.uniform(1.0, 2.0, 6)
    slopes[6:, 1] = rng.uniform(1.0, 2.0, 6)
    d = np.sort(rng.normal(0, 1, (j, 3)), axis=1)[:, ::-1]
    focal_mean = np.array([0.5, -0.4])
    focal_cov = np.array([[1.5, 0.45], [0.45, 0.7]])
    data, labels = _two_groups(rng, slopes, d, np.array([[1.0, 0.3], [0.3, 1.0]]), focal_mean, focal_cov,
                               2000, 1500, missing=0.05)
    items = list(data.columns)
    cal = calibrate(data, "graded", factors={"A": items[:6], "B": items[6:]}, group=labels, se=True,
                    quadrature_points=15)
    assert cal.converged
    np.testing.assert_allclose(cal.factor_means.loc["focal"].to_numpy(), focal_mean, atol=0.1)
    np.testing.assert_allclose(cal.factor_covariances.loc["focal"].to_numpy(), focal_cov, atol=0.15)
    assert cal.factor_correlations.loc["A", "B"] == pytest.approx(0.3, abs=0.08)
    a_hat = cal.slope_intercept[["a1", "a2"]].to_numpy()
    assert np.sqrt(np.mean((a_hat[slopes != 0] - slopes[slopes != 0]) ** 2)) < 0.15
    d_hat = cal.slope_intercept[["d1", "d2", "d3"]].to_numpy()
    seen = np.isfinite(d_hat)        # a top category nobody chose has no intercept
    assert seen.mean() > 0.9 and np.sqrt(np.mean((d_hat[seen] - d[seen]) ** 2)) < 0.15
    # standard errors of the focal group's distribution: positive, and the fixed ones NaN
    means_se, cov_se = cal.factor_means_se, cal.factor_covariances_se
    assert (0.01 < means_se.loc["focal"]).all() and (means_se.loc["focal"] < 0.1).all()
    assert means_se.loc["ref"].isna().all()
    assert 0.01 < cov_se.loc[("focal", "A"), "B"] < 0.15 and np.isnan(cov_se.loc[("ref", "A"), "A"])
    assert 0.005 < cal.factor_correlations_se.loc["A", "B"] < 0.1
    # JSON round trip
    back = Calibration.from_json(cal.to_json())
    assert back.groups == cal.groups
    pd.testing.assert_frame_equal(back.factor_means, cal.factor_means)
    pd.testing.assert_frame_equal(back.factor_covariances, cal.factor_covariances)
    pd.testing.assert_frame_equal(back.factor_means_se, cal.factor_means_se)
    pd.testing.assert_frame_equal(back.slope_intercept, cal.slope_intercept)
    assert back.loglik == cal.loglik and back.n_parameters == cal.n_parameters


def test_multigroup_errors(rng):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.6, 0], [0, 1.2], [0, 1.5], [0, 0.9]])
    data, labels = _two_groups(rng, slopes, np.zeros((6, 1)), np.eye(2), np.zeros(2), np.eye(2), 100, 30)
    structure = {"A": ["q1", "q2", "q3"], "B": ["q4", "q5", "q6"]}
    with pytest.raises(Exception, match="focal .* 30 persons|30 persons"):
        calibrate(data, "2pl", factors=structure, group=labels)
    with pytest.raises(ValueError, match="estimate_latent=True"):
        calibrate(data, "2pl", factors=structure, group=labels, min_group_size=10, estimate_latent=True)
    with pytest.raises(ValueError, match="invariance"):
        calibrate(data, "2pl", factors=structure, group=labels, min_group_size=10, invariance=["slopes"])


# ------------------------------------------------------------------------------------------------
# bifactor with groups, two-tier
# ------------------------------------------------------------------------------------------------

def _full_loglik(cal, data, labels, points):
    """Full-dimensional quadrature of a multi-group (or single-group) calibration."""
    q = np.linspace(-6, 6, points)
    nodes = product_nodes(q, len(cal.factors))
    log_p = cal.log_probabilities(nodes)
    codes = cal.encode(data)
    total = 0.0
    groups = cal.groups or (None,)
    for g in groups:
        rows = np.ones(len(data), dtype=bool) if g is None else labels == g
        if g is None:
            mean, cov = np.zeros(len(cal.factors)), cal.factor_correlations.to_numpy()
        else:
            mean, cov = cal.factor_means.loc[g].to_numpy(), cal.factor_covariances.loc[g].to_numpy()
        ll = log_likelihood_matrix(codes[rows], log_p) + mvn_log_weights(nodes, cov, mean)
        top = ll.max(axis=1, keepdims=True)
        total += float((top[:, 0] + np.log(np.exp(ll - top).sum(axis=1))).sum())
    return total


def test_multigroup_bifactor_dimension_reduction_and_recovery(rng):
    j = 15
    slopes = np.zeros((j, 4))
    # a focal group's general and specific means are told apart by the items' different
    # general/specific slope ratios within a set: make them clearly different
    for s in range(3):
        slopes[5 * s:5 * s + 5, 0] = [1.8, 1.5, 1.2, 0.9, 0.7]
        slopes[5 * s:5 * s + 5, 1 + s] = [0.6, 0.8, 1.0, 1.3, 1.5]
    d = np.sort(rng.normal(0, 1, (j, 2)), axis=1)[:, ::-1]
    focal_mean = np.array([0.5, 0.0, -0.4, 0.0])
    focal_cov = np.diag([1.5, 1.0, 0.6, 1.0])
    data, labels = _two_groups(rng, slopes, d, np.eye(4), focal_mean, focal_cov, 2500, 2500)
    items = list(data.columns)
    spec = {"s1": items[:5], "s2": items[5:10], "s3": items[10:]}
    cal = calibrate(data, "graded", bifactor=spec, group=labels, reference="ref")
    assert cal.converged and cal.factor_model == "bifactor" and cal.quadrature_points == 21
    means, cov = cal.factor_means.loc["focal"].to_numpy(), cal.factor_covariances.loc["focal"].to_numpy()
    np.testing.assert_allclose(means, focal_mean, atol=0.12)
    np.testing.assert_allclose(np.diag(cov), np.diag(focal_cov), atol=0.25)
    # factors stay orthogonal in every group
    assert np.count_nonzero(cov - np.diag(np.diag(cov))) == 0
    a_hat = cal.slope_intercept[["a1", "a2", "a3", "a4"]].to_numpy()
    assert np.sqrt(np.mean((a_hat[slopes != 0] - slopes[slopes != 0]) ** 2)) < 0.15
    # 15 general + 15 specific slopes + 30 intercepts + focal: 4 means + 4 variances
    assert cal.n_parameters == 68
    # the reported log-likelihood by dimension reduction = 4-dimensional quadrature
    small = calibrate(data.iloc[::25], "graded", bifactor=spec, group=labels[::25], reference="ref",
                      quadrature_points=9, tol=1e-3, min_group_size=50)
    assert small.loglik == pytest.approx(_full_loglik(small, data.iloc[::25], labels[::25], 9), abs=1e-6)


def test_two_tier_dimension_reduction_equals_full_quadrature(rng):
    from psychometrics.estep import estep
    from psychometrics.estep_bifactor import bifactor_estep

    slopes = np.zeros((8, 4))
    slopes[:4, 0] = [1.2, 1.5, 0.9, 1.1]
    slopes[4:, 1] = [1.3, 1.0, 1.4, 0.8]
    slopes[[0, 1, 4, 5], 2] = [0.8, 0.9, 0.7, 1.0]
    slopes[[2, 3, 6], 3] = [0.9, 0.8, 0.7]                 # q8 on its general factor only
    d = np.sort(rng.normal(0, 1, (8, 2)), axis=1)[:, ::-1]
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.5
    data = _responses(rng, slopes, d, np.zeros(4), cov, 250, missing=0.05)
    items = list(data.columns)
    general = {"g1": items[:4], "g2": items[4:]}
    spec = {"s1": ["q1", "q2", "q5", "q6"], "s2": ["q3", "q4", "q7"]}
    with warnings.catch_warnings():
        # the identity below holds at any parameter values: a few EM iterations suffice
        warnings.simplefilter("ignore", ConvergenceWarning)
        cal = calibrate(data, "graded", bifactor=spec, general=general, quadrature_points=7, max_iter=20)
    assert cal.factors == ("g1", "g2", "s1", "s2") and cal.factor_model == "two-tier"
    assert cal.general_factors == ("g1", "g2")
    assert cal.slope_intercept.loc["q1", "a2"] == 0.0 and cal.slope_intercept.loc["q8", ["a3", "a4"]].tolist() == [0, 0]
    corr = cal.factor_correlations.to_numpy()
    assert 0.0 < corr[0, 1] < 1.0 and np.count_nonzero(corr[2:, :2]) == 0 and corr[2, 3] == 0
    # 8 general + 7 specific slopes + 16 intercepts + 1 correlation
    assert cal.n_parameters == 32
    assert cal.loglik == pytest.approx(_full_loglik(cal, data, None, 7), abs=1e-6)
    # expected counts = the 4-dimensional ones summed over the other specific factor
    q = np.linspace(-6, 6, 7)
    nodes4 = product_nodes(q, 4)
    codes = cal.encode(data)
    e4 = estep(codes, cal.log_probabilities(nodes4), mvn_log_weights(nodes4, corr))
    counts4 = e4.counts.reshape(8, 7, 7, 7, 7, -1)
    nodes3 = product_nodes(q, 3)
    item_spec = [1, 1, 2, 2, 1, 1, 2, 0]
    log_p3 = np.stack([cal.log_probabilities(np.column_stack([nodes3[:, 0], nodes3[:, 1], nodes3[:, 2] * (s == 1),
                                                              nodes3[:, 2] * (s == 2)]))[j]
                       for j, s in enumerate(item_spec)])
    e3 = bifactor_estep(codes, log_p3, np.array(item_spec), mvn_log_weights(product_nodes(q, 2), corr[:2, :2]),
                        mvn_log_weights(q[:, None], np.eye(1)))
    assert e3.loglik == pytest.approx(e4.loglik, abs=1e-6)
    c3 = e3.counts.reshape(8, 7, 7, 7, -1)
    np.testing.assert_allclose(c3[[0, 1, 4, 5]], counts4[[0, 1, 4, 5]].sum(axis=4), atol=1e-8)
    np.testing.assert_allclose(c3[[2, 3, 6]], counts4[[2, 3, 6]].sum(axis=3), atol=1e-8)


def test_two_tier_recovery(rng):
    j = 18
    slopes = np.zeros((j, 5))
    slopes[:9, 0] = rng.uniform(1.2, 2.0, 9)
    slopes[9:, 1] = rng.uniform(1.2, 2.0, 9)
    for s in range(3):
        rows = [3 * s, 3 * s + 1, 3 * s + 2, 9 + 3 * s, 10 + 3 * s, 11 + 3 * s]
        slopes[rows, 2 + s] = rng.uniform(0.7, 1.2, 6)
    d = np.sort(rng.normal(0, 1, (j, 2)), axis=1)[:, ::-1]
    cov = np.eye(5)
    cov[0, 1] = cov[1, 0] = 0.5
    data = _responses(rng, slopes, d, np.zeros(5), cov, 3000)
    items = list(data.columns)
    spec = {f"s{s + 1}": [items[r] for r in (3 * s, 3 * s + 1, 3 * s + 2, 9 + 3 * s, 10 + 3 * s, 11 + 3 * s)]
            for s in range(3)}
    cal = calibrate(data, "graded", bifactor=spec, general={"g1": items[:9], "g2": items[9:]},
                    quadrature_points=11)
    assert cal.converged
    a_hat = cal.slope_intercept[[f"a{m}" for m in range(1, 6)]].to_numpy()
    assert np.sqrt(np.mean((a_hat[slopes != 0] - slopes[slopes != 0]) ** 2)) < 0.15
    assert cal.factor_correlations.loc["g1", "g2"] == pytest.approx(0.5, abs=0.08)


def test_two_tier_errors(rng):
    data = _responses(rng, np.ones((6, 1)), np.zeros((6, 1)), np.zeros(1), np.eye(1), 100)
    items = list(data.columns)
    with pytest.raises(ValueError, match="general= applies"):
        calibrate(data, "2pl", factors={"A": items}, general={"g": items})
    with pytest.raises(ValueError, match="also a specific factor"):
        calibrate(data, "2pl", bifactor={"g": items[:3]}, general={"g": items})
    with pytest.raises(ValueError, match="load on no factor"):
        calibrate(data, "2pl", bifactor={"s": items[:2]}, general={"g1": items[2:4], "g2": items[3:5]})
    with pytest.raises(ValueError, match="at most 2 general"):
        calibrate(data, "2pl", bifactor={"s": items[:2]},
                  general={"g1": items[:2], "g2": items[2:4], "g3": items[4:]})


def test_explicit_quadrature_points_are_honoured(rng):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.6, 0], [0, 1.2], [0, 1.5], [0, 0.9]])
    data = _responses(rng, slopes, np.zeros((6, 1)), np.zeros(2), np.eye(2), 200)
    structure = {"A": ["q1", "q2", "q3"], "B": ["q4", "q5", "q6"]}
    default = calibrate(data, "2pl", factors=structure, tol=1e-3)
    explicit = calibrate(data, "2pl", factors=structure, quadrature_points=61, tol=1e-3)
    assert default.quadrature_points == 31 and explicit.quadrature_points == 61
    assert explicit.loglik != default.loglik
    one = calibrate(data[["q1", "q2", "q3"]], "2pl", factors={"A": ["q1", "q2", "q3"]}, quadrature_points=61)
    assert one.quadrature_points == 61
    bif = calibrate(data, "2pl", bifactor={"s1": ["q1", "q2", "q3"], "s2": ["q4", "q5", "q6"]}, tol=1e-2,
                    quadrature_points=61, max_iter=3)
    assert bif.quadrature_points == 61


def test_multigroup_summary_and_refusals(rng):
    slopes = np.array([[1.4, 0], [1.0, 0], [1.6, 0], [0, 1.2], [0, 1.5], [0, 0.9]])
    data, labels = _two_groups(rng, slopes, np.zeros((6, 1)), np.eye(2), np.array([0.5, 0.0]), np.eye(2), 200, 150)
    cal = calibrate(data, "2pl", factors={"A": ["q1", "q2", "q3"], "B": ["q4", "q5", "q6"]}, group=labels,
                    quadrature_points=11, tol=1e-3)
    text = cal.summary()
    assert "factor means" in text and "factor covariances" in text and "2 groups" in repr(cal)
    from psychometrics.irt import score

    with pytest.raises(ValueError, match="multi-group multidimensional calibration .* pass group="):
        score(cal, data)
    scores = score(cal, data, group=labels)
    assert list(scores.columns[:2]) == ["theta_A", "theta_B"]
    with pytest.raises(ValueError, match=r"multi-group multidimensional .* irt.score\(calibration, responses, group"):
        cal.for_group("focal")
