"""The compiled one-pass checks and recoders equal the numpy paths they stand in for, and leave
every invalid value to those paths' messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import _fastscan, data
from psychometrics.data import category_index, load_responses
from psychometrics.errors import ResponseError
from psychometrics.irt import Calibration
from psychometrics.scoring import _check_codes, _checked_pattern_flags, _Layout, _pattern_flags


def _matrix(rng, n=3000, n_items=7, order="F"):
    values = rng.integers(1, 6, size=(n, n_items)).astype(float)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[rng.random(values.shape) < 0.02] = -9.0
    values[5] = np.nan                     # a row without any response
    values[:, 6] = np.nan                  # an item nobody answered
    return np.array(values, order=order)


@pytest.mark.parametrize("order", ["F", "C"])
def test_scan_equals_the_numpy_passes(rng, order, monkeypatch):
    values = _matrix(rng, order=order)
    args = (np.array([-9.0]), np.ones(7, dtype=bool), np.array([True] * 6 + [False]),
            np.full(7, 1.0), np.full(7, 5.0))
    fast_values = values.copy(order="K")
    fast = _fastscan.scan_codes(fast_values, *args)
    monkeypatch.setattr(data, "_FAST_SCAN_FROM", np.inf)
    slow_values = values.copy(order="K")
    slow = data._scan_blocks(slow_values, *args, {}, data._Offences(np.arange(3000), [f"i{j}" for j in range(7)],
                                                                     list(range(7)), None), [None] * 7)
    np.testing.assert_array_equal(fast_values, slow_values)      # -9 became NaN in both
    np.testing.assert_array_equal(fast[0], slow.minimum)
    np.testing.assert_array_equal(fast[1], slow.maximum)
    np.testing.assert_array_equal(fast[2], slow.counts)
    np.testing.assert_array_equal(fast[3], slow.empty_rows)


@pytest.mark.parametrize("bad", [2.5, np.inf, 7.0])
def test_scan_hands_an_invalid_value_to_the_reporting_path(rng, bad, monkeypatch):
    values = _matrix(rng, n=4000, n_items=30)[:, :6]
    values = np.asfortranarray(np.tile(values, (1, 5)))
    values[3_234, 17] = bad
    frame = pd.DataFrame(values, columns=[f"q{j}" for j in range(30)])
    monkeypatch.setattr(data, "_FAST_SCAN_FROM", 1000)             # the compiled pass, then the report
    with pytest.raises(ResponseError) as fast:
        load_responses(frame, categories=range(1, 6), missing_codes=[-9], warn=False)
    monkeypatch.setattr(data, "_FAST_SCAN_FROM", np.inf)
    with pytest.raises(ResponseError) as slow:
        load_responses(frame, categories=range(1, 6), missing_codes=[-9], warn=False)
    assert str(fast.value) == str(slow.value) and "row 3234" in str(fast.value) and "q17" in str(fast.value)


def test_large_frame_loads_like_the_numpy_path(rng, monkeypatch):
    values = np.tile(_matrix(rng, n=5000, n_items=7)[:, :6], (1, 4))
    frame = pd.DataFrame(values, columns=[f"q{j}" for j in range(24)])
    monkeypatch.setattr(data, "_FAST_SCAN_FROM", 1000)
    fast = load_responses(frame, missing_codes=[-9], warn=False)
    monkeypatch.setattr(data, "_FAST_SCAN_FROM", np.inf)
    slow = load_responses(frame, missing_codes=[-9], warn=False)
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.categories == slow.categories


@pytest.mark.parametrize("order", ["F", "C"])
def test_category_indices_equal_category_index(rng, order):
    values = np.array(_matrix(rng)[:, :6], order=order)
    values[values == -9.0] = np.nan
    codes = [(1, 2, 3, 4, 5), (5, 4, 3, 2, 1), (0, 1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 6, 7), (2, 1, 3, 4, 5),
             (1, 3, 2, 5, 4)]
    positions = [3, 0, 5, 1, 2, 4]
    out = np.full(values.shape, -1, dtype=np.int8)
    assert _fastscan.category_indices(values, codes, positions, out)
    for j in range(6):
        np.testing.assert_array_equal(out[:, positions[j]], category_index(values[:, j], codes[j])[0])
    # a value outside the codes, a non-integer or non-integer codes: the caller's path decides
    for column, value, item_codes in ((2, 6.0, codes[2][:-1]), (0, 2.5, codes[0])):
        broken = values.copy(order="K")
        broken[7, column] = value
        assert not _fastscan.category_indices(broken, codes[:column] + [item_codes] + codes[column + 1:],
                                              positions, np.full(values.shape, -1, dtype=np.int8))
    assert not _fastscan.category_indices(values, [(0.5, 1.5)] * 6, positions, out)


def test_encode_of_a_large_frame_names_a_bad_value_as_before(rng, monkeypatch):
    params = pd.DataFrame({"a": np.ones(24), "b1": -1.0, "b2": 0.0, "b3": 0.5, "b4": 1.0},
                          index=[f"q{j}" for j in range(24)])
    calibration = Calibration.from_item_params(params, "graded", categories=range(1, 6))
    values = np.tile(_matrix(rng, n=5000, n_items=7)[:, :6], (1, 4))
    values[values == -9.0] = np.nan
    frame = pd.DataFrame(values, columns=params.index)
    monkeypatch.setattr(_fastscan, "FAST_FROM", 50_000)             # whole frame compiled, parts not
    codes = calibration.encode(frame)
    small = np.vstack([calibration.encode(frame.iloc[start:start + 1000]) for start in range(0, 5000, 1000)])
    np.testing.assert_array_equal(codes, small)
    frame.iloc[4_001, 5] = 6.0
    with pytest.raises(ResponseError, match=r"row 4001.*q5.*value 6"):
        calibration.encode(frame)


def test_code_summary_equals_the_pattern_flags(rng, monkeypatch):
    n_categories = np.array([2, 5, 5, 3, 4, 5])
    codes = (rng.random((4000, 6)) * n_categories).astype(np.int8)
    codes[rng.random(codes.shape) < 0.3] = -1
    codes[:40] = 0
    codes[40:80] = n_categories - 1
    codes[80:90] = -1
    layout = _Layout(["a", "b", "c", "d", "e", "f"], n_categories, np.zeros(1), np.zeros(1), np.ones((6, 5), bool))
    n_answered, lowest, highest = _fastscan.code_summary(codes, n_categories)
    expected_n, expected_flag = _pattern_flags(codes, layout)
    np.testing.assert_array_equal(n_answered, expected_n)
    monkeypatch.setattr(_fastscan, "FAST_FROM", 1000)
    big = np.tile(codes, (3, 1))
    got_n, got_flag = _checked_pattern_flags(big, layout)
    np.testing.assert_array_equal(got_flag, np.tile(expected_flag, 3))
    np.testing.assert_array_equal(got_n, np.tile(expected_n, 3))
    big[1234, 2] = 5
    assert _fastscan.code_summary(big, n_categories) is None
    with pytest.raises(Exception, match="code 5 for item 'c' \\(row 1234\\)"):
        _checked_pattern_flags(big, layout)
    with pytest.raises(Exception, match="code 5 for item 'c' \\(row 1234\\)"):
        _check_codes(big, layout)


def test_distinct_values_and_category_counts(rng):
    values = _matrix(rng, n=2000)
    values[values == -9.0] = np.nan
    values[:, 2] += 0.5                                     # not integers: np.unique decides
    values[3, 4] = 1000.0                                   # too wide a span: np.unique decides
    seen = _fastscan.distinct_values(values)
    for j in range(values.shape[1]):
        column = values[:, j]
        np.testing.assert_array_equal(seen[j], np.unique(column[~np.isnan(column)]))
    codes = (rng.random((3000, 5)) * 4).astype(np.int8) - (rng.random((3000, 5)) < 0.2)
    codes[7] = -1
    weights = rng.random(3000)
    counts, answered = _fastscan.category_counts(codes, 4, weights)
    for j in range(5):
        observed = codes[:, j] >= 0
        np.testing.assert_allclose(counts[j], np.bincount(codes[observed, j], weights=weights[observed], minlength=4))
    np.testing.assert_array_equal(answered, (codes >= 0).any(axis=1))


def test_large_calibration_prepares_as_the_numpy_path(rng, monkeypatch):
    from psychometrics.data import Responses
    from psychometrics.irt import estimation, prepare

    values = np.tile(_matrix(rng, n=4000, n_items=7)[:, :6], (1, 5))
    values[values == -9.0] = np.nan
    values[:, 3] += 2                                        # codes 3..7
    frame = pd.DataFrame(values, columns=[f"q{j}" for j in range(30)])
    resp = Responses(frame, {f"q{j}": tuple(range(1, 6)) if j != 3 else tuple(range(3, 8)) for j in range(30)})
    models = {f"q{j}": "graded" for j in range(30)}
    monkeypatch.setattr(_fastscan, "SETUP_FAST_FROM", 50_000)
    fast = prepare._prepare(resp, models)
    calibrated = estimation.calibrate(resp, "graded", max_iter=3)
    monkeypatch.setattr(_fastscan, "SETUP_FAST_FROM", np.inf)
    assert estimation.calibrate(resp, "graded", max_iter=3).loglik == calibrated.loglik
    small = [prepare._prepare(Responses(frame.iloc[start:start + 1000], resp.categories), models)
             for start in range(0, 4000, 1000)]
    assert all(part[0] == fast[0] for part in small)
    np.testing.assert_array_equal(fast[1], np.vstack([part[1] for part in small]))
