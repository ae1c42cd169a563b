"""ItemModel.irt_jacobian: the exact Jacobian of slope-intercept -> IRT form, against central
differences of to_irt, for every model that states it."""

import numpy as np
import pytest

from psychometrics.items import get_model
from psychometrics.items.multidimensional import MultidimensionalModel


def _params(model, n_categories: int) -> np.ndarray:
    names = model.parameter_names(n_categories)
    params = model.start_values(n_categories, 3).astype(np.float64)
    params = params + np.linspace(0.05, 0.6, params.size).reshape(params.shape)
    for asymptote, values in (("g", [0.1, 0.2, 0.25]), ("u", [0.9, 0.95, 0.85])):
        if asymptote in names:
            params[:, names.index(asymptote)] = values
    return params


def _central(model, params: np.ndarray, h: float = 1e-6) -> np.ndarray:
    base = model.to_irt(params)
    out = np.empty(base.shape + (params.shape[1],))
    for column in range(params.shape[1]):
        up, down = params.copy(), params.copy()
        up[:, column] += h
        down[:, column] -= h
        out[..., column] = (model.to_irt(up) - model.to_irt(down)) / (2 * h)
    return out


@pytest.mark.parametrize("name, n_categories", [("rasch", 2), ("1pl", 2), ("2pl", 2), ("3pl", 2), ("4pl", 2),
                                               ("graded", 2), ("graded", 5), ("gpcm", 2), ("gpcm", 4),
                                               ("pcm", 3), ("rsm", 4), ("nominal", 3), ("nominal", 5)])
def test_irt_jacobian_matches_central_differences(name, n_categories):
    model = get_model(name)
    params = _params(model, n_categories)
    exact = model.irt_jacobian(params)
    assert exact.shape == (3, len(model.irt_parameter_names(n_categories)), params.shape[1])
    np.testing.assert_allclose(exact, _central(model, params), rtol=1e-7, atol=1e-8)


def test_multidimensional_irt_jacobian_is_the_identity():
    model = MultidimensionalModel(get_model("graded"), 2)
    params = np.array([[1.2, 0.4, 1.0, -0.5], [0.8, 0.9, 0.3, -1.1]])
    np.testing.assert_allclose(model.irt_jacobian(params), _central(model, params), atol=1e-8)


@pytest.mark.parametrize("name, n_categories", [("2pl", 2), ("graded", 4), ("gpcm", 4)])
def test_irt_jacobian_is_nan_for_a_zero_slope(name, n_categories):
    model = get_model(name)
    params = _params(model, n_categories)
    params[1, 0] = 0.0
    jac = model.irt_jacobian(params)
    assert np.isnan(jac[1, 1:]).any() and np.isfinite(jac[[0, 2]]).all()
