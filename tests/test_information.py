"""Tests of psychometrics/information.py.

References: the closed forms a^2 P (1 - P) (2PL) and a^2 (P - g)^2 (1 - P) / ((1 - g)^2 P)
(3PL, Baker & Kim 2004); graded-item information from tests/reference/scoring_reference.R
(closed-form sum_k P_k'^2 / P_k in R), to 1e-8; and the identity
I(theta) = sum_k P_k'^2 / P_k = -sum_k P_k (log P_k)'' checked with central differences of the
calibration's own probabilities (tolerance 1e-6, the accuracy of the differences).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.information import item_information, standard_error, test_information
from psychometrics.irt import Calibration

LSAT7_A = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
LSAT7_B = np.array([-1.879, -0.748, -1.058, -0.635, -2.520])
LSAT7_ITEMS = [f"Item.{i}" for i in range(1, 6)]
GRID = np.linspace(-4, 4, 33)

# tests/reference/scoring_reference.out: graded items, theta -> information of items 1..3
GRADED_R = {
    -2.0: (0.4996574272, 0.1566431453, 1.1523507499),
    -0.5: (0.6417318836, 0.2405663899, 1.2411923367),
    0.0: (0.6630603973, 0.2496562605, 1.2250443946),
    1.3: (0.6036204208, 0.2455218168, 0.5857063008),
}


@pytest.fixture(scope="module")
def lsat7() -> Calibration:
    return Calibration.from_item_params(pd.DataFrame({"a": LSAT7_A, "b": LSAT7_B}, index=LSAT7_ITEMS), "2pl")


@pytest.fixture(scope="module")
def graded() -> Calibration:
    params = pd.DataFrame({"a": [1.5, 0.9, 2.1], "b1": [-1.5, -0.8, -2.0], "b2": [0.0, 0.4, -0.6],
                           "b3": [1.2, 2.0, 0.5]}, index=["g1", "g2", "g3"])
    return Calibration.from_item_params(params, "graded")


@pytest.fixture(scope="module")
def mixed() -> Calibration:
    params = pd.DataFrame({
        "a": [1.2, 0.8, 1.4, 1.1, 0.9],
        "b": [-0.5, 0.3, np.nan, np.nan, 0.2],
        "g": [0.2, np.nan, np.nan, np.nan, 0.1],
        "u": [np.nan, np.nan, np.nan, np.nan, 0.95],
        "b1": [np.nan, np.nan, -1.0, -0.7, np.nan],
        "b2": [np.nan, np.nan, 0.2, 0.4, np.nan],
        "b3": [np.nan, np.nan, 1.1, np.nan, np.nan],
    }, index=["p3", "p2", "gr", "gp", "p4"])
    models = {"p3": "3pl", "p2": "2pl", "gr": "graded", "gp": "gpcm", "p4": "4pl"}
    return Calibration.from_item_params(params, models)


def test_two_pl_closed_form(lsat7):
    table = item_information(lsat7, GRID)
    p = 1 / (1 + np.exp(-LSAT7_A * (GRID[:, None] - LSAT7_B)))
    np.testing.assert_allclose(table.to_numpy(), LSAT7_A**2 * p * (1 - p), rtol=1e-12, atol=1e-15)
    assert list(table.columns) == LSAT7_ITEMS
    assert table.index.name == "theta"
    np.testing.assert_array_equal(table.index.to_numpy(), GRID)


def test_three_pl_closed_form():
    params = pd.DataFrame({"a": [1.2, 0.8], "b": [-0.5, 0.3], "g": [0.2, 0.25]}, index=["t1", "t2"])
    calibration = Calibration.from_item_params(params, "3pl")
    a, b, g = (params[c].to_numpy() for c in ("a", "b", "g"))
    p = g + (1 - g) / (1 + np.exp(-a * (GRID[:, None] - b)))
    expected = a**2 * (p - g) ** 2 * (1 - p) / ((1 - g) ** 2 * p)
    np.testing.assert_allclose(item_information(calibration, GRID).to_numpy(), expected, rtol=1e-10)


def test_graded_matches_r(graded):
    theta = list(GRADED_R)
    np.testing.assert_allclose(item_information(graded, theta).to_numpy(), np.array(list(GRADED_R.values())),
                               rtol=1e-8)


def test_numerical_identity_on_mixed_models(mixed):
    # I_j = sum_k P'^2 / P = -sum_k P (log P)'' for every model family, from differences of
    # the calibration's probabilities (not its information code)
    h = 1e-4
    theta = np.linspace(-3, 3, 13)
    p = mixed.probabilities(theta)
    dp = (mixed.probabilities(theta + h) - mixed.probabilities(theta - h)) / (2 * h)
    lp = np.where(p > 0, mixed.log_probabilities(theta), 0.0)
    lp_up = np.where(p > 0, mixed.log_probabilities(theta + h), 0.0)
    lp_down = np.where(p > 0, mixed.log_probabilities(theta - h), 0.0)
    positive = p > 0
    first = np.where(positive, dp**2 / np.where(positive, p, 1.0), 0.0).sum(axis=2).T
    second = -(p * (lp_up - 2 * lp + lp_down) / h**2).sum(axis=2).T
    table = item_information(mixed, theta).to_numpy()
    np.testing.assert_allclose(table, first, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(table, second, rtol=1e-5, atol=1e-8)


def test_test_information_and_standard_error(mixed):
    table = item_information(mixed, GRID)
    total = test_information(mixed, GRID)
    assert isinstance(total, np.ndarray) and total.shape == GRID.shape
    np.testing.assert_allclose(total, table.sum(axis=1).to_numpy(), rtol=1e-14)
    np.testing.assert_allclose(standard_error(mixed, GRID), 1 / np.sqrt(total), rtol=1e-14)
    short = test_information(mixed, GRID, items=["gr", "p2"])
    np.testing.assert_allclose(short, table["gr"] + table["p2"], rtol=1e-14)
    assert list(item_information(mixed, GRID, items=["gp", "p3"]).columns) == ["gp", "p3"]


def test_scalar_theta_and_any_order(lsat7):
    one = item_information(lsat7, 0.5)
    assert one.shape == (1, 5)
    shuffled = np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(test_information(lsat7, shuffled)[2], one.to_numpy().sum(), rtol=1e-14)
    assert test_information(lsat7, 0.5).shape == (1,)


def test_standard_error_is_infinite_without_information():
    calibration = Calibration.from_item_params(pd.DataFrame({"a": [4.0], "b": [0.0]}, index=["q"]), "2pl")
    se = standard_error(calibration, [0.0, 400.0])
    assert np.isfinite(se[0]) and se[1] == np.inf


def test_bad_theta_and_items_raise(lsat7):
    with pytest.raises(ValueError, match="finite; position 1"):
        item_information(lsat7, [0.0, np.nan])
    with pytest.raises(ValueError, match="finite"):
        test_information(lsat7, [np.inf])
    with pytest.raises(ValueError, match="one-dimensional"):
        standard_error(lsat7, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        item_information(lsat7, [])
    with pytest.raises(ValueError, match=r"\['nope'\] are not in the calibration"):
        test_information(lsat7, [0.0], items=["Item.1", "nope"])
    with pytest.raises(ValueError):
        item_information(lsat7, ["a"])
