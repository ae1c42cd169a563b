"""Quasi-Monte Carlo EM beyond three factors: the effective-points diagnostic and the
log-likelihood estimate (docs/multidimensional.md, "More than three factors")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ModelWarning
from psychometrics.irt import calibrate
from psychometrics.irt.multidimensional import QMC_MIN_EFFECTIVE_POINTS


def _graded_data(rng, slopes, intercepts, corr, n):
    theta = rng.multivariate_normal(np.zeros(len(corr)), corr, size=n)
    eta = theta @ np.asarray(slopes).T
    star = 1.0 / (1.0 + np.exp(-(eta[:, :, None] + np.asarray(intercepts)[None, :, :])))
    x = (rng.random(eta.shape)[:, :, None] < star).sum(axis=2).astype(float)
    return pd.DataFrame(x, columns=[f"q{j + 1}" for j in range(x.shape[1])])


def _few_items_per_factor(rng, d_factors=4, per=3, n=1500):
    corr = np.full((d_factors, d_factors), 0.4)
    np.fill_diagonal(corr, 1.0)
    slopes = np.zeros((d_factors * per, d_factors))
    for m in range(d_factors):
        slopes[m * per:(m + 1) * per, m] = rng.uniform(1.5, 2.2, per)
    data = _graded_data(rng, slopes, rng.normal(0, 0.8, (d_factors * per, 1)), corr, n)
    items = list(data.columns)
    return data, {f"F{m + 1}": items[m * per:(m + 1) * per] for m in range(d_factors)}


def _soft_skills():
    from psychometrics import Instrument
    from psychometrics.instrument import bundled_sample

    soft = Instrument.bundled("soft-skills-7")
    return soft.prepare(bundled_sample("soft-skills-7")), soft.scale_items()


def test_seven_factors_on_2000_points_are_flagged():
    # 49 graded items on 7 scales: each posterior is concentrated on a few of the 2,000 prior
    # points (median 13.5 for the whole sample at convergence); how concentrated depends on the
    # items, not on the number of persons, and a few EM iterations reach that regime
    import dataclasses

    likert, scales = _soft_skills()
    likert = dataclasses.replace(likert, frame=likert.frame.iloc[:300], metadata=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrate(likert, model="graded", factors=scales, quadrature_points=2000, max_iter=6)
    messages = [str(w.message) for w in caught if issubclass(w.category, ModelWarning)]
    flagged = [m for m in messages if "effective points" in m]
    assert len(flagged) == 1 and "quadrature_points=" in flagged[0] and "fewer factors" in flagged[0]
    ess = cal.effective_points
    assert ess["points"] == 2000 and ess["median"] < QMC_MIN_EFFECTIVE_POINTS and ess["p05"] < ess["median"]
    assert ess["p05"] >= 1.0


def test_four_factors_with_three_items_each_are_not_flagged(rng):
    data, structure = _few_items_per_factor(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        cal = calibrate(data, "2pl", factors=structure, quadrature_points=1000)
    ess = cal.effective_points
    assert ess["points"] == 1000 and ess["median"] > 3 * QMC_MIN_EFFECTIVE_POINTS
    assert 0 < ess["p05"] <= ess["median"] <= 1000


def test_quadrature_calibrations_carry_no_effective_points(rng):
    data, structure = _few_items_per_factor(rng, d_factors=2, n=300)
    assert calibrate(data, "2pl", factors=structure, quadrature_points=11).effective_points is None


def test_loglik_is_estimated_off_the_fitting_points_and_its_se_covers_a_fine_grid(rng):
    from psychometrics.estep import log_likelihood_matrix
    from psychometrics.quadrature import mvn_log_weights, product_nodes

    data, structure = _few_items_per_factor(rng, n=800)
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=1000)
    assert 0 < cal.loglik_se < 5.0
    # reference: a 17^4 tensor-product grid (83,521 nodes) at the estimates
    nodes = product_nodes(np.linspace(-5.5, 5.5, 17), 4)
    log_w = mvn_log_weights(nodes, cal.factor_correlations.to_numpy())
    codes = cal.encode(data)
    log_probs = cal.log_probabilities(nodes)
    total = 0.0
    for start in range(0, len(codes), 200):
        ll = log_likelihood_matrix(codes[start:start + 200], log_probs) + log_w
        top = ll.max(axis=1, keepdims=True)
        total += float((top[:, 0] + np.log(np.exp(ll - top).sum(axis=1))).sum())
    assert abs(cal.loglik - total) < 3 * cal.loglik_se + 0.5
