"""Delta-method standard errors of the IRT form: the exact slot Jacobian against central
differences of to_irt through the slot map (shared and fixed parameters included)."""

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.irt import standard_errors
from psychometrics.simulate import simulate


def _central(problem, block, x, h=1e-6):
    base = block.model.to_irt(block.params)
    out = np.zeros(base.shape + (problem.size,))
    for s in range(problem.size):
        step = h * max(1.0, abs(x[s]))
        up, down = x.copy(), x.copy()
        up[s] += step
        down[s] -= step
        block.unpack(up)
        high = block.model.to_irt(block.params)
        block.unpack(down)
        out[..., s] = (high - block.model.to_irt(block.params)) / (2 * step)
    block.unpack(x)
    return out


@pytest.mark.filterwarnings("ignore::psychometrics.errors.ModelWarning")
@pytest.mark.parametrize("model, params", [
    ("graded", {"a": [1.2, 0.8, 1.6, 1.0], "b1": [-1.5, -1.0, -0.5, -1.2], "b2": [0.0, 0.2, 0.4, -0.1],
                "b3": [1.1, 1.4, 0.9, 1.3]}),
    ("gpcm", {"a": [1.1, 0.7, 1.4, 0.9], "b1": [-1.0, -0.6, -0.2, -1.1], "b2": [0.5, 0.8, 1.0, 0.3]}),
    ("rsm", {"a": [1.0] * 4, "b1": [-0.8] * 4, "b2": [0.6] * 4, "c": [0.0, 0.3, -0.4, 0.2]}),
    ("3pl", {"a": [1.4, 1.0, 1.8, 1.2], "b": [-0.5, 0.0, 0.5, 1.0], "g": [0.15, 0.2, 0.1, 0.2]}),
])
def test_delta_method_jacobian_is_exact(monkeypatch, model, params):
    truth = pd.DataFrame(params, index=[f"i{j}" for j in range(4)])
    data = simulate(truth, 800, model=model, seed=4)
    seen = []
    original = standard_errors._irt_slot_jacobian

    def checked(problem, block, x):
        exact = original(problem, block, x)
        seen.append((exact, _central(problem, block, x)))
        return exact

    monkeypatch.setattr(standard_errors, "_irt_slot_jacobian", checked)
    fixed = {"i0": {"d1": 1.8}} if model == "graded" else None
    cal = irt.calibrate(data, model, se=True, **({"fixed": fixed} if fixed else {}))
    assert seen
    for exact, numeric in seen:
        finite = np.isfinite(numeric)
        np.testing.assert_allclose(exact[finite], numeric[finite], rtol=1e-6, atol=1e-7)
        # a fixed parameter reaches no slot; a shared one reaches every item that carries it
        assert np.array_equal(exact != 0, np.abs(numeric) > 1e-9)
    assert np.isfinite(cal.irt_standard_errors.loc["i3"].filter(regex="^b").to_numpy()).all()
