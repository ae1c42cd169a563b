"""Messages raised while calibrating one scale name the file's column, not the position of the
item inside the scale (issue 9, part 7)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.data import load_responses
from psychometrics.errors import ModelWarning, ResponseError


def _messy_export(tmp_path, *, constant: bool = False, gap: bool = False):
    """A pandas-written export: an unnamed index column, demographics, then scale A, then B.
    File columns: 0 'Unnamed: 0', 1 respondent_id, 2 age, 3 gender, 4-7 a1..a4, 8-11 b1..b4."""
    rng = np.random.default_rng(9)
    n = 200
    theta = rng.normal(size=n)
    frame = pd.DataFrame({"respondent_id": [f"r{i:04d}" for i in range(n)],
                          "age": rng.integers(20, 65, n), "gender": rng.choice(["f", "m"], n)})
    for name in ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"):
        frame[name] = np.clip(np.round(3 + theta + rng.normal(size=n)), 1, 5).astype(int)
    if constant:
        frame["b3"] = 4
    if gap:
        # code 3 of b2 never chosen: collapsed with a warning
        frame.loc[frame["b2"] == 3, "b2"] = 4
    path = tmp_path / "export.csv"
    frame.to_csv(path)
    return path


def test_constant_item_of_second_scale_names_file_column(tmp_path):
    path = _messy_export(tmp_path, constant=True)
    responses = load_responses(path, id_column="respondent_id", exclude=["Unnamed: 0", "age", "gender"], categories=range(1, 6), warn=False)
    assert responses.column_of("b3") == 10
    scale_b = responses.subset(["b1", "b2", "b3", "b4"])
    with pytest.raises(ResponseError) as info:
        irt.calibrate(scale_b, model="graded")
    # b3 is the third item of the scale (position 2) but column 10 of the file
    assert str(info.value).startswith("item 'b3' (column 10) is constant (every response is 4)")
    assert "(column 2)" not in str(info.value)


def test_collapsed_category_warning_names_file_column(tmp_path):
    path = _messy_export(tmp_path, gap=True)
    responses = load_responses(path, id_column="respondent_id", exclude=["Unnamed: 0", "age", "gender"], categories=range(1, 6), warn=False)
    scale_b = responses.subset(["b1", "b2", "b3", "b4"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        irt.calibrate(scale_b, model="graded")
    messages = [str(w.message) for w in caught if issubclass(w.category, ModelWarning)]
    collapsed = [m for m in messages if "never used" in m]
    assert collapsed == ["item 'b2': category 3 never used; collapsed, the item (column 9) is calibrated "
                         "with categories (1, 2, 4, 5)"]


def test_code_outside_a_stated_category_names_file_column(tmp_path):
    path = _messy_export(tmp_path)
    responses = load_responses(path, id_column="respondent_id", exclude=["Unnamed: 0", "age", "gender"], categories=range(1, 6), warn=False)
    scale_b = responses.subset(["b4", "b1"])
    # anchor categories that leave out a code present in the data
    from psychometrics.irt.prepare import _prepare
    with pytest.raises(ResponseError, match=re.escape("item 'b1' (column 8): value 5 is not one of the item's "
                                                      "categories in the bank (1, 2, 3, 4)")):
        _prepare(scale_b, {"b4": "graded", "b1": "graded"}, {"b1": (1, 2, 3, 4)})


def test_in_memory_frame_falls_back_to_positions():
    frame = pd.DataFrame({"x": [1, 2, 1, 2, 1], "y": [3, 3, 3, 3, 3]})
    responses = load_responses(frame, warn=False, min_item_responses=1)
    assert responses.column_of("y") == 1
    with pytest.raises(ResponseError, match=re.escape("item 'y' (column 1) is constant")):
        irt.calibrate(responses, model="2pl")


def test_scoring_a_file_with_a_bank_names_file_column(tmp_path):
    # a bank calibrated on scale B (b2's category 3 unused); a later file
    # has b2 = 3 (moved to 2 by the collapse map) and a b4 code outside the bank's categories
    from psychometrics.bank import ItemBank, collapse_map, read_bank

    path = _messy_export(tmp_path, gap=True)
    responses = load_responses(path, id_column="respondent_id", exclude=["Unnamed: 0", "age", "gender"],
                               categories=range(1, 6), warn=False)
    items = ["b1", "b2", "b3", "b4"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        calibration = irt.calibrate(responses.subset(items), model="graded")
    collapsed = {item: collapse_map(tuple(range(1, 6)), calibration.categories[item]) for item in items}
    ItemBank({"B": calibration}, collapsed={"B": {i: m for i, m in collapsed.items() if m}}).save(tmp_path / "bank.json")
    bank = read_bank(tmp_path / "bank.json")
    assert bank.collapsed["B"] == {"b2": {3: 2}}   # the nearest used code, the lower on a tie

    later = pd.read_csv(path, dtype={"respondent_id": str})
    later.loc[0, "b2"] = 3
    later.loc[1, "b4"] = 7
    later.to_csv(tmp_path / "later.csv", index=False)
    new = load_responses(tmp_path / "later.csv", id_column="respondent_id",
                         exclude=["Unnamed: 0", "age", "gender"], categories=range(1, 8), warn=False)
    # file columns: 0 'Unnamed: 0', 1 respondent_id, 2 age, 3 gender, 4-7 a1..a4, 8-11 b1..b4
    scale = new.subset(["b4", "b2"])
    with pytest.warns(Warning, match=re.escape("'b2' 3 -> 2 (1)")):
        moved = bank.apply_collapse("B", scale)
    assert moved.column_of("b4") == 11 and moved.column_of("b2") == 9
    with pytest.raises(ResponseError) as info:
        irt.score(bank.scales["B"], moved)
    assert re.search(r"respondent 'r0001' \(row 1\), item 'b4' \(column 11\): value 7 is not one of the "
                     r"item's categories \(1, 2, 3, 4, 5\)", str(info.value)), str(info.value)
    assert "(column 0)" not in str(info.value)
