"""Reliability and joint scoring of correlated scales (psychometrics/irt/multidimensional_scoring.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import Instrument, irt
from psychometrics.instrument import bundled_sample
from psychometrics.irt.multidimensional_scoring import factor_marginal_reliability, joint_scale_profile
from psychometrics.scoring import marginal_reliability


@pytest.fixture(scope="module")
def soft():
    inst = Instrument.bundled("soft-skills-7")
    responses = inst.prepare(bundled_sample("soft-skills-7"))
    scales = inst.scale_items()
    names = ["communication", "problem_solving", "adaptability"]
    cals = [irt.calibrate(responses.subset(scales[s]), "graded") for s in names]
    codes = [c.encode(responses.subset(c.item_ids)) for c in cals]
    return responses, scales, cals, codes


@pytest.mark.parametrize("model", ["graded", "gpcm"])
def test_one_factor_marginal_reliability_is_the_unidimensional_one(soft, model):
    responses, scales, _, _ = soft
    items = scales["communication"]
    alone = irt.calibrate(responses.subset(items), model)
    one = irt.calibrate(responses.subset(items), model, factors={"communication": items})
    assert factor_marginal_reliability(one)["communication"] == pytest.approx(marginal_reliability(alone), abs=1e-10)


def test_marginal_reliability_gains_from_a_correlated_factor(soft):
    responses, scales, _, _ = soft
    items = scales["communication"] + scales["teamwork"]
    two = irt.calibrate(responses.subset(items), "graded",
                        factors={s: scales[s] for s in ("communication", "teamwork")})
    rxx = factor_marginal_reliability(two)
    alone = marginal_reliability(irt.calibrate(responses.subset(scales["teamwork"]), "graded"))
    assert list(rxx.index) == ["communication", "teamwork"]
    # r = 0.47: a few thousandths to a hundredth of reliability (0.772 alone)
    assert 0.005 < rxx["teamwork"] - alone < 0.02
    orthogonal = irt.calibrate(responses.subset(items), "graded", correlated=False,
                               factors={s: scales[s] for s in ("communication", "teamwork")})
    # without correlation nothing is borrowed: each factor's reliability is its scale's own
    assert factor_marginal_reliability(orthogonal)["teamwork"] == pytest.approx(alone, abs=5e-3)


def _brute_force_eap(cals, codes, corr, points=61):
    """Posterior means and SDs on the full product grid, written independently of the module."""
    from itertools import product

    grid = np.linspace(-6.0, 6.0, points)
    lik = []
    for cal, c in zip(cals, codes):
        probs = cal.probabilities(grid)                                     # (items, Q, K)
        ll = np.zeros((c.shape[0], points))
        for j in range(c.shape[1]):
            seen = c[:, j] >= 0
            ll[seen] += np.log(probs[j][:, c[seen, j]].T)
        lik.append(ll)
    nodes = np.array(list(product(grid, repeat=len(cals))))
    precision = np.linalg.inv(corr)
    log_prior = -0.5 * np.einsum("qd,de,qe->q", nodes, precision, nodes)
    idx = np.array(list(product(range(points), repeat=len(cals))))
    log_post = sum(ll[:, idx[:, m]] for m, ll in enumerate(lik)) + log_prior
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ nodes
    return mean, np.sqrt(post @ nodes ** 2 - mean ** 2)


def test_joint_eap_equals_the_brute_force_posterior(soft):
    _, _, cals, codes = soft
    corr = np.array([[1.0, 0.3], [0.3, 1.0]])
    mean, sd = _brute_force_eap(cals[:2], [c[:200] for c in codes[:2]], corr)
    result = joint_scale_profile(cals[:2], [c[:200] for c in codes[:2]], correlations=corr)
    np.testing.assert_allclose(result.theta, mean, atol=1e-4)
    np.testing.assert_allclose(result.se, sd, atol=1e-4)
    assert result.n_iter == 0


def test_adaptive_points_agree_with_the_grid(soft):
    _, _, cals, codes = soft
    codes = [c[:400] for c in codes]
    # 21 points per dimension: EAPs within 1e-3 of a 61-point grid
    grid = joint_scale_profile(cals, codes, quadrature_points=21)
    adaptive = joint_scale_profile(cals, codes, integration="adaptive", quadrature_points=1024)
    np.testing.assert_allclose(adaptive.correlations, grid.correlations, atol=3e-3)
    np.testing.assert_allclose(adaptive.theta, grid.theta, atol=5e-3)
    np.testing.assert_allclose(adaptive.se, grid.se, atol=5e-3)
    # the first 400 of the bundled sample: communication and problem solving correlate 0.34
    assert grid.correlations[0, 1] == pytest.approx(0.337, abs=0.005) and grid.converged


def test_estimated_correlations_recover_the_truth():
    rng = np.random.default_rng(5)
    n, per, d = 800, 6, 4
    truth = np.array([[1.0, 0.6, 0.3, 0.0], [0.6, 1.0, 0.4, 0.2], [0.3, 0.4, 1.0, 0.5], [0.0, 0.2, 0.5, 1.0]])
    theta = rng.multivariate_normal(np.zeros(d), truth, size=n)
    cals, codes = [], []
    for m in range(d):
        a = rng.uniform(1.2, 2.2, per)
        b = np.sort(rng.uniform(-1.5, 1.5, (per, 3)), axis=1)
        u = rng.random((n, per))
        x = sum((u < 1.0 / (1.0 + np.exp(-a * (theta[:, [m]] - b[:, k])))) for k in range(3))
        frame = pd.DataFrame(x.astype(float), columns=[f"s{m}_{j}" for j in range(per)])
        cal = irt.calibrate(frame, "graded")
        cals.append(cal)
        codes.append(cal.encode(frame))
    result = joint_scale_profile(cals, codes)
    assert result.converged
    # four scales by adaptive points (three scales agree with the grid: test above): four times
    # the default 2048 points move no EAP or SE by more than 0.015 (observed 0.006, 0.009)
    more = joint_scale_profile(cals, codes, quadrature_points=8192, correlations=result.correlations)
    np.testing.assert_allclose(more.theta, result.theta, atol=0.015)
    np.testing.assert_allclose(more.se, result.se, atol=0.015)
    assert abs(more.loglik - result.loglik) < 1.5
    # recovery: with six items per scale and n = 1000, within 0.1 of the truth
    assert np.abs(result.correlations - truth).max() < 0.1


def test_eap_around_the_mode_agrees_with_the_grid(soft):
    """Beyond three factors EAP uses points around each person's mode; on three factors it
    must reproduce the grid (61 points per dimension, two factors)."""
    from psychometrics.irt.multidimensional_scoring import _eap_adaptive, _eap_grid

    responses, scales, _, _ = soft
    names = ["communication", "problem_solving"]
    items = [i for s in names for i in scales[s]]
    cal = irt.calibrate(responses.subset(items), "graded", factors={s: scales[s] for s in names})
    codes = cal.encode(responses.subset(items))[:150]
    grid_theta, grid_se = _eap_grid(cal, codes, 61)
    theta, se = _eap_adaptive(cal, codes, 1024)
    # observed on three factors against a 31-point grid: 8e-4 and 1.3e-3
    np.testing.assert_allclose(theta, grid_theta, atol=3e-3)
    np.testing.assert_allclose(se, grid_se, atol=3e-3)
