"""Blown-up estimates are named, never reported as fine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.errors import EstimationError, ModelWarning
from psychometrics.irt.problems import PERSONS_PER_PARAMETER, SLOPE_BOUND, find_problems


def test_two_persons_2pl_flags_slopes_and_sample_size():
    frame = pd.DataFrame([[1, 0, 1], [0, 1, 0]], columns=["a", "b", "c"], dtype=float)
    with pytest.warns(ModelWarning) as caught:
        calibration = irt.calibrate(frame, "2pl")
    messages = [str(w.message) for w in caught if issubclass(w.category, ModelWarning)]
    assert any(m.startswith("item 'a': a = ") and f"is beyond +-{SLOPE_BOUND:g}: an extreme slope" in m
               for m in messages)
    assert (f"2 persons for 6 free parameters: fewer than {PERSONS_PER_PARAMETER} per parameter, the estimates "
            "are not trustworthy") in messages
    problems = calibration.problems
    assert list(problems.columns) == ["item", "parameter", "value", "problem"]
    assert set(problems["problem"]) == {"extreme_slope", "too_few_persons"}
    assert (problems.loc[problems["problem"] == "extreme_slope", "value"].abs() > SLOPE_BOUND).all()
    assert "problem(s):" in calibration.summary()


def test_one_item_is_not_identified():
    frame = pd.DataFrame({"q1": [1, 2, 3, 1, 2, 3, 2, 2.0]})
    with pytest.raises(EstimationError, match=r"an IRT model of one item \('q1'\) is not identified"):
        irt.calibrate(frame, "graded")


def test_negative_slope_suggests_reverse_keying():
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(1000)
    frame = pd.DataFrame({f"q{j}": (theta + rng.standard_normal(1000) > 0).astype(float) for j in range(4)})
    frame["q3"] = 1.0 - frame["q3"]
    with pytest.warns(ModelWarning, match=r"item 'q3': a = -\d\.\d+ is negative: the item falls as the trait rises "
                                          r"\(a reverse-keyed item that was not reversed\?\)"):
        calibration = irt.calibrate(frame, "2pl")
    assert calibration.problems["problem"].tolist() == ["negative_slope"]


def test_a_clean_calibration_has_no_problems():
    rng = np.random.default_rng(5)
    theta = rng.standard_normal(2000)
    frame = pd.DataFrame({f"q{j}": (theta + rng.standard_normal(2000) > b).astype(float)
                          for j, b in enumerate([-1.0, -0.5, 0.0, 0.5, 1.0])})
    calibration = irt.calibrate(frame, "2pl")
    assert find_problems(calibration).empty
