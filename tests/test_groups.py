"""One group resolver for calibration, DIF and fairness (psychometrics/groups.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ResponseError
from psychometrics.groups import resolve_groups


def test_default_reference_is_the_largest_group_ties_to_the_first_level():
    ids = range(7)
    spec = resolve_groups(["b", "a", "b", "c", "b", "a", "c"], ids)
    assert spec.labels == ["a", "b", "c"] and spec.labels[spec.reference] == "b"
    tie = resolve_groups(["b", "a", "b", "a"], range(4))
    assert tie.labels[tie.reference] == "a"
    ordered = resolve_groups(pd.Categorical(["x", "y", "y", "x"], categories=["y", "x", "z"]), range(4))
    assert ordered.labels == ["y", "x"] and ordered.reference == 0
    assert list(ordered.codes) == [1, 0, 0, 1]
    np.testing.assert_array_equal(ordered.sizes, [2, 2])


def test_group_errors_name_what_and_where():
    with pytest.raises(ResponseError, match=r"missing for 1 person\(s\): respondent 'p1' \(row 1\) has no group"):
        resolve_groups(["a", None, "b"], ["p0", "p1", "p2"])
    with pytest.raises(ResponseError, match="DIF needs at least two groups.*'a'"):
        resolve_groups(["a", "a"], range(2), what="DIF")
    with pytest.raises(ResponseError, match="reference group 'z' does not occur"):
        resolve_groups(["a", "b"], range(2), reference="z")
    with pytest.raises(ResponseError, match="focal group 'b' has 1 persons; .* at least 2"):
        resolve_groups(["a", "a", "b"], range(3), min_group_size=2)
