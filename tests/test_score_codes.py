"""score_codes with a precomputed ScoringPlan gives exactly what score gives (the same routines
with the same log-probability table), for every method and the edge patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.irt import Calibration
from psychometrics.scoring import score, score_codes, scoring_plan


def random_calibration(rng: np.random.Generator, n_items: int, model: str) -> Calibration:
    items = [f"i{j}" for j in range(n_items)]
    if model == "2pl":
        params = pd.DataFrame({"a": rng.uniform(0.6, 2.2, n_items), "b": rng.normal(0.0, 1.0, n_items)}, index=items)
        return Calibration.from_item_params(params, "2pl", categories=[0, 1])
    b = np.sort(rng.normal(0.0, 1.0, (n_items, 3)), axis=1)
    params = pd.DataFrame({"a": rng.uniform(0.6, 2.2, n_items), "b1": b[:, 0], "b2": b[:, 1], "b3": b[:, 2]},
                          index=items)
    return Calibration.from_item_params(params, "graded", categories=[1, 2, 3, 4])


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
@pytest.mark.parametrize("model,seed", [("graded", 1), ("2pl", 2), ("graded", 3)])
def test_score_codes_equals_score(method, model, seed):
    rng = np.random.default_rng(seed)
    calibration = random_calibration(rng, int(rng.integers(3, 9)), model)
    n_items = len(calibration.item_ids)
    top = np.array([len(calibration.categories[i]) for i in calibration.item_ids]) - 1
    codes = rng.integers(0, top + 1, size=(60, n_items))
    codes[rng.random(codes.shape) < 0.2] = -1     # missing answers
    codes[0] = -1                                 # no answer at all
    codes[1] = 0                                  # all lowest
    codes[2] = top                                # all highest
    codes[3, :] = -1
    codes[3, 0] = top[0]                          # one answer, the highest
    values = np.where(codes < 0, np.nan,
                      np.array([calibration.categories[i] for i in calibration.item_ids], dtype=float).T[
                          np.clip(codes, 0, None), np.arange(n_items)])
    frame = pd.DataFrame(values, columns=calibration.item_ids)
    expected = score(calibration, frame, method=method)
    plan = scoring_plan(calibration)
    got = score_codes(plan, codes.astype(np.int8), method=method)
    for column in ("theta", "se"):
        np.testing.assert_allclose(got[column], expected[column].to_numpy(), rtol=0, atol=1e-12, equal_nan=True)
    assert got["n_answered"].tolist() == expected["n_answered"].tolist()
    assert list(got["flag"]) == expected["flag"].tolist()
    assert got["flag"][0] == "no_responses" and np.isnan(got["theta"][0])
    if method == "ml":
        assert got["theta"][1] == -np.inf and got["theta"][2] == np.inf
    # the plan is reusable: a single respondent scored alone equals its row of the batch
    one = score_codes(plan, codes[5:6].astype(np.int8), method=method)
    assert abs(one["theta"][0] - expected["theta"].iloc[5]) <= 1e-9


def test_score_codes_refuses_bad_codes():
    calibration = random_calibration(np.random.default_rng(0), 3, "2pl")
    plan = scoring_plan(calibration)
    with pytest.raises(ValueError, match="shape"):
        score_codes(plan, np.zeros((2, 4), dtype=np.int8))
    with pytest.raises(ValueError, match="integers"):
        score_codes(plan, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="code 2 for item .i1. .row 0."):
        score_codes(plan, np.array([[0, 2, 1]]))
