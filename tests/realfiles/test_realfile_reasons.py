"""No NaN without a reason, and reports that say what they show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import agreement, ctt, fairness, reliability
from psychometrics.errors import DataWarning, ResponseError


def test_item_analysis_keeps_the_others_beside_an_empty_item():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(200)
    frame = pd.DataFrame({f"q{j}": np.clip(np.round(3 + theta + rng.standard_normal(200)), 1, 5) for j in range(4)})
    reference = ctt.item_analysis(frame)
    frame["blank"] = np.nan
    with pytest.warns(DataWarning, match=r"item\(s\) 'blank' have no responses: their statistics are NaN and the "
                                         r"other items' r_drop and alpha_if_deleted leave them out"):
        table = ctt.item_analysis(frame)
    pd.testing.assert_frame_equal(table.loc[reference.index], reference)
    assert table.loc["blank", "n"] == 0 and table.loc["blank", "missing_rate"] == 1.0


def test_negative_alpha_says_why():
    frame = pd.DataFrame({"a": [1, 2, 3, 4, 5.0], "b": [5, 4, 3, 2, 1.0], "c": [1, 2, 3, 4, 5.0]})
    with pytest.warns(DataWarning, match=r"alpha is negative \(-3.000\): the items covary negatively on average; "
                                         r"a reverse-keyed item that was not reversed"):
        assert reliability.alpha(frame).alpha == pytest.approx(-3.0)


def test_rwg_rejects_ratings_outside_the_scale():
    ratings = pd.DataFrame({"team": ["a", "a", "b", "b"], "r": [1, 7, 3, 4]})
    with pytest.raises(ResponseError, match=r"ratings: row 1 \(group 'a'\): rating 7(\.0)? is outside the scale 1-5 "
                                            r"that n_options=5 describes"):
        agreement.rwg(ratings, 5, group="team", value="r")


def test_adverse_impact_when_nobody_passes_warns():
    with pytest.warns(DataWarning, match=r"nobody passes the cut 10: impact ratios and z tests are undefined"):
        table = fairness.adverse_impact(pd.Series([1, 2, 3, 2.0]), pd.Series(["x", "x", "y", "y"]), 10)
    assert table["impact_ratio"].isna().all()


def test_score_report_states_the_source_and_follows_direction(tmp_path):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    from psychometrics.report import render_scores

    scores = pd.DataFrame({"teamwork_T": [60.0, 40.0], "stress_T": [70.0, 30.0]}, index=["a", "b"])
    page = render_scores(scores, scales=["teamwork", "stress"], unfavourable=["stress"],
                         norm_source="T-scores compare with the calibration sample of bank.json")
    assert "T-scores compare with the calibration sample of bank.json" in page
    assert "On stress a high score is unfavourable" in page
