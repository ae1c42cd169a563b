"""Old argument names and positions keep working for one release, with a DeprecationWarning
(psychometrics/_deprecation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.dif import ets_class
from psychometrics.reliability import alpha


@pytest.fixture
def likert() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    trait = rng.normal(size=300)
    return pd.DataFrame({f"q{j}": np.clip(np.round(3 + trait + rng.normal(size=300)), 1, 5) for j in range(5)})


def test_old_names_and_positions_warn_and_give_the_same_result(likert):
    new = alpha(likert, confidence_level=0.9, n_replications=20, seed=1)
    with pytest.warns(DeprecationWarning, match=r"ci= is deprecated.*confidence_level="):
        old = alpha(likert, ci=0.9, n_replications=20, seed=1)
    assert (old.ci_low, old.bootstrap_low) == (new.ci_low, new.bootstrap_low)
    with pytest.warns(DeprecationWarning, match="by position"):
        positional = alpha(likert, 0.9, "pairwise", 20, 1)
    assert positional.bootstrap_high == new.bootstrap_high
    with pytest.raises(TypeError, match="both ci="):
        alpha(likert, ci=0.9, confidence_level=0.9)


def test_alpha_means_significance_only():
    with pytest.warns(DeprecationWarning, match="level= is deprecated"):
        old = ets_class([1.2, 0.2], [0.3, 0.3], [0.01, 0.5], level=0.05)
    assert list(old) == list(ets_class([1.2, 0.2], [0.3, 0.3], [0.01, 0.5], alpha=0.05))


def test_guttman_n_splits_is_n_replications(likert):
    from psychometrics.reliability import guttman

    new = guttman(likert, n_replications=3, seed=2)
    with pytest.warns(DeprecationWarning, match=r"n_splits= is deprecated.*n_replications="):
        old = guttman(likert, n_splits=3, seed=2)
    assert old.lambda4 == new.lambda4


def test_one_missing_vocabulary():
    from psychometrics._deprecation import missing_policy

    with pytest.warns(DeprecationWarning, match=r"missing='complete' is deprecated.*missing='listwise'"):
        assert missing_policy("complete", ("pattern", "listwise"), "s_x2") == "listwise"
    assert missing_policy("pattern", ("pattern", "listwise"), "s_x2") == "pattern"
    with pytest.raises(ValueError, match="missing must be one of"):
        missing_policy("complete", ("pairwise",), "alpha")   # a former spelling of a value this verb lacks


def test_parallel_analysis_result_n_iter_is_n_replications(likert):
    from psychometrics.factor import parallel_analysis

    result = parallel_analysis(likert, n_replications=4, seed=5)
    assert result.n_replications == 4
    assert "4 simulate data sets" in result.summary()
    with pytest.warns(DeprecationWarning, match=r"n_iter is deprecated; use n_replications"):
        assert result.n_iter == 4
