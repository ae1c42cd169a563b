"""Tests of psychometrics/_theta_kernels.py: the compiled sums behind MAP/ML/WLE scoring.

Each kernel's seven sums (log-likelihood, its first two derivatives, I, Warm's J, J', I') are
checked against the central differences of the calibration's own log-probabilities, which is
what the numpy path of :mod:`psychometrics.scoring` computes, for every model family, with
missing responses, far into the tails, and for a calibration mixing families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import _theta_kernels, scoring
from psychometrics.irt import Calibration

# slope-intercept parameters, 3 items per family; K from the parameter count
SLOPE_INTERCEPT = {
    "2pl": (2, {"a1": [1.0, 2.5, 0.4], "d": [0.3, -2.0, 1.1]}),
    "rasch": (2, {"a1": [1.0, 1.0, 1.0], "d": [0.3, -2.0, 1.1]}),
    "3pl": (2, {"a1": [1.2, 2.0, 0.7], "d": [0.5, -1.0, 0.0], "g": [0.2, 0.1, 0.25]}),
    "4pl": (2, {"a1": [1.2, 2.0, 0.7], "d": [0.5, -1.0, 0.0], "g": [0.2, 0.0, 0.1], "u": [0.9, 0.97, 1.0]}),
    "graded": (4, {"a1": [1.5, 0.6, 3.0], "d1": [2.0, 1.0, 4.0], "d2": [0.0, 0.9, 1.0], "d3": [-1.5, -2.0, -3.0]}),
    "gpcm": (3, {"a1": [1.0, 0.5, 2.2], "d1": [0.5, -0.3, 1.0], "d2": [0.2, 0.4, -0.6]}),
    "pcm": (3, {"a1": [1.0, 1.0, 1.0], "d1": [0.5, -0.3, 1.0], "d2": [0.2, 0.4, -0.6]}),
    "rsm": (3, {"a1": [1.0, 1.0, 1.0], "b1": [-0.5, -0.5, -0.5], "b2": [0.7, 0.7, 0.7], "c": [0.0, 0.4, -0.3]}),
    "nominal": (3, {"a1": [1.0, 0.8, 1.6], "ak1": [0.5, 1.4, 1.0], "d1": [0.3, -0.2, 0.5], "d2": [0.1, 0.6, -0.4]}),
}


def _calibration(models: list[str]) -> Calibration:
    frames, names = [], {}
    for model in models:
        _, params = SLOPE_INTERCEPT[model]
        frame = pd.DataFrame(params, index=[f"{model}_{j}" for j in range(3)])
        frames.append(frame)
        names.update({item: model for item in frame.index})
    return Calibration.from_item_params(pd.concat(frames), names, form="slope_intercept")


def _codes(calibration: Calibration, n: int, rng: np.random.Generator) -> np.ndarray:
    k = calibration.n_categories
    codes = np.floor(rng.random((n, k.size)) * k).astype(np.int8)
    codes[rng.random(codes.shape) < 0.2] = -1
    return codes


@pytest.mark.parametrize("models", [[m] for m in SLOPE_INTERCEPT] + [list(SLOPE_INTERCEPT)])
@pytest.mark.parametrize("method", ["ml", "wle"])
def test_sums_match_differences_of_log_probabilities(models, method, rng):
    calibration = _calibration(models)
    layout = scoring._Layout.of(calibration)
    kernels = scoring._Kernels.of(calibration, layout)
    assert kernels is not None
    codes = _codes(calibration, 200, rng)
    theta = np.concatenate([rng.normal(0.0, 1.5, 190), [-12.0, -6.0, 6.0, 12.0, -25.0, 25.0, 0.0, 1e-3, -3.0, 3.0]])
    rows = np.arange(200)
    compiled = kernels.sums(codes, rows, theta, method == "wle")
    transposed = codes.T.astype(np.int64)
    # five-point differences (the WLE stencils) keep l' and l'' to ~1e-10, l''' (in J', slot 5,
    # which only sizes the Newton step) to ~1e-5
    reference = scoring._Objective(calibration, layout, transposed, "wle", 0.0, 1.0).sums(theta, rows)
    reference[:, 0] = scoring._Objective(calibration, layout, transposed, "ml", 0.0, 1.0).sums(theta, rows)[:, 0]
    slots = [1, 2, 3, 4, 5, 6] if method == "wle" else [0, 1, 2, 3, 6]
    for slot in slots:
        scale = 1.0 + np.abs(reference[:, slot])
        np.testing.assert_allclose(compiled[:, slot] / scale, reference[:, slot] / scale, rtol=0,
                                   atol=1e-5 if slot == 5 else 1e-7, err_msg=f"{models} slot {slot}")


def test_extreme_parameters_take_the_unfactored_path(rng):
    # intercepts beyond the range where exp(-a t) exp(-d) is safe
    params = pd.DataFrame({"a1": [40.0, 1.0], "d1": [350.0, 2.0], "d2": [-350.0, -2.0]}, index=["x", "y"])
    calibration = Calibration.from_item_params(params, "graded", form="slope_intercept")
    layout = scoring._Layout.of(calibration)
    kernels = scoring._Kernels.of(calibration, layout)
    codes = np.array([[0, 1], [1, 2], [2, 0], [1, -1]], dtype=np.int8)
    theta = np.array([-10.0, 0.1, 10.0, 0.0])
    rows = np.arange(4)
    compiled = kernels.sums(codes, rows, theta, False)
    reference = scoring._Objective(calibration, layout, codes.T.astype(np.int64), "ml", 0.0, 1.0).sums(theta, rows)
    assert np.isfinite(compiled).all()
    np.testing.assert_allclose(compiled[:, :2], reference[:, :2], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("wle", [False, True])
def test_blocked_cumulative_kernel_equals_the_per_person_loop(wle, rng):
    # the SIMD blocks must give each person the per-person loop's sums: blocks that
    # end early (n not a multiple of the block), missing answers, a block with a far theta
    # (per-person path) next to ordinary ones, and a shuffled subset of rows
    n_items, k = 7, 5
    slope = rng.uniform(-0.5, 3.0, n_items)
    intercepts = -np.sort(rng.normal(0.0, 1.5, (n_items, k - 1)), axis=1)
    params = pd.DataFrame(np.column_stack([slope, intercepts]), index=[f"i{j}" for j in range(n_items)],
                          columns=["a1", "d1", "d2", "d3", "d4"])
    calibration = Calibration.from_item_params(params, "graded", form="slope_intercept")
    kernels = scoring._Kernels.of(calibration, scoring._Layout.of(calibration))
    items, a, d, gap = kernels.cumulative[0]
    codes = np.floor(rng.random((700, n_items)) * k).astype(np.int8)
    codes[rng.random(codes.shape) < 0.2] = -1
    rows = np.sort(rng.permutation(700)[:611])
    theta = rng.normal(0.0, 2.0, rows.size)
    theta[300] = 400.0  # |a theta| beyond the safe range for the exponentials
    out = np.zeros((rows.size, 7))
    _theta_kernels.cumulative_sums(codes, rows, theta, items, a, d, gap, wle, out)
    exp_neg = np.exp(-d)
    expected = np.zeros_like(out)
    for r, i in enumerate(rows):
        for g in range(n_items):
            c = codes[i, items[g]]
            if c >= 0:
                expected[r] += _theta_kernels._cumulative_item(theta[r], c, a[g], d[g], exp_neg[g], gap[g], True, wle)
    # same terms, summed per item here and per category there: equal to rounding
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
