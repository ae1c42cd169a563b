"""Id columns and non-item columns: never guessed silently."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from messy import BIG_FIVE_ITEMS, big_five_frame

from psychometrics.data import load_responses
from psychometrics.errors import DataWarning, ResponseError


def test_pandas_default_to_csv_index_is_taken_as_id_and_said(big_five_csv):
    # without --exclude the demographic columns are one clear error, before any allocation
    with pytest.raises(ResponseError) as info:
        load_responses(big_five_csv, warn=False)
    assert str(info.value) == (
        "3 column(s) do not look like items: 'gender' (column 16: a demographic or bookkeeping column by its name); "
        "'education' (column 17: a demographic or bookkeeping column by its name); 'age' (column 18: a demographic "
        "or bookkeeping column by its name); leave them out with exclude=[...] (command line: --exclude "
        "gender,education,age) or list the items with items=[...] (--items)")
    with pytest.warns(DataWarning, match=r"column 'Unnamed: 0' \(column 0\) is taken as the respondent id by its "
                                         r"name; pass id_column= \(command line: --id-column\) to choose another"):
        r = load_responses(big_five_csv, exclude=["gender", "education", "age"])
    assert r.item_ids == BIG_FIVE_ITEMS
    assert list(r.metadata.columns) == ["gender", "education", "age"]
    assert r.person_ids[:3].tolist() == ["0", "1", "2"]  # ids are text


@pytest.mark.parametrize("name", ["RespondentID", "subject", "candidate", "employee_id", "ResponseId"])
def test_id_columns_with_other_names(tmp_path, name):
    frame = big_five_frame(40).drop(columns=["gender", "education", "age"])
    frame.insert(0, name, [f"p{k:03d}" for k in range(40)])
    path = tmp_path / "hr.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        r = load_responses(path)
    assert r.person_ids.name == name and r.person_ids[0] == "p000"
    assert r.item_ids == BIG_FIVE_ITEMS


def test_leading_zeros_of_ids_are_kept(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("respondent_id,q1,q2\n007,1,2\n010,2,1\n")
    r = load_responses(path, warn=False)
    assert r.person_ids.tolist() == ["007", "010"]


def test_two_id_like_columns_are_an_error_naming_both(tmp_path):
    frame = big_five_frame(30).drop(columns=["gender", "education", "age"])
    frame.insert(0, "respondent_id", [f"r{k}" for k in range(30)])
    path = tmp_path / "x.csv"
    frame.to_csv(path)  # plus the pandas index
    with pytest.raises(ResponseError) as info:
        load_responses(path)
    assert str(info.value) == (
        "several columns look like respondent ids: 'Unnamed: 0' (column 0), 'respondent_id' (column 1); say which "
        "one holds the ids with id_column='Unnamed: 0' (command line: --id-column 'Unnamed: 0') and leave the "
        "others out with exclude=[...] (--exclude)")
    r = load_responses(path, id_column="respondent_id", exclude=["Unnamed: 0"], warn=False)
    assert r.person_ids[0] == "r0" and r.item_ids == BIG_FIVE_ITEMS


def test_id_by_content_when_no_name_says_so():
    frame = pd.DataFrame({"code": [f"x{k}" for k in range(30)], "q1": np.arange(30) % 5 + 1,
                          "q2": np.arange(30) % 4 + 1})
    with pytest.warns(DataWarning, match=r"column 'code' \(column 0\) is taken as the respondent id by its values"):
        r = load_responses(frame)
    assert r.item_ids == ["q1", "q2"] and r.person_ids[0] == "x0"


def test_dates_and_free_text_are_named_not_read_as_items(tmp_path):
    frame = pd.DataFrame({"respondent_id": ["a", "b", "c", "d"], "q1": [1, 2, 3, 4], "q2": [2, 3, 4, 1],
                          "submitted_on": ["2026-01-03 10:00", "2026-01-04 11:30", "2026-01-05 09:15",
                                           "2026-01-05 17:40"],
                          "remark": ["great team", "too long", "n/a", "ok I guess"]})
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ResponseError) as info:
        load_responses(path)
    assert str(info.value) == (
        "2 column(s) do not look like items: 'submitted_on' (column 3: dates such as '2026-01-03 10:00'); 'remark' "
        "(column 4: text such as 'great team', 'too long'); leave them out with exclude=[...] (command line: "
        "--exclude submitted_on,remark) or list the items with items=[...] (--items)")
    r = load_responses(path, items=["q1", "q2"], warn=False)
    assert list(r.metadata.columns) == ["submitted_on", "remark"]


def test_datetime_dtype_column_is_refused():
    frame = pd.DataFrame({"q1": [1, 2, 3], "q2": [3, 2, 1], "when": pd.to_datetime(["2026-01-01"] * 3)})
    with pytest.raises(ResponseError, match=r"'when' \(column 2: dates\)"):
        load_responses(frame)


def test_one_typo_word_stays_a_cell_error():
    frame = pd.DataFrame({"respondent_id": list("abcdef"), "q1": ["1", "2", "three", "4", "5", "1"]})
    with pytest.raises(ResponseError, match=r"respondent 'c' \(row 2\), item 'q1' \(column 1\): value 'three' is not "
                                             r"a number"):
        load_responses(frame)
