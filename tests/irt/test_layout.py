"""The parameter layout a calibration carries (psychometrics/irt/layout.py): one count of the
free parameters for n_parameters, AIC/BIC, M2's and S-X2's degrees of freedom and the JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.fit import m2, s_x2
from psychometrics.irt import Calibration, calibrate
from psychometrics.irt.layout import ParameterLayout
from psychometrics.simulate import simulate


@pytest.fixture(scope="module")
def anchored():
    rng = np.random.default_rng(7)
    params = pd.DataFrame({"a": rng.uniform(0.9, 1.8, 8), "b": np.linspace(-1.2, 1.2, 8)},
                          index=[f"i{j}" for j in range(8)])
    truth = Calibration.from_item_params(params, "2pl")
    data = simulate(truth, 2000, seed=11)
    anchors = {item: dict(truth.slope_intercept.loc[item, ["a1", "d"]]) for item in ("i0", "i1")}
    return calibrate(data, "2pl", fixed=anchors), data


def test_anchored_calibration_counts_only_free_parameters(anchored):
    cal, _ = anchored
    # 8 items x 2 parameters, 2 anchor items held at their values: 12 estimated
    assert cal.n_parameters == 12
    assert cal.parameter_layout.n_parameters == 12
    assert cal.parameter_layout.status("i0", "a1") == "fixed"
    assert cal.parameter_layout.status("i5", "d") == "free"
    assert cal.aic == pytest.approx(-2 * cal.loglik + 2 * 12)


def test_anchored_m2_df_counts_only_free_parameters(anchored):
    cal, data = anchored
    result = m2(cal, data)
    # 8 first-order + 28 second-order margins of 8 binary items, 12 free parameters
    assert result.n_statistics == 36
    assert result.n_parameters == 12
    assert result.df == 24


def test_anchored_s_x2_df_keeps_the_anchor_items_cells(anchored):
    cal, data = anchored
    free = calibrate(data, "2pl")
    anchored_fit = s_x2(cal, data)
    free_fit = s_x2(free, data)
    # an anchor item estimated nothing: its df is its number of cells; a free 2PL item loses 2
    cells = free_fit["df"] + 2
    assert anchored_fit.loc["i0", "df"] == cells.loc["i0"]
    assert anchored_fit.loc["i1", "df"] == cells.loc["i1"]
    assert anchored_fit.loc["i5", "df"] == free_fit.loc["i5", "df"]


def test_layout_travels_through_json(anchored):
    cal, _ = anchored
    back = Calibration.from_json(cal.to_json())
    assert back.parameter_layout == cal.parameter_layout
    assert back.n_parameters == 12


def test_stated_layout_shares_tied_and_fixes_model_parameters():
    layout = ParameterLayout.stated(["a", "b", "c"], {"a": "1pl", "b": "1pl", "c": "rasch"}, [2, 2, 2])
    # one common 1PL slope, three intercepts, the Rasch slope fixed, no latent variance (1pl
    # items estimate their slope instead)
    assert layout.n_parameters == 4
    assert layout.status("a", "a1") == "shared"
    assert layout.status("c", "a1") == "fixed"
    assert list(layout.own(["a", "b", "c"])) == [1, 1, 1]
    rasch = ParameterLayout.stated(["a", "b"], {"a": "rasch", "b": "rasch"}, [2, 2])
    assert rasch.latent == [(2, "variance", "*")]
    assert ParameterLayout.from_dict(rasch.to_dict()) == rasch
