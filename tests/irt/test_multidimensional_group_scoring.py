"""Scoring of multi-group and two-tier multidimensional calibrations
(psychometrics/irt/multidimensional_scoring.py: profile_scores, _eap_bifactor; irt.score(group=))."""

from __future__ import annotations

import dataclasses
import warnings
from itertools import product

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ConvergenceWarning, ModelWarning, ResponseError
from psychometrics.irt import calibrate, score
from psychometrics.irt.multidimensional_scoring import _eap_bifactor, group_priors


def _responses(rng, slopes, intercepts, mean, cov, n, start=0):
    """Graded responses of n persons with theta ~ N(mean, cov)."""
    theta = rng.multivariate_normal(mean, cov, size=n)
    eta = theta @ np.asarray(slopes).T
    star = 1.0 / (1.0 + np.exp(-(eta[:, :, None] + np.asarray(intercepts)[None, :, :])))
    x = (rng.random(eta.shape)[:, :, None] < star).sum(axis=2).astype(float)
    return pd.DataFrame(x, columns=[f"q{j + 1}" for j in range(x.shape[1])],
                        index=[f"p{start + i}" for i in range(n)])


def _two_groups(rng, slopes, intercepts, focal_mean, focal_cov, n_ref, n_focal):
    d = len(focal_mean)
    ref = _responses(rng, slopes, intercepts, np.zeros(d), np.eye(d), n_ref)
    focal = _responses(rng, slopes, intercepts, focal_mean, focal_cov, n_focal, start=n_ref)
    return pd.concat([ref, focal]), np.array(["ref"] * n_ref + ["focal"] * n_focal)


def _quick(data, **kwargs):
    with warnings.catch_warnings():
        # the identities tested hold at any item parameters: a few EM iterations suffice
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", ModelWarning)
        return calibrate(data, "graded", quadrature_points=7, max_iter=15, **kwargs)


def _with_focal_prior(cal, mean, cov):
    """The calibration with the focal group's factor means and covariances replaced."""
    means = cal.factor_means.copy()
    means.loc["focal"] = mean
    covariances = cal.factor_covariances.copy()
    covariances.loc["focal"] = np.asarray(cov)
    return dataclasses.replace(cal, factor_means=means, factor_covariances=covariances)


def _brute_force(cal, codes, mean, cov, points, bound):
    """Posterior means and SDs on the full product grid over each factor's mean +/- ``bound``
    SDs, written independently of the module: item probabilities one item at a time, the prior
    density from its formula."""
    d = len(mean)
    sd = np.sqrt(np.diag(cov))
    axes = [np.linspace(mean[m] - bound * sd[m], mean[m] + bound * sd[m], points) for m in range(d)]
    return _brute_force_on(cal, codes, np.array(list(product(*axes))), mean, cov)


def _brute_force_on(cal, codes, nodes, mean, cov):
    """Posterior means and SDs of N(mean, cov) x likelihood on the given nodes."""
    probs = cal.probabilities(nodes)                                     # (items, Q, K)
    log_post = np.zeros((codes.shape[0], nodes.shape[0]))
    for j in range(codes.shape[1]):
        seen = codes[:, j] >= 0
        log_post[seen] += np.log(probs[j][:, codes[seen, j]].T)
    centred = nodes - mean
    log_post += -0.5 * np.einsum("qd,de,qe->q", centred, np.linalg.inv(cov), centred)
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    first = post @ nodes
    return first, np.sqrt(post @ nodes ** 2 - first ** 2)


def _columns(frame, factors):
    return (frame[[f"theta_{f}" for f in factors]].to_numpy(), frame[[f"se_{f}" for f in factors]].to_numpy())


# ------------------------------------------------------------------------------------------------
# multi-group
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def correlated():
    rng = np.random.default_rng(11)
    slopes = np.array([[1.4, 0], [1.0, 0], [1.6, 0], [0, 1.2], [0, 1.5], [0, 0.9], [0.6, 0.7]])
    intercepts = np.sort(rng.normal(0, 1, (7, 2)), axis=1)[:, ::-1]
    data, labels = _two_groups(rng, slopes, intercepts, np.array([0.5, -0.3]), np.eye(2), 150, 150)
    cal = _quick(data, factors={"A": ["q1", "q2", "q3", "q7"], "B": ["q4", "q5", "q6", "q7"]}, group=labels,
                 reference="ref")
    return data, labels, cal


