"""Nominal items on sliders (many categories, a handful of persons per category score): the
calibration converges to sensible estimates under the model's stated default prior, and is
never reported as fine when it does not converge (issue 9, part 5)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.data import load_responses
from psychometrics.errors import ConvergenceWarning, ModelWarning


def _sliders(persons: int, items: int, top: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Slider answers 0..top: a one-factor latent response rounded onto the slider."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(persons)
    latent = 0.7 * theta[:, None] + 0.7 * rng.standard_normal((persons, items))
    codes = np.clip(np.round(top / 2 + latent * top / 6), 0, top)
    return pd.DataFrame(codes, columns=[f"slider{j + 1}" for j in range(items)]), theta


@pytest.fixture(scope="module")
def sliders():
    frame, theta = _sliders(800, 4, 30, seed=5)
    return load_responses(frame, max_categories=31, warn=False), theta


def test_nominal_sliders_converge_under_the_default_prior(sliders):
    responses, theta = sliders
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nominal = irt.calibrate(responses, "nominal")
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert nominal.converged and nominal.n_iter < 100
    # the prior in effect is stated: ak_k ~ N(k, 1) on every free category score, as a default
    priors = nominal.priors
    n_scores = sum(len(nominal.categories[i]) - 2 for i in nominal.item_ids)
    assert len(priors) == n_scores and set(priors["source"]) == {"default"}
    assert set(priors["kind"]) == {"normal"} and set(priors["p2"]) == {1.0}
    assert (priors["p1"] == priors["parameter"].str.slice(2).astype(float)).all()
    assert "default prior ak_k ~ N(k, 1) on the category scores of 4 nominal item(s)" in nominal.summary()
    # sensible: positive slopes, scores near their ranks and increasing with them
    si = nominal.slope_intercept
    assert (si["a1"] > 0).all()
    for item in nominal.item_ids:
        k = len(nominal.categories[item])
        scores = si.loc[item, [f"ak{j}" for j in range(1, k - 1)]].to_numpy(dtype=float)
        assert np.abs(scores - np.arange(1, k - 1)).max() < 2.0
        assert np.corrcoef(scores, np.arange(1, k - 1))[0, 1] > 0.98
    # the gpcm is the nominal model at the prior's mode, so the penalized maximum cannot have a
    # lower log-likelihood than the gpcm's maximum
    gpcm = irt.calibrate(responses, "gpcm")
    assert nominal.loglik >= gpcm.loglik - 1e-3
    scores_nominal = irt.score(nominal, responses)["theta"]
    scores_gpcm = irt.score(gpcm, responses)["theta"]
    assert np.corrcoef(scores_nominal, scores_gpcm)[0, 1] > 0.99
    assert np.corrcoef(scores_nominal, theta)[0, 1] > 0.85


def test_default_prior_can_be_turned_off_or_replaced(sliders):
    responses, _ = sliders
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bare = irt.calibrate(responses, "nominal", priors={"ak": None}, max_iter=10)
    assert len(bare.priors) == 0 and "priors:" not in bare.summary()
    # without the prior the sparse scores ride a flat ridge: EM stops and says so
    messages = [(w.category, str(w.message)) for w in caught]
    assert not bare.converged
    assert (ConvergenceWarning, "EM did not converge in 10 iterations (tol 0.0001); the estimates are not "
            "trustworthy, raise max_iter or check the data") in messages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replaced = irt.calibrate(responses, "nominal", priors={"slider1": {"ak": ("normal", 0.0, 50.0)}},
                                 max_iter=3)
    first = replaced.priors[replaced.priors["item"] == "slider1"]
    assert set(first["source"]) == {"given"} and set(first["p2"]) == {50.0} and set(first["p1"]) == {0.0}
    assert set(replaced.priors[replaced.priors["item"] != "slider1"]["source"]) == {"default"}


def test_ten_categories_or_fewer_get_no_default_prior(sliders):
    responses, _ = sliders
    codes = responses.frame.iloc[:, :3] // 4     # 0..7: eight categories
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = irt.calibrate(codes, "nominal", max_iter=3)
    assert len(calibration.priors) == 0


def test_a_small_nominal_slider_sample_still_warns_about_its_size():
    frame, _ = _sliders(300, 3, 30, seed=5)
    responses = load_responses(frame, max_categories=31, warn=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibration = irt.calibrate(responses, "nominal")
    messages = [(w.category, str(w.message)) for w in caught]
    n_free = calibration.n_parameters
    assert any(c is ModelWarning and re.fullmatch(
        rf"300 persons for {n_free} free parameters: fewer than 5 per parameter, the estimates are not trustworthy", m)
        for c, m in messages)
    assert list(calibration.problems["problem"]) == ["too_few_persons"]
