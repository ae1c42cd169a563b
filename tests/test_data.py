"""Tests of psychometrics/data.py: reading, validating and keying response data."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import ItemSpec, Responses, as_responses, load_responses, read_table
from psychometrics.errors import DataWarning, ResponseError


def _team_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "respondent_id": ["r1", "r2", "r3", "r4"],
            "team_01": [1, 2, 3, 4],
            "team_02": [5, 4, 3, 2],
            "team_03": [2, 2, 4, 5],
        }
    )


class _FakeInstrument:
    """The part of an instrument the loader uses (see psychometrics.data.InstrumentLike)."""

    id = "fake"
    id_column = "respondent_id"

    def __init__(self, specs: dict[str, ItemSpec], extra: dict[str, list[str] | None] | None = None):
        self._specs = specs
        self._extra = extra or {}

    def item_specs(self) -> dict[str, ItemSpec]:
        return self._specs

    def metadata_columns(self) -> list[str]:
        return list(self._extra)

    def metadata_values(self) -> dict[str, list[str]]:
        return {k: v for k, v in self._extra.items() if v is not None}


# ----------------------------------------------------------------------------- conversion

def test_dataframe_becomes_float_matrix_with_ids_and_inferred_categories():
    r = load_responses(_team_frame())
    assert isinstance(r, Responses)
    assert r.item_ids == ["team_01", "team_02", "team_03"]
    assert list(r.person_ids) == ["r1", "r2", "r3", "r4"]
    assert r.person_ids.name == "respondent_id"
    assert r.frame.dtypes.eq(np.float64).all()
    # inferred categories are the contiguous range between the smallest and largest code
    assert r.categories == {"team_01": (1, 2, 3, 4), "team_02": (2, 3, 4, 5), "team_03": (2, 3, 4, 5)}
    assert r.metadata is None


def test_ndarray_input_gets_item_names_and_row_positions(rng):
    x = rng.integers(0, 4, size=(30, 3))
    r = load_responses(x)
    assert r.item_ids == ["item1", "item2", "item3"]
    assert list(r.person_ids) == list(range(30))
    np.testing.assert_array_equal(r.values, x.astype(float))


def test_input_is_not_modified():
    frame = pd.DataFrame({"q1": [1.0, -9.0, 3.0], "q2": [2.0, 2.0, -9.0]})
    before = frame.copy()
    load_responses(frame, missing_codes=[-9], warn=False)
    pd.testing.assert_frame_equal(frame, before)
    array = frame.to_numpy().copy()
    load_responses(array, missing_codes=[-9], warn=False)
    np.testing.assert_array_equal(array, before.to_numpy())


def test_given_categories_for_all_items_or_per_item():
    frame = pd.DataFrame({"a": [1, 2, 2], "b": [0, 2, 4]})
    r = load_responses(frame, categories=range(1, 6), items=["a"])
    assert r.categories == {"a": (1, 2, 3, 4, 5)}
    assert r.metadata is not None and list(r.metadata.columns) == ["b"]
    r = load_responses(frame, categories={"b": (0, 2, 4)})
    assert r.categories["b"] == (0, 2, 4)
    assert r.categories["a"] == (1, 2)


def test_index_is_kept_when_no_id_column():
    frame = pd.DataFrame({"x": [1, 0, 1], "y": [0, 0, 1]}, index=pd.Index(["p", "q", "s"], name="who"))
    r = load_responses(frame)
    assert list(r.person_ids) == ["p", "q", "s"] and r.person_ids.name == "who"


def test_explicit_id_column_and_missing_id_column():
    frame = _team_frame().rename(columns={"respondent_id": "code"})
    r = load_responses(frame, id_column="code")
    assert list(r.person_ids) == ["r1", "r2", "r3", "r4"]
    with pytest.raises(ResponseError, match="id column 'nope' is not in the data"):
        load_responses(frame, id_column="nope")


# ----------------------------------------------------------------------------- missing data

def test_missing_codes_numeric_text_and_blank_become_nan():
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "q1": [1, -9, 3, 99],
            "q2": ["2", "NA", " ", "4"],
        }
    )
    r = load_responses(frame, missing_codes=[-9, 99, "NA"], warn=False)
    expected = np.array([[1, 2], [np.nan, np.nan], [3, np.nan], [np.nan, 4]])
    np.testing.assert_array_equal(r.values, expected)
    np.testing.assert_array_equal(r.observed, ~np.isnan(expected))
    # missing codes do not take part in inferring categories
    assert r.categories["q1"] == (1, 2, 3)


def test_nan_cells_stay_missing_and_are_not_checked():
    frame = pd.DataFrame({"q1": [1.0, np.nan, 2.0], "q2": [np.nan, np.nan, 1.0]})
    r = load_responses(frame, categories=(1, 2), warn=False)
    assert np.isnan(r.values).sum() == 3


# ----------------------------------------------------------------------------- errors

def test_out_of_range_message_names_respondent_row_item_column_value():
    frame = _team_frame()
    frame.loc[2, "team_03"] = 6
    with pytest.raises(ResponseError) as info:
        load_responses(frame, categories=range(1, 6))
    assert str(info.value) == "respondent 'r3' (row 2), item 'team_03' (column 3): value 6 is outside categories 1-5"


def test_out_of_range_for_non_contiguous_categories():
    frame = pd.DataFrame({"q": [0, 2, 3]}, index=[10, 11, 12])
    with pytest.raises(ResponseError, match=r"respondent 12 \(row 2\), item 'q' \(column 0\): value 3 "
                                            r"is outside categories 0, 2, 4"):
        load_responses(frame, categories={"q": (0, 2, 4)})


def test_non_integer_code_message():
    frame = _team_frame().astype({"team_02": float})
    frame.loc[1, "team_02"] = 2.5
    with pytest.raises(ResponseError, match=re.escape(
            "respondent 'r2' (row 1), item 'team_02' (column 2): value 2.5 is not an integer code")):
        load_responses(frame)


def test_non_numeric_cell_message():
    frame = _team_frame().astype({"team_01": object})
    frame.loc[3, "team_01"] = "four"
    with pytest.raises(ResponseError, match=re.escape(
            "respondent 'r4' (row 3), item 'team_01' (column 1): value 'four' is not a number")):
        load_responses(frame)


def test_infinite_value_message():
    frame = pd.DataFrame({"q": [1.0, np.inf]}, index=["a", "b"])
    with pytest.raises(ResponseError, match=r"respondent 'b' \(row 1\), item 'q' \(column 0\): value inf is not a finite"):
        load_responses(frame)


def test_many_offenders_list_first_five_in_reading_order_and_the_total():
    frame = pd.DataFrame(np.full((20, 3), 3.0), columns=["a", "b", "c"], index=[f"r{i}" for i in range(20)])
    frame.iloc[5:20, 2] = 7  # 15 out of range
    frame.iloc[3, 0] = 1.5  # non-integer, earlier row
    with pytest.raises(ResponseError) as info:
        load_responses(frame, categories=range(1, 6))
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == "16 invalid responses; the first 5:"
    assert len(lines) == 6
    assert lines[1].strip() == "respondent 'r3' (row 3), item 'a' (column 0): value 1.5 is not an integer code"
    assert lines[2].strip() == "respondent 'r5' (row 5), item 'c' (column 2): value 7 is outside categories 1-5"
    assert lines[5].strip().startswith("respondent 'r8' (row 8)")


def test_offender_in_a_later_block_reports_its_own_row():
    n = 70_000  # more than one validation block
    frame = pd.DataFrame({"q1": np.ones(n), "q2": np.zeros(n)})
    frame.iloc[69_999, 1] = 5
    with pytest.raises(ResponseError, match=r"respondent 69999 \(row 69999\), item 'q2' \(column 1\): value 5"):
        load_responses(frame, categories=(0, 1))


def test_duplicate_respondent_ids_name_ids_and_rows():
    frame = _team_frame()
    frame.loc[3, "respondent_id"] = "r1"
    with pytest.raises(ResponseError) as info:
        load_responses(frame)
    assert "duplicate respondent ids" in str(info.value)
    assert "respondent 'r1' (rows 0, 3)" in str(info.value)


def test_missing_respondent_id_names_row():
    frame = _team_frame()
    frame.loc[1, "respondent_id"] = None
    with pytest.raises(ResponseError, match=r"respondent id\(s\) are missing \(rows 1\)"):
        load_responses(frame)


def test_duplicate_item_ids_in_frame_name_item_and_columns():
    frame = pd.DataFrame([[1, 2, 3]], columns=["q1", "q2", "q1"])
    with pytest.raises(ResponseError, match=r"item 'q1' appears in columns 0, 2"):
        load_responses(frame)


def test_duplicate_item_ids_in_csv_header(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("respondent_id,q1,q2,q1\nr1,1,2,3\n")
    with pytest.raises(ResponseError, match=r"item 'q1' appears in columns 1, 3"):
        load_responses(path)


def test_items_absent_from_the_instrument_are_named_with_column():
    instrument = _FakeInstrument({"team_01": ItemSpec((1, 2, 3, 4, 5)), "team_02": ItemSpec((1, 2, 3, 4, 5))})
    with pytest.raises(ResponseError, match=r"not items of instrument 'fake': 'team_03' \(column 3\)"):
        load_responses(_team_frame(), instrument=instrument)


def test_empty_frame_file_and_header_only(tmp_path):
    with pytest.raises(ResponseError, match="empty"):
        load_responses(pd.DataFrame())
    with pytest.raises(ResponseError, match="empty"):
        load_responses(pd.DataFrame({"q1": []}))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ResponseError, match="empty.csv' is empty"):
        load_responses(empty)
    header = tmp_path / "header.csv"
    header.write_text("respondent_id,q1,q2\n")
    with pytest.raises(ResponseError, match=r"empty \(0 rows"):
        load_responses(header)
    only_ids = pd.DataFrame({"respondent_id": ["a", "b"]})
    with pytest.raises(ResponseError, match="no item columns"):
        load_responses(only_ids)


def test_bad_shapes_types_and_files(tmp_path):
    with pytest.raises(ResponseError, match="2-D array"):
        load_responses(np.arange(5))
    with pytest.raises(TypeError, match="expected a DataFrame"):
        load_responses(42)
    with pytest.raises(FileNotFoundError):
        load_responses(tmp_path / "absent.csv")
    odd = tmp_path / "data.xyz"
    odd.write_text("a\n1\n")
    with pytest.raises(ResponseError, match="unknown file type '.xyz'"):
        load_responses(odd)


def test_unknown_option_of_a_keyed_item_is_named():
    instrument = _FakeInstrument({"mc1": ItemSpec((0, 1), options={"A": 1, "B": 0, "C": 0})})
    frame = pd.DataFrame({"respondent_id": ["x", "y"], "mc1": ["b", "E"]})
    with pytest.raises(ResponseError, match=r"respondent 'y' \(row 1\), item 'mc1' \(column 1\): "
                                            r"value 'E' is not one of the options A, B, C"):
        load_responses(frame, instrument=instrument)


def test_declared_metadata_values_are_checked():
    instrument = _FakeInstrument({"q": ItemSpec((1, 2, 3))}, extra={"rater_role": ["self", "peer"], "note": None})
    frame = pd.DataFrame({"respondent_id": ["a", "b"], "rater_role": ["self", "boss"], "note": ["", "x"],
                          "q": [1, 2]})
    with pytest.raises(ResponseError, match=r"respondent 'b' \(row 1\), column 'rater_role' \(column 1\): "
                                            r"value 'boss' is not one of self, peer"):
        load_responses(frame, instrument=instrument)


# ----------------------------------------------------------------------------- keying

def test_reverse_keying_only_with_an_instrument():
    frame = _team_frame()
    plain = load_responses(frame)
    np.testing.assert_array_equal(plain.frame["team_02"], [5, 4, 3, 2])
    instrument = _FakeInstrument({
        "team_01": ItemSpec((1, 2, 3, 4, 5)),
        "team_02": ItemSpec((1, 2, 3, 4, 5), reverse=True),
        "team_03": ItemSpec((1, 2, 3, 4, 5)),
    })
    keyed = load_responses(frame, instrument=instrument)
    # reversed = min + max - x = 6 - x
    np.testing.assert_array_equal(keyed.frame["team_02"], [1, 2, 3, 4])
    np.testing.assert_array_equal(keyed.frame["team_01"], [1, 2, 3, 4])
    assert keyed.categories["team_02"] == (1, 2, 3, 4, 5)


def test_reverse_keying_uses_the_instrument_range_not_the_observed_one():
    instrument = _FakeInstrument({"q": ItemSpec((0, 1, 2, 3, 4, 5, 6), reverse=True)})
    frame = pd.DataFrame({"respondent_id": ["a", "b", "c"], "q": [2, 3, np.nan]})
    r = load_responses(frame, instrument=instrument, warn=False)
    np.testing.assert_array_equal(r.values[:, 0], [4, 3, np.nan])


def test_option_scores_and_missing_option_codes():
    instrument = _FakeInstrument({"s1": ItemSpec((0, 1, 2, 3), options={"A": 2, "B": 3, "C": 0, "D": 1})})
    frame = pd.DataFrame({"respondent_id": list("abcde"), "s1": ["A", " b", "d", None, "X9"]})
    r = load_responses(frame, instrument=instrument, missing_codes=["X9"], warn=False)
    np.testing.assert_array_equal(r.values[:, 0], [2, 3, 1, np.nan, np.nan])


# ----------------------------------------------------------------------------- warnings

def test_constant_sparse_items_and_empty_persons_warn_by_name():
    frame = pd.DataFrame(
        {"const": [3, 3, 3, 3, 3, 3], "sparse": [1, np.nan, np.nan, np.nan, np.nan, 2], "ok": [1, 2, 1, np.nan, 2, 1]},
        index=["a", "b", "c", "d", "e", "f"],
    )
    frame.loc["d", "const"] = np.nan
    frame.loc["d", "sparse"] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = load_responses(frame, min_item_responses=3)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("fewer than 3 responses: 'sparse' (2)" in m for m in messages)
    assert any("constant item(s)" in m and "'const' (always 3)" in m for m in messages)
    assert any("1 respondent(s) gave no responses: respondent 'd' (row 3)" in m for m in messages)
    assert r.n_persons == 6  # persons without responses are kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_responses(frame, min_item_responses=3, warn=False)


# ----------------------------------------------------------------------------- files

def test_csv_with_comment_header_and_tsv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# simulated\n# second line\nrespondent_id,q1,q2\nr1,1,2\nr2,,3\n")
    r = load_responses(path, warn=False)
    assert list(r.person_ids) == ["r1", "r2"]
    np.testing.assert_array_equal(r.values, [[1, 2], [np.nan, 3]])
    tsv = tmp_path / "x.tsv"
    tsv.write_text("id\tq1\nr1\t4\nr2\t5\n")
    assert load_responses(tsv, warn=False).frame["q1"].tolist() == [4.0, 5.0]


def test_csv_errors_give_file_line_numbers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# comment\nrespondent_id,q1,q2\nr1,1,2\nr2,1,x\n")
    with pytest.raises(ResponseError, match=r"respondent 'r2' \(line 4\), item 'q2' \(column 2\): value 'x'"):
        load_responses(path)


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _team_frame()
    path = tmp_path / "x.parquet"
    frame.to_parquet(path, index=False)
    r = load_responses(path, warn=False)
    pd.testing.assert_frame_equal(r.frame, load_responses(frame).frame)


def test_spss_sav_with_user_missing(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({"respondent_id": ["a", "b", "c"], "q1": [1.0, 2.0, 9.0], "q2": [3.0, 9.0, 2.0]})
    path = tmp_path / "x.sav"
    pyreadstat.write_sav(frame, str(path), missing_ranges={"q1": [9], "q2": [9]})
    r = load_responses(path, warn=False)
    np.testing.assert_array_equal(r.values, [[1, 3], [2, np.nan], [np.nan, 2]])
    assert list(r.person_ids) == ["a", "b", "c"]
    assert isinstance(read_table(path), pd.DataFrame)


# ----------------------------------------------------------------------------- container

def test_as_responses_passes_responses_through_and_subset_keeps_metadata():
    frame = _team_frame()
    frame["group"] = ["x", "y", "x", "y"]
    r = load_responses(frame, items=["team_01", "team_02", "team_03"])
    assert as_responses(r) is r
    sub = r.subset(["team_03", "team_01"])
    assert sub.item_ids == ["team_03", "team_01"]
    assert sub.metadata is not None and sub.metadata["group"].tolist() == ["x", "y", "x", "y"]
    again = load_responses(r)  # re-validating a Responses keeps its categories and metadata
    assert again.categories == r.categories
    assert again.metadata is r.metadata


def test_generated_data_round_trip_with_missing(rng):
    x = rng.integers(1, 6, size=(500, 12)).astype(float)
    mask = rng.random(x.shape) < 0.1
    coded = x.copy()
    coded[mask] = -9
    r = load_responses(pd.DataFrame(coded, columns=[f"i{j}" for j in range(12)]), missing_codes=[-9],
                       categories=range(1, 6))
    expected = x.copy()
    expected[mask] = np.nan
    np.testing.assert_array_equal(r.values, expected)
    assert r.n_persons == 500 and r.n_items == 12


def test_property_integer_matrices_round_trip():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=40, deadline=None)
    @given(arrays(np.int64, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=st.integers(-3, 6)),
           st.floats(0.0, 0.6), st.integers(0, 2**32 - 1))
    def check(codes, rate, seed):
        values = codes.astype(float)
        values[np.random.default_rng(seed).random(values.shape) < rate] = np.nan
        r = load_responses(values, warn=False)
        np.testing.assert_array_equal(r.values, values)
        for j, item in enumerate(r.item_ids):
            column = values[:, j][~np.isnan(values[:, j])]
            expected = tuple(range(int(column.min()), int(column.max()) + 1)) if column.size else ()
            assert r.categories[item] == expected

    assert hypothesis is not None
    check()


def test_as_responses_passes_warn_through():
    frame = pd.DataFrame({"a": [1.0] * 6, "b": [1.0, 2.0, np.nan, 2.0, 1.0, 2.0]},
                         index=[f"p{i}" for i in range(1, 7)])
    with pytest.warns(DataWarning, match="constant"):
        as_responses(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = as_responses(frame, warn=False)
    assert r.item_ids == ["a", "b"] and np.isnan(r.values[2, 1])
    # a Responses passes through untouched either way
    assert as_responses(r, warn=True) is r
    with pytest.raises(ResponseError, match="'p2'"):
        as_responses(frame.assign(b=[1.0, 2.5, np.nan, 2.0, 1.0, 2.0]), warn=False)


def test_float_frame_is_shared_not_copied_and_never_written():
    # a float64 frame is read in place (no copy of large inputs); writing to the result must
    # leave the caller's frame as it was (copy-on-write)
    frame = pd.DataFrame(np.array([[1.0, 2.0, np.nan], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0]]), columns=["a", "b", "c"])
    before = frame.copy()
    responses = load_responses(frame, categories=[1, 2, 3], warn=False)
    assert np.shares_memory(responses.frame.to_numpy(), frame.to_numpy())
    responses.frame.iloc[0, 0] = 3.0
    pd.testing.assert_frame_equal(frame, before)
    # with numeric missing codes the checks work on a copy (the codes become NaN there only)
    coded = frame.fillna(-9.0)
    responses = load_responses(coded, categories=[1, 2, 3], missing_codes=[-9], warn=False)
    assert np.isnan(responses.frame.iloc[0, 2]) and coded.iloc[0, 2] == -9.0