def test_focal_group_eap_equals_brute_force_posterior(correlated):
    data, labels, cal = correlated
    mean, cov = np.array([0.6, -0.4]), np.array([[1.4, 0.5], [0.5, 0.8]])
    cal = _with_focal_prior(cal, mean, cov)
    np.testing.assert_array_equal(group_priors(cal)[1][0], mean)
    out = score(cal, data, group=labels, quadrature_points=161)
    theta, se = _columns(out, cal.factors)
    focal = labels == "focal"
    codes = cal.encode(data)
    # the integral over the scoring domain (each factor's mean +/- 6 SD) on a finer grid
    expected, expected_se = _brute_force(cal, codes[focal], mean, cov, 301, 6.0)
    np.testing.assert_allclose(theta[focal], expected, atol=1e-6)
    np.testing.assert_allclose(se[focal], expected_se, atol=1e-6)
    ref_mean, ref_se = _brute_force(cal, codes[~focal], np.zeros(2), cal.factor_correlations.to_numpy(), 301, 6.0)
    np.testing.assert_allclose(theta[~focal], ref_mean, atol=1e-6)
    np.testing.assert_allclose(se[~focal], ref_se, atol=1e-6)
    # over the whole plane: the domain leaves out prior tails of a few 1e-6 for all-lowest patterns only
    whole, whole_se = _brute_force(cal, codes[focal], mean, cov, 301, 10.0)
    np.testing.assert_allclose(theta[focal], whole, atol=1e-5)
    np.testing.assert_allclose(se[focal], whole_se, atol=1e-5)
    # MAP: the gradient of the log posterior with the focal prior vanishes at the mode
    modes = score(cal, data.iloc[-40:], group=labels[-40:], method="map")
    t = _columns(modes, cal.factors)[0]
    step = 1e-5
    from psychometrics.estep import log_likelihood_matrix

    def log_post(points):
        ll = np.array([log_likelihood_matrix(codes[-40:][i:i + 1], cal.log_probabilities(points[i:i + 1]))[0, 0]
                       for i in range(points.shape[0])])
        c = points - mean
        return ll - 0.5 * np.einsum("nd,de,ne->n", c, np.linalg.inv(cov), c)

    for m in range(2):
        e = np.zeros(2)
        e[m] = step
        grad = (log_post(t + e) - log_post(t - e)) / (2 * step)
        assert np.abs(grad).max() < 1e-4


def _same_scores(a, b):
    """Equal to rounding: the persons are integrated in different batches (summation order)."""
    assert list(a.columns) == list(b.columns) and a.index.equals(b.index)
    pd.testing.assert_series_equal(a["flag"], b["flag"])
    np.testing.assert_array_equal(a["n_answered"], b["n_answered"])
    numbers = [c for c in a.columns if c.startswith(("theta", "se"))]
    np.testing.assert_allclose(a[numbers].to_numpy(), b[numbers].to_numpy(), rtol=0, atol=1e-13)


def test_group_with_the_reference_prior_equals_single_group_scoring(correlated):
    data, labels, cal = correlated
    phi = cal.factor_correlations.to_numpy()
    same = _with_focal_prior(cal, np.zeros(2), phi)
    single = dataclasses.replace(cal, groups=(), factor_means=None, factor_covariances=None)
    assert not single.is_multigroup
    for method in ("eap", "map"):
        _same_scores(score(same, data, group=labels, method=method), score(single, data, method=method))
    # the reference group's persons are scored under N(0, Phi) whatever the focal prior
    a = score(cal, data, group=labels)
    b = score(single, data)
    ref = labels == "ref"
    _same_scores(a[ref], b[ref])
    assert not np.allclose(a[~ref]["theta_A"], b[~ref]["theta_A"])


