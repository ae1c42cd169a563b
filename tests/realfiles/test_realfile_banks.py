"""Item banks edited by hand are checked when loaded; unused declared categories stay scorable."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.bank import ItemBank, collapse_map, read_bank
from psychometrics.data import Responses
from psychometrics.errors import DataWarning


@pytest.fixture(scope="module")
def bank_document():
    rng = np.random.default_rng(11)
    theta = rng.standard_normal(400)
    frame = pd.DataFrame({f"q{j}": np.clip(np.round(3 + theta + 0.9 * rng.standard_normal(400)), 1, 5)
                          for j in range(1, 5)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = irt.calibrate(frame, "graded")
    return ItemBank(scales={"skill": calibration}, models={"skill": "graded"}).to_dict()


def _edited(document, tmp_path, edit):
    document = json.loads(json.dumps(document))
    edit(document["scales"]["skill"]["calibration"]["items"])
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(document))
    return path


def _message(path) -> str:
    with pytest.raises(ValueError) as info:
        read_bank(path)
    return str(info.value)


def test_unedited_bank_loads(bank_document, tmp_path):
    assert read_bank(_edited(bank_document, tmp_path, lambda items: None)).scales["skill"].n_items == 4


def test_reversed_categories(bank_document, tmp_path):
    path = _edited(bank_document, tmp_path, lambda items: items[1].update(categories=[5, 4, 3, 2, 1]))
    assert _message(path) == (f"item bank {str(path)!r}: scale 'skill', item 'q2': categories [5, 4, 3, 2, 1] are "
                              "not sorted and unique (reversed or edited?)")


def test_intercepts_out_of_order(bank_document, tmp_path):
    def edit(items):
        si = items[0]["slope_intercept"]
        si["d1"], si["d2"] = si["d2"], si["d1"]

    assert "scale 'skill', item 'q1': graded intercepts" in _message(_edited(bank_document, tmp_path, edit))


def test_nan_parameter(bank_document, tmp_path):
    path = _edited(bank_document, tmp_path, lambda items: items[2]["slope_intercept"].update(a1=None))
    assert _message(path) == (f"item bank {str(path)!r}: scale 'skill', item 'q3': parameter(s) a1 are missing for "
                              "5 categories [1, 2, 3, 4, 5]; categories and parameters must match")


def test_irt_block_changed_by_hand(bank_document, tmp_path):
    path = _edited(bank_document, tmp_path, lambda items: items[3]["irt"].update(a=9.0))
    assert "scale 'skill', item 'q4': IRT-form a = 9.0 does not follow from the slope-intercept parameters" in \
        _message(path)


def test_category_count_must_match_parameters(bank_document, tmp_path):
    path = _edited(bank_document, tmp_path, lambda items: items[0].update(categories=[1, 2, 3, 4]))
    assert "item 'q1': parameter(s) d4 do not belong to a graded item with 4 categories" in _message(path)


def test_duplicate_item_ids(bank_document, tmp_path):
    path = _edited(bank_document, tmp_path, lambda items: items[1].update(id="q1"))
    assert "scale 'skill', item 'q1': duplicate item id" in _message(path)


def test_collapse_map_scores_a_valid_answer_nobody_chose_at_calibration():
    assert collapse_map((1, 2, 3, 4, 5), (2, 3, 4, 5)) == {1: 2}
    assert collapse_map((1, 2, 3, 4, 5), (1, 2, 4, 5)) == {3: 2}
    rng = np.random.default_rng(4)
    theta = rng.standard_normal(300)
    frame = pd.DataFrame({f"q{j}": np.clip(np.round(3.5 + theta + 0.8 * rng.standard_normal(300)), 2, 5)
                          for j in range(1, 5)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = irt.calibrate(Responses(frame, {c: (1, 2, 3, 4, 5) for c in frame.columns}), "graded")
    assert calibration.categories["q1"] == (2, 3, 4, 5)
    bank = ItemBank(scales={"s": calibration}, collapsed={"s": {"q1": {1: 2}}})
    again = ItemBank.from_json(bank.to_json())
    assert again.collapsed == {"s": {"q1": {1: 2}}}
    batch = Responses(pd.DataFrame({"q1": [1.0, 3.0], "q2": [2.0, 4.0], "q3": [2.0, 4.0], "q4": [2.0, 5.0]}),
                      {c: (1, 2, 3, 4, 5) for c in ("q1", "q2", "q3", "q4")})
    with pytest.warns(DataWarning, match=r"scale 's': answers in categories unused in the calibration sample are "
                                         r"scored as the category they were merged into: 'q1' 1 -> 2 \(1\)"):
        mapped = again.apply_collapse("s", batch)
    assert mapped.frame["q1"].tolist() == [2.0, 3.0]
    scores = irt.score(again.scales["s"], mapped)
    assert np.isfinite(scores["theta"]).all()
