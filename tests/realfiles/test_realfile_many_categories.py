"""Items with many categories (0-100 sliders) calibrate in O(K) memory per node and converge:
graded, gpcm and nominal (issue 9, part 5). Times are measured by benchmarks/many_categories.py;
here, the memory a calibration allocates is bounded far below what the (Q, K, P, P) products
of the dense derivatives needed (about 500 MB per 101-category item)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.data import load_responses
from psychometrics.errors import ConvergenceWarning
from psychometrics.items import get_model


@pytest.fixture(scope="module")
def sliders():
    rng = np.random.default_rng(21)
    persons, items, top = 700, 3, 100
    theta = rng.standard_normal(persons)
    latent = 0.75 * theta[:, None] + 0.66 * rng.standard_normal((persons, items))
    codes = np.clip(np.round(top / 2 + latent * top / 6), 0, top)
    frame = pd.DataFrame(codes, columns=[f"slider{j + 1}" for j in range(items)])
    return load_responses(frame, max_categories=top + 1, warn=False)


@pytest.mark.parametrize("model", ["graded", "gpcm", "nominal"])
def test_slider_calibration_converges_in_little_memory(sliders, model):
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            calibration = irt.calibrate(sliders, model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert calibration.converged
    k = max(len(c) for c in calibration.categories.values())
    assert k > 60
    assert peak < 80 * 2**20, f"{peak / 2**20:.0f} MiB"
    # the latent order is recovered: EAP scores follow the mean slider position
    scores = irt.score(calibration, sliders)["theta"].to_numpy()
    assert np.corrcoef(scores, np.nanmean(sliders.values, axis=1))[0, 1] > 0.98


@pytest.mark.parametrize("model", ["graded", "gpcm", "nominal"])
def test_many_category_derivatives_match_finite_differences(model):
    # the structured (arrowhead, band, sparse) derivatives at K = 30, against central
    # differences of the objective itself
    rng = np.random.default_rng(30)
    m = get_model(model)
    k = 30
    params = m.start_values(k, 2)
    params[:, 0] = [0.4, 0.9]
    if model == "graded":   # intercepts must decrease
        params[:, 1:] = -(np.linspace(-3, 3, k - 1) + rng.uniform(-0.05, 0.05, (2, k - 1)))
    else:
        params[:, -(k - 1):] += rng.normal(0, 0.3, (2, k - 1))
    if model == "nominal":
        params[:, 1:k - 1] += rng.normal(0, 0.4, (2, k - 2))
    theta = np.linspace(-4, 4, 15)
    counts = rng.uniform(0, 3, (2, theta.size, k))
    grad, hess = m.gradient_hessian(params, theta, counts)
    eps = 1e-5
    for p in range(params.shape[1]):
        up, down = params.copy(), params.copy()
        up[:, p] += eps
        down[:, p] -= eps
        numeric = (m.objective(up, theta, counts) - m.objective(down, theta, counts)) / (2 * eps)
        np.testing.assert_allclose(grad[:, p], numeric, rtol=1e-5, atol=1e-4)
        g_up, _ = m.gradient_hessian(up, theta, counts)
        g_down, _ = m.gradient_hessian(down, theta, counts)
        np.testing.assert_allclose(hess[:, :, p], (g_up - g_down) / (2 * eps), rtol=1e-4, atol=1e-4)