def test_group_errors_and_label_forms(correlated):
    data, labels, cal = correlated
    with pytest.raises(ValueError, match=r"multi-group multidimensional calibration .* pass group="):
        score(cal, data)
    bad = labels.copy().astype(object)
    bad[7] = "other"
    with pytest.raises(ResponseError, match=r"group 'other' \(first: respondent 'p7', row 7\) is not one of the "
                                            r"calibration's groups \('ref', 'focal'\)"):
        score(cal, data, group=bad)
    bad[7] = None
    with pytest.raises(ResponseError, match=r"group label is missing for 1 person\(s\): respondent 'p7' \(row 7\)"):
        score(cal, data, group=bad)
    with pytest.raises(ResponseError, match="'grp' is not a column"):
        score(cal, data, group="grp")
    single = dataclasses.replace(cal, groups=(), factor_means=None, factor_covariances=None)
    with pytest.raises(ValueError, match="group= applies to multi-group calibrations"):
        score(single, data, group=labels)
    # a column of the responses, or a Series matched by respondent id (here in reverse order)
    expected = score(cal, data, group=labels)
    pd.testing.assert_frame_equal(score(cal, data.assign(grp=labels), group="grp"), expected)
    by_id = pd.Series(labels, index=data.index).iloc[::-1]
    pd.testing.assert_frame_equal(score(cal, data, group=by_id), expected)
    # persons of one group only
    focal = labels == "focal"
    pd.testing.assert_frame_equal(score(cal, data[focal], group=labels[focal]), expected[focal])


def test_multigroup_bifactor_uses_each_groups_general_and_specific_distribution():
    rng = np.random.default_rng(5)
    slopes = np.zeros((7, 3))
    slopes[:, 0] = [1.5, 1.2, 0.9, 1.4, 1.1, 0.8, 1.0]
    slopes[:3, 1] = [0.8, 1.0, 0.7]
    slopes[3:6, 2] = [0.9, 0.6, 1.1]                       # q7 on the general factor only
    intercepts = np.sort(rng.normal(0, 1, (7, 2)), axis=1)[:, ::-1]
    data, labels = _two_groups(rng, slopes, intercepts, np.array([0.4, 0.0, -0.3]), np.eye(3), 150, 150)
    cal = _quick(data, bifactor={"s1": ["q1", "q2", "q3"], "s2": ["q4", "q5", "q6"]}, group=labels,
                 reference="ref")
    mean, cov = np.array([0.5, -0.3, 0.4]), np.diag([1.5, 0.7, 1.3])
    cal = _with_focal_prior(cal, mean, cov)
    focal = labels == "focal"
    assert not score(cal, data, group=labels, method="map")["flag"].eq("not_converged").any()
    rows = np.flatnonzero(focal)[:50]
    theta, se = _columns(score(cal, data.iloc[rows], group=labels[rows], quadrature_points=101), cal.factors)
    expected, expected_se = _brute_force(cal, cal.encode(data)[rows], mean, cov, 81, 6.0)
    np.testing.assert_allclose(theta, expected, atol=1e-6)
    np.testing.assert_allclose(se, expected_se, atol=1e-6)


def test_focal_mean_eap_tracks_the_shift():
    rng = np.random.default_rng(23)
    slopes = np.zeros((12, 2))
    slopes[:6, 0] = [1.6, 1.3, 1.8, 1.1, 1.5, 1.2]
    slopes[6:, 1] = [1.4, 1.7, 1.2, 1.5, 1.0, 1.6]
    intercepts = np.sort(rng.normal(0, 1, (12, 2)), axis=1)[:, ::-1]
    shift = np.array([0.6, -0.4])
    data, labels = _two_groups(rng, slopes, intercepts, shift, np.eye(2), 1000, 1000)
    items = list(data.columns)
    cal = calibrate(data, "graded", factors={"A": items[:6], "B": items[6:]}, group=labels, reference="ref",
                    quadrature_points=15, tol=1e-3)
    out = score(cal, data, group=labels)
    theta = _columns(out, cal.factors)[0]
    focal = labels == "focal"
    # the mean posterior mean of a group is its estimated factor mean, which recovers the shift
    np.testing.assert_allclose(theta[focal].mean(axis=0), shift, atol=0.1)
    np.testing.assert_allclose(theta[~focal].mean(axis=0), 0.0, atol=0.06)
    np.testing.assert_allclose(theta[focal].mean(axis=0), cal.factor_means.loc["focal"].to_numpy(), atol=0.03)
    # one prior for all (the old, silently wrong answer) pulls the focal group toward 0
    single = dataclasses.replace(cal, groups=(), factor_means=None, factor_covariances=None)
    pooled = _columns(score(single, data), cal.factors)[0]
    assert np.all(np.abs(pooled[focal].mean(axis=0)) < np.abs(theta[focal].mean(axis=0)))


