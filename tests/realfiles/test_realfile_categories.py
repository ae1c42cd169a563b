"""Category sanity: typos, undeclared missing codes, huge codes, sliders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import ItemSpec, load_responses
from psychometrics.errors import ResponseError


def _likert(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"q{j}": rng.integers(1, 6, n).astype(float) for j in range(1, 5)},
                        index=pd.Index([f"r{k}" for k in range(n)], name="respondent_id"))


def test_an_item_answered_only_with_minus_nine_is_an_error_not_one_category():
    frame = _likert(n=5)
    frame["q4"] = [-9.0, np.nan, np.nan, -9.0, np.nan]
    with pytest.raises(ResponseError) as info:
        load_responses(frame)
    assert str(info.value) == (
        "item 'q4' (column 3): every answer is -9, a common missing-data code; if it means \"no answer\", declare "
        "missing_codes=[-9] (command line: --missing-codes -9); if a typo, correct the cell")
    r = load_responses(frame, missing_codes=[-9], warn=False)
    assert np.isnan(r.frame["q4"].to_numpy()).all()


def test_one_typo_1000_is_an_error_naming_item_and_value():
    frame = _likert()
    frame.iloc[17, 2] = 1000
    with pytest.raises(ResponseError) as info:
        load_responses(frame)
    assert str(info.value) == (
        "item 'q3' (column 2): value(s) 1000 lie far from the other codes 1-5; if it means \"no answer\", declare "
        "missing_codes=[1000] (command line: --missing-codes 1000); if a typo, correct the cell")


def test_minus_nine_is_not_a_category_by_default():
    frame = _likert()
    frame.iloc[:30, 0] = -9
    with pytest.raises(ResponseError) as info:
        load_responses(frame)
    assert str(info.value) == (
        "item 'q1' (column 0): value(s) -9 lie beyond a gap of unused codes from the others (1-5); if it means "
        "\"no answer\", declare missing_codes=[-9] (command line: --missing-codes -9); if a typo, correct the cell")
    r = load_responses(frame, missing_codes=[-9], warn=False)
    assert r.categories["q1"] == (1, 2, 3, 4, 5)
    assert np.isnan(r.values[:30, 0]).all()


def test_nine_beyond_a_five_point_scale_is_flagged_as_a_missing_code():
    frame = _likert()
    frame.iloc[:40, 1] = 9  # 20% of the answers: too many for a typo, but 9 is a usual missing code
    with pytest.raises(ResponseError, match=r"item 'q2' \(column 1\): value\(s\) 9 lie beyond a gap"):
        load_responses(frame)


def test_declared_categories_hint_at_missing_codes():
    frame = _likert().reset_index()
    frame.loc[5, "q1"] = -99

    class Instrument:
        id = "x"
        id_column = "respondent_id"

        def item_specs(self):
            return {f"q{j}": ItemSpec((1, 2, 3, 4, 5)) for j in range(1, 5)}

        def metadata_columns(self):
            return []

    with pytest.raises(ResponseError) as info:
        load_responses(frame, instrument=Instrument())
    assert str(info.value) == (
        "respondent 'r5' (row 5), item 'q1' (column 1): value -99 is outside categories 1-5 (-99 is a common "
        "missing-data code: declare it with missing_codes=[-99], command line --missing-codes -99)")


@pytest.mark.parametrize("code", [1e300, 2.0**62])
def test_huge_codes_never_size_an_allocation(code):
    frame = _likert(50)
    frame.iloc[3, 0] = code
    with pytest.raises(ResponseError, match=r"item 'q1' \(column 0\)"):
        load_responses(frame)


def test_sliders_need_max_categories():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f"s{j}": np.clip(np.round(50 + 20 * rng.standard_normal(500)), 0, 100)
                          for j in range(3)})
    with pytest.raises(ResponseError, match=r"^3 items have implausible codes:\n  item 's0' \(column 0\): codes range "
                                             r"from \d+ to \d+, \d+ categories, more than max_categories=20; for a "
                                             r"slider or a wide rating scale raise max_categories"):
        load_responses(frame)
    r = load_responses(frame, max_categories=101, warn=False)
    assert len(r.categories["s0"]) > 20


def test_a_category_nobody_chose_is_not_a_gap():
    frame = _likert()
    frame.loc[frame["q4"] == 3, "q4"] = 2  # nobody chose 3: a gap of one code is ordinary
    assert load_responses(frame, warn=False).categories["q4"] == (1, 2, 3, 4, 5)
