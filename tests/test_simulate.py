"""Simulation of responses: category frequencies, seeds, missingness, ids, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.irt import Calibration
from psychometrics.simulate import simulate


@pytest.fixture
def graded_params() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.2, 0.7], "b1": [-1.0, -0.5], "b2": [0.0, 0.4], "b3": [1.1, 1.5]},
                        index=["s1", "s2"])


def test_category_frequencies_match_model_probabilities(graded_params):
    # with theta given, each response is a draw from the model's category probabilities
    theta = np.repeat([-1.0, 0.5], 20000)
    data = simulate(graded_params, theta.size, model="graded", theta=theta, seed=2,
                    categories={"s1": (1, 2, 3, 4), "s2": (1, 2, 3, 4)})
    cal = Calibration.from_item_params(graded_params, "graded")
    for t, rows in ((-1.0, slice(0, 20000)), (0.5, slice(20000, 40000))):
        expected = cal.probabilities(np.array([t]))[:, 0, :]
        for j, item in enumerate(graded_params.index):
            freq = data[item].iloc[rows].value_counts(normalize=True).reindex([1, 2, 3, 4], fill_value=0)
            # binomial standard error with 20000 draws is at most 0.0036
            np.testing.assert_allclose(freq.to_numpy(), expected[j], atol=0.015)


def test_marginal_proportion_of_a_2pl_item():
    # P(X = 1) for a N(0, 1) latent and a = 1, b = 0 is 0.5 by symmetry
    params = pd.DataFrame({"a": [1.0], "b": [0.0]}, index=["q"])
    data = simulate(params, 40000, model="2pl", seed=7)
    assert abs(data["q"].mean() - 0.5) < 0.01
    assert set(np.unique(data["q"])) == {0.0, 1.0}


def test_seed_reproducibility_and_ids(graded_params):
    a = simulate(graded_params, 50, model="graded", seed=11)
    b = simulate(graded_params, 50, model="graded", seed=11)
    c = simulate(graded_params, 50, model="graded", seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.index[0] == "p000001" and a.index[-1] == "p000050" and a.index.name == "person"
    assert list(a.columns) == ["s1", "s2"] and a.dtypes.eq(np.float64).all()
    assert set(np.unique(a.to_numpy())) <= {0.0, 1.0, 2.0, 3.0}


def test_mcar_rate_and_mask(graded_params):
    data = simulate(graded_params, 20000, model="graded", seed=3, missing=0.3)
    assert abs(data.isna().to_numpy().mean() - 0.3) < 0.01
    mask = np.zeros((4, 2), dtype=bool)
    mask[1, 0] = mask[3, 1] = True
    masked = simulate(graded_params, 4, model="graded", seed=3, missing=mask)
    np.testing.assert_array_equal(masked.isna().to_numpy(), mask)


def test_from_calibration_uses_its_categories(graded_params):
    cal = Calibration.from_item_params(graded_params, "graded", categories=(10, 20, 30, 40))
    data = simulate(cal, 500, seed=1, latent_mean=1.0, latent_sd=0.5)
    assert set(np.unique(data.to_numpy())) <= {10.0, 20.0, 30.0, 40.0}
    # a higher latent mean shifts responses up
    low = simulate(cal, 2000, seed=1, latent_mean=-1.0)
    high = simulate(cal, 2000, seed=1, latent_mean=1.0)
    assert high.to_numpy().mean() > low.to_numpy().mean() + 5


def test_bad_input_raises(graded_params):
    with pytest.raises(ValueError, match="need a model"):
        simulate(graded_params, 10)
    with pytest.raises(TypeError, match="Calibration or a DataFrame"):
        simulate([1, 2], 10)
    with pytest.raises(ValueError, match="n_persons must be a positive integer"):
        simulate(graded_params, 0, model="graded")
    with pytest.raises(ValueError, match="theta has 3 values for 10 persons"):
        simulate(graded_params, 10, model="graded", theta=[0, 1, 2])
    with pytest.raises(ValueError, match="missing rate must be in"):
        simulate(graded_params, 10, model="graded", missing=1.5)
    with pytest.raises(ValueError, match="missing mask has shape"):
        simulate(graded_params, 10, model="graded", missing=np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="latent_sd must be positive"):
        simulate(graded_params, 10, model="graded", latent_sd=0)