def test_unidimensional_multigroup_scoring_takes_group():
    rng = np.random.default_rng(2)
    theta = np.concatenate([rng.normal(0, 1, 300), rng.normal(0.7, 1, 300)])
    b = np.linspace(-1.5, 1.5, 8)
    data = pd.DataFrame((rng.random((600, 8)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float),
                        columns=[f"i{j}" for j in range(8)])
    labels = np.repeat(["ref", "focal"], 300)
    cal = calibrate(data, "2pl", group=labels, reference="ref")
    out = score(cal, data, group=labels)
    for g in ("ref", "focal"):
        rows = labels == g
        pd.testing.assert_frame_equal(out[rows], score(cal.for_group(g), data[rows]), check_exact=True)
    with pytest.raises(ValueError, match="multi-group calibration .* pass group="):
        score(cal, data)


# ------------------------------------------------------------------------------------------------
# two-tier
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_tier():
    rng = np.random.default_rng(7)
    slopes = np.zeros((8, 4))
    slopes[:4, 0] = [1.2, 1.5, 0.9, 1.1]
    slopes[4:, 1] = [1.3, 1.0, 1.4, 0.8]
    slopes[[0, 1, 4, 5], 2] = [0.8, 0.9, 0.7, 1.0]
    slopes[[2, 3, 6], 3] = [0.9, 0.8, 0.7]                 # q8 on its general factor only
    intercepts = np.sort(rng.normal(0, 1, (8, 2)), axis=1)[:, ::-1]
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.5
    data = _responses(rng, slopes, intercepts, np.zeros(4), cov, 120)
    data.iloc[::9, 2] = np.nan
    items = list(data.columns)
    cal = _quick(data, bifactor={"s1": ["q1", "q2", "q5", "q6"], "s2": ["q3", "q4", "q7"]},
                 general={"g1": items[:4], "g2": items[4:]})
    assert cal.factor_model == "two-tier"
    return data, cal


def _full_grid(cal, codes, points, mean, cov):
    """Four-dimensional product-grid EAP on the same per-factor nodes as the dimension reduction."""
    z = np.linspace(-6.0, 6.0, points)
    sd = np.sqrt(np.diag(cov))
    nodes = np.array(list(product(z, repeat=len(mean)))) * sd + mean
    return _brute_force_on(cal, codes, nodes, mean, cov)


def test_two_tier_dimension_reduction_equals_full_grid(two_tier):
    data, cal = two_tier
    codes = cal.encode(data)
    phi = cal.factor_correlations.to_numpy()
    theta, se = _eap_bifactor(cal, codes, 21, 2)
    expected, expected_se = _full_grid(cal, codes, 21, np.zeros(4), phi)
    np.testing.assert_allclose(theta, expected, atol=1e-6)
    np.testing.assert_allclose(se, expected_se, atol=1e-6)
    # the public path (15 points per dimension by default) is the same computation
    out = score(cal, data)
    expected15 = _full_grid(cal, codes, 15, np.zeros(4), phi)[0]
    np.testing.assert_allclose(_columns(out, cal.factors)[0], expected15, atol=1e-6)
    # under another factor distribution (a focal group's), still the full-grid answer
    mean = np.array([0.3, -0.2, 0.4, -0.5])
    cov = np.array([[1.3, 0.4, 0, 0], [0.4, 0.8, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 0.7]])
    theta, se = _eap_bifactor(cal, codes, 21, 2, mean, cov)
    expected, expected_se = _full_grid(cal, codes, 21, mean, cov)
    np.testing.assert_allclose(theta, expected, atol=1e-6)
    np.testing.assert_allclose(se, expected_se, atol=1e-6)


def test_two_tier_map_converges_near_the_eap(two_tier):
    data, cal = two_tier
    eap = score(cal, data)
    modes = score(cal, data, method="map")
    assert not modes["flag"].eq("not_converged").any()
    # mode and mean differ but not by much for 8 items
    diff = np.abs(_columns(modes, cal.factors)[0] - _columns(eap, cal.factors)[0])
    assert 0 < diff.max() < 1.0
