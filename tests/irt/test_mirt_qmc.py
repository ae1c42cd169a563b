"""Quasi-Monte Carlo EM beyond three factors: the effective-points diagnostic and the
log-likelihood estimate (docs/multidimensional.md, "More than three factors")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ConvergenceWarning, ModelWarning
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
        cal = calibrate(likert, model="graded", factors=scales, quadrature_points=2000, max_iter=6,
                        integration="qmc")
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
        cal = calibrate(data, "2pl", factors=structure, quadrature_points=1000, integration="qmc")
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
    cal = calibrate(data, "2pl", factors=structure, quadrature_points=1000, integration="qmc")
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


# ------------------------------------------------------------------------------------------------
# adaptive (person-specific) points: the default of confirmatory models beyond three factors
# ------------------------------------------------------------------------------------------------

def _correlated_graded(rng, d_factors, per, n, low=0.3, high=0.6, cross=()):
    """Graded items (5 categories), ``per`` per factor, correlations drawn in [low, high];
    ``cross``: (item, factor, slope) extra loadings."""
    corr = np.eye(d_factors)
    upper = np.triu_indices(d_factors, 1)
    corr[upper] = rng.uniform(low, high, len(upper[0]))
    corr[(upper[1], upper[0])] = corr[upper]
    slopes = np.zeros((d_factors * per, d_factors))
    for m in range(d_factors):
        slopes[m * per:(m + 1) * per, m] = rng.uniform(1.2, 2.5, per)
    for j, m, a in cross:
        slopes[j, m] = a
    intercepts = np.sort(rng.uniform(-2.0, 2.0, (d_factors * per, 4)), axis=1)[:, ::-1]
    data = _graded_data(rng, slopes, intercepts, corr, n)
    items = list(data.columns)
    structure = {f"F{m + 1}": [items[j] for j in range(len(items)) if slopes[j, m] != 0] for m in range(d_factors)}
    return data, structure, corr, slopes


def test_adaptive_is_the_default_beyond_three_factors_and_the_options_are_checked(rng):
    data, structure = _few_items_per_factor(rng, n=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cal = calibrate(data, "2pl", factors=structure, max_iter=3)
    assert cal.quadrature_points == 128 and cal.effective_points["points"] == 128
    with pytest.raises(ValueError, match="integration must be one of"):
        calibrate(data, "2pl", factors=structure, integration="mcmc")
    with pytest.raises(ValueError, match="too many nodes"):
        calibrate(data, "2pl", factors=structure, integration="grid")
    with pytest.raises(ValueError, match="confirmatory"):
        calibrate(data, "2pl", factors=4, integration="adaptive")
    with pytest.raises(ValueError, match="points per person"):
        calibrate(data, "2pl", factors=structure, quadrature_points=4)
    with pytest.raises(ValueError, match="multidimensional"):
        calibrate(data, "2pl", integration="adaptive")
    items = list(data.columns)
    with pytest.raises(ValueError, match="dimension reduction"):
        calibrate(data, "2pl", bifactor={"s1": items[:6], "s2": items[6:]}, integration="adaptive")


def test_adaptive_with_too_few_points_per_person_is_flagged(rng):
    # 8 points per person leave fewer than 30 effective ones: the same warning rule as shared points
    data, structure = _few_items_per_factor(rng, n=300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrate(data, "2pl", factors=structure, quadrature_points=8, max_iter=5)
    flagged = [w for w in caught if issubclass(w.category, ModelWarning) and "adaptive integration" in str(w.message)]
    assert len(flagged) == 1 and "raise quadrature_points=" in str(flagged[0].message)
    assert cal.effective_points["median"] < 8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibrate(data, "2pl", factors=structure, max_iter=5)
    assert not [w for w in caught if "adaptive integration" in str(w.message)]


def test_adaptive_two_factors_equal_the_grid(rng):
    # known answer: with 256 points per person the adaptive fit equals the 31^2 grid's (itself
    # within 1e-4 of a 241^2 grid in log-likelihood on this case); one item loads on both
    # factors, so the pseudo-observation M-step is exercised too
    data, structure, _, _ = _correlated_graded(rng, 2, 5, 600, cross=[(0, 1, 0.8)])
    grid = calibrate(data, "graded", factors=structure, se=True)
    ada = calibrate(data, "graded", factors=structure, integration="adaptive", quadrature_points=256, se=True)
    assert ada.converged and ada.effective_points["median"] > 0.5 * 256
    a_grid = grid.slope_intercept.to_numpy()
    a_ada = ada.slope_intercept.to_numpy()
    assert np.abs(a_ada - a_grid).max() < 0.02
    assert abs(ada.factor_correlations.iloc[0, 1] - grid.factor_correlations.iloc[0, 1]) < 0.005
    assert abs(ada.loglik - grid.loglik) < 0.3 and 0 < ada.loglik_se < 0.1
    se_ratio = ada.standard_errors.to_numpy() / grid.standard_errors.to_numpy()
    assert np.nanmax(np.abs(se_ratio - 1.0)) < 0.05


def test_adaptive_agrees_with_many_shared_points_on_a_small_case(rng):
    # known answer: 16,384 shared quasi-Monte Carlo points (median ESS in the hundreds on 4
    # factors of 3 items: the QMC fit is accurate there) against the default 128 adaptive points
    data, structure = _few_items_per_factor(rng, n=500)
    data = data.mask(rng.random(data.shape) < 0.05)          # missing responses add nothing
    qmc = calibrate(data, "2pl", factors=structure, integration="qmc", quadrature_points=16384)
    ada = calibrate(data, "2pl", factors=structure)
    assert ada.converged and qmc.converged
    upper = np.triu_indices(4, 1)
    gap = ada.factor_correlations.to_numpy()[upper] - qmc.factor_correlations.to_numpy()[upper]
    assert np.abs(gap).max() < 0.02
    assert np.abs(ada.slope_intercept.to_numpy() - qmc.slope_intercept.to_numpy()).max() < 0.08
    assert abs(ada.loglik - qmc.loglik) < 3 * max(ada.loglik_se, qmc.loglik_se) + 0.5


def test_adaptive_seven_factors_recover_the_correlations_without_inflating_them():
    # the case of the issue: 7 factors of 7 graded items, narrow posteriors. 2,000 shared points
    # inflated the correlations (bundled sample: 0.555 against 0.497 with 16,384 points); the
    # person-specific points recover them (measured: mean error -0.008, RMSE 0.018, slope RMSE
    # 0.105; docs/multidimensional.md)
    rng = np.random.default_rng(1)
    data, structure, corr, slopes = _correlated_graded(rng, 7, 7, 3000)
    cal = calibrate(data, "graded", factors=structure)
    assert cal.converged
    upper = np.triu_indices(7, 1)
    error = cal.factor_correlations.to_numpy()[upper] - corr[upper]
    assert abs(error.mean()) < 0.03 and np.sqrt(np.mean(error ** 2)) < 0.04
    a_hat = cal.slope_intercept[[f"a{m}" for m in range(1, 8)]].to_numpy()
    assert np.sqrt(np.mean((a_hat[slopes != 0] - slopes[slopes != 0]) ** 2)) < 0.15
    assert np.isfinite(cal.loglik) and 0 < cal.loglik_se < 5.0
