"""M2 and likelihood-ratio tests of multidimensional calibrations (psychometrics/fit/model.py).

Known answers: a one-factor multidimensional calibration is the unidimensional model, so its
M2 equals the unidimensional M2; on data simulated from a two-factor model the two-factor M2
is a plausible chi-square draw while the one-factor model is rejected; likelihood-ratio df
are differences of ``n_parameters``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from psychometrics import irt
from psychometrics.fit import item_fit, likelihood_ratio, m2


def _two_factor(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.5], [0.5, 1.0]], size=n)
    slopes = np.zeros((12, 2))
    slopes[:6, 0] = rng.uniform(1.0, 2.0, 6)
    slopes[6:, 1] = rng.uniform(1.0, 2.0, 6)
    x = rng.random((n, 12)) < 1.0 / (1.0 + np.exp(-(theta @ slopes.T + rng.normal(0.0, 1.0, 12))))
    return pd.DataFrame(x.astype(float), columns=[f"i{j:02d}" for j in range(12)])


@pytest.fixture(scope="module")
def two_factor():
    frame = _two_factor()
    items = list(frame.columns)
    cals = {"uni": irt.calibrate(frame, "2pl"),
            "one": irt.calibrate(frame, "2pl", factors={"g": items}),
            "two": irt.calibrate(frame, "2pl", factors={"f1": items[:6], "f2": items[6:]})}
    return frame, cals


def test_m2_of_one_factor_equals_the_unidimensional_m2(two_factor):
    frame, cals = two_factor
    uni, one = m2(cals["uni"], frame, type="M2"), m2(cals["one"], frame, type="M2")
    assert one.m2 == pytest.approx(uni.m2, rel=1e-8)
    assert (one.df, one.n_parameters, one.n_statistics) == (uni.df, uni.n_parameters, uni.n_statistics) == (54, 24, 78)
    assert one.rmsea == pytest.approx(uni.rmsea, rel=1e-7) and one.srmsr == pytest.approx(uni.srmsr, rel=1e-7)


def test_m2_accepts_the_true_two_factor_model_and_rejects_one_factor(two_factor):
    frame, cals = two_factor
    two, one = m2(cals["two"], frame, type="M2"), m2(cals["one"], frame, type="M2")
    # df = 12 + 66 margins - (24 item parameters + 1 correlation)
    assert (two.df, two.n_parameters) == (53, 25)
    assert two.p > 0.05 and two.rmsea < 0.02
    assert one.m2 > 500 and one.p < 1e-50
    assert two.p == pytest.approx(stats.chi2.sf(two.m2, two.df))


def test_likelihood_ratio_and_information_criteria_between_the_three_models():
    rng = np.random.default_rng(11)
    n, per = 800, 3
    theta = rng.normal(size=(n, 4))
    slopes = np.zeros((9, 4))
    slopes[:, 0] = rng.uniform(1.0, 1.8, 9)
    for s in range(3):
        slopes[per * s:per * (s + 1), s + 1] = rng.uniform(1.0, 1.5, per)
    x = rng.random((n, 9)) < 1.0 / (1.0 + np.exp(-(theta @ slopes.T + rng.normal(0.0, 0.8, 9))))
    frame = pd.DataFrame(x.astype(float), columns=[f"i{j}" for j in range(9)])
    items = list(frame.columns)
    groups = {f"s{s + 1}": items[per * s:per * (s + 1)] for s in range(3)}
    uni = irt.calibrate(frame, "2pl")
    correlated = irt.calibrate(frame, "2pl", factors=groups, quadrature_points=11)
    bifactor = irt.calibrate(frame, "2pl", bifactor=groups)
    # 9 slopes + 9 intercepts; + 3 correlations; + 9 specific slopes
    assert (uni.n_parameters, correlated.n_parameters, bifactor.n_parameters) == (18, 21, 27)
    for general in (correlated, bifactor):
        lr = likelihood_ratio(uni, general)
        assert lr.df == general.n_parameters - uni.n_parameters
        assert lr.chi2 == pytest.approx(2.0 * (general.loglik - uni.loglik), rel=1e-12)
        assert lr.delta_aic == pytest.approx(-lr.chi2 + 2.0 * lr.df, rel=1e-9)
        assert lr.delta_bic == pytest.approx(-lr.chi2 + lr.df * math.log(n), rel=1e-9)
        # the data are bifactor: one dimension is rejected
        assert lr.p < 1e-10
    # the true (bifactor) model fits the margins; the unidimensional one does not
    assert m2(bifactor, frame, type="M2").p > 0.01
    assert m2(uni, frame, type="M2").p < 1e-6
    # neither multidimensional model nests the other; both fit about as well here (three items
    # per specific factor: the bifactor is close to a second-order model of the three factors),
    # and BIC prefers the one with fewer parameters
    assert abs(bifactor.loglik - correlated.loglik) < 1.0
    assert correlated.bic < bifactor.bic < uni.bic


def test_m2_of_an_exploratory_model_counts_the_layout_parameters(two_factor):
    frame, _ = two_factor
    efa = irt.calibrate(frame, "2pl", factors=2)
    result = m2(efa, frame, type="M2")
    # 2 x 12 slopes less 1 for the rotation + 12 intercepts; the rotated slopes span no more
    assert result.n_parameters == efa.n_parameters == 35
    assert result.df == 78 - 35 and result.p > 0.01


def test_item_fit_of_a_multidimensional_calibration_is_refused_clearly(two_factor):
    frame, cals = two_factor
    with pytest.raises(ValueError, match="not provided for multidimensional calibrations.*fit.m2"):
        item_fit(cals["two"], frame)
