"""Group labels keep their type and text in DIF (issue 9, part 8): a file's text as written
(``2.0`` stays ``2.0``, ``2`` stays ``2``), in-memory numbers as numbers, a whole float from a
numeric column with blanks as the integer it is."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from dif_data import frame_with_dif, two_scale_instrument
from psychometrics.data import load_responses
from psychometrics.validation import validate


def _validate(data, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validate(two_scale_instrument(), data, group="cohort", n_replications=1, **options)


def _with_cohort(values) -> pd.DataFrame:
    frame = frame_with_dif(n=300)
    frame["cohort"] = values
    return frame


def _dif_messages(result) -> list[str]:
    return [f.message for f in result.findings if f.statistic == "dif" and f.scope == "item"]


@pytest.mark.parametrize(("written", "shown"), [("2.0", "2.0"), ("2", "2")])
def test_a_files_group_text_is_kept_as_written(tmp_path, written, shown):
    frame = frame_with_dif(n=300)
    frame["cohort"] = np.where(frame["cohort"] == "a", "1" + written[1:], written)
    frame.loc[3, "cohort"] = ""          # a blank: pandas alone would read 2.0 as a float
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    text = path.read_text()
    assert f",{written}\n" in text and ",\n" in text
    result = _validate(path)
    assert set(result.dif["focal"]) == {shown} and set(result.dif["reference"]) == {"1" + shown[1:]}
    assert all(isinstance(v, str) for v in result.dif["focal"])
    assert f"item g2: large DIF by cohort ({shown} vs {'1' + shown[1:]})" in " ".join(_dif_messages(result))
    records = json.loads(json.dumps(result.to_dict(), default=str))["dif"]
    assert {r["focal"] for r in records} == {shown}


def test_excluded_and_data_columns_of_a_file_are_its_text(tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame({"id": ["007", "010", "013"], "q1": [1, 2, 3], "q2": [2, 3, 1], "cohort": ["2.0", "", "1.0"],
                  "age": ["34", "51", "029"]}).to_csv(path, index=False)
    responses = load_responses(path, id_column="id", exclude=["cohort", "age"], warn=False)
    assert responses.metadata["cohort"].tolist()[0] == "2.0" and pd.isna(responses.metadata["cohort"].iloc[1])
    assert responses.metadata["age"].tolist() == ["34", "51", "029"]
    assert responses.frame["q1"].tolist() == [1.0, 2.0, 3.0]    # items stay numbers


def test_in_memory_numbers_stay_numbers_and_whole_floats_are_integers():
    frame = frame_with_dif(n=300)
    values = np.where(frame["cohort"] == "a", 1.0, 2.0)
    values[5] = np.nan                   # a blank makes the column float: 2.0 is the integer 2
    result = _validate(_with_cohort(values))
    assert set(result.dif["focal"]) == {2} and set(result.dif["reference"]) == {1}
    assert all(type(v) is int for v in result.dif["focal"])
    assert "item g2: large DIF by cohort (2 vs 1)" in " ".join(_dif_messages(result))
    # text in memory is text as given
    text = _validate(_with_cohort(np.where(frame["cohort"] == "a", "1.0", "2.0")))
    assert set(text.dif["focal"]) == {"2.0"}
    assert "item g2: large DIF by cohort (2.0 vs 1.0)" in " ".join(_dif_messages(text))


def test_three_numeric_groups_keep_integer_labels_in_the_table_and_json():
    frame = frame_with_dif(n=300)
    values = (np.arange(len(frame)) % 3 + 1).astype(float)
    values[0] = np.nan
    result = _validate(_with_cohort(values))
    focal = result.dif.index.get_level_values(0)
    # the largest group (2 or 3: the blank is in group 1) is the reference
    reference = set(result.dif["reference"])
    assert len(reference) == 1 and set(focal) | reference == {1, 2, 3}
    assert all(type(v) is int for v in [*focal, *reference])
    records = json.loads(json.dumps(result.to_dict()["dif"]))
    assert {r["focal"] for r in records} == set(focal)


def test_mixed_numbers_and_text_become_text():
    frame = frame_with_dif(n=300)
    values = frame["cohort"].to_numpy(dtype=object).copy()
    values[values == "a"] = 1
    result = _validate(_with_cohort(values))
    assert set(result.dif["focal"]) | set(result.dif["reference"]) == {"1", "b"}
