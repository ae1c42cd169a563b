"""EFA and item fit without degrees of freedom warn and give NaN with the reason (issue 9, part 11)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.errors import ModelWarning
from psychometrics.factor import efa
from psychometrics.fit import item_fit
from psychometrics.fit.item import s_x2


def test_efa_with_no_degrees_of_freedom_warns_and_leaves_fit_undefined():
    rng = np.random.default_rng(11)
    n = 400
    f = rng.normal(size=(n, 2))
    frame = pd.DataFrame({f"x{j}": 0.7 * f[:, j % 2] + 0.7 * rng.normal(size=n) for j in range(4)})
    # 2 factors of 4 variables: df = 6 - 8 + 1 = -1
    with pytest.warns(ModelWarning, match=re.escape(
            "2 factor(s) of 4 variables leave -1 degrees of freedom: the model is saturated or not identified, "
            "so chi2, p, TLI and RMSEA are undefined (NaN); extract fewer factors")):
        result = efa(frame, 2)
    assert result.df == -1
    for name in ("chi2", "p", "tli", "rmsea"):
        assert np.isnan(getattr(result, name)), name
    # the loadings are still estimated: only the fit test is undefined
    assert np.isfinite(result.loadings.to_numpy()).all()


def test_efa_with_degrees_of_freedom_does_not_warn():
    rng = np.random.default_rng(12)
    n = 400
    f = rng.normal(size=n)
    frame = pd.DataFrame({f"x{j}": 0.7 * f + 0.7 * rng.normal(size=n) for j in range(6)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        result = efa(frame, 1)
    assert result.df == 9 and np.isfinite(result.chi2) and np.isfinite(result.p)


def test_item_fit_with_no_degrees_of_freedom_warns_and_gives_nan():
    rng = np.random.default_rng(13)
    n = 1000
    theta = rng.normal(size=n)
    b = np.array([-0.5, 0.0, 0.5])
    data = pd.DataFrame((rng.random((n, 3)) < 1 / (1 + np.exp(-1.2 * (theta[:, None] - b)))).astype(int),
                        columns=["i1", "i2", "i3"])
    cal = irt.calibrate(data, model="2pl")
    # three items: two rest-score groups per item, minus two parameters of a 2PL item = 0 df
    with pytest.warns(ModelWarning, match=re.escape(
            "S-X2 of item(s) i1, i2, i3 has no degrees of freedom left after the item's parameters (too few score "
            "groups): s_x2 and p are NaN")):
        table = s_x2(cal, data)
    assert table["s_x2"].isna().all() and table["p"].isna().all()
    assert (table["df"] <= 0).all()

    # the item_fit verb says the same, once, and keeps the statistics that have a reference
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = item_fit(cal, data)
    assert [(w.category, str(w.message)) for w in caught] == [(ModelWarning, (
        "S-X2 of item(s) i1, i2, i3 has no degrees of freedom left after the item's parameters (too few score "
        "groups): s_x2 and p are NaN"))]
    assert fit["s_x2"].isna().all() and fit["p"].isna().all() and (fit["df"] == 0).all()
    assert np.isfinite(fit[["infit", "outfit", "rmsd"]].to_numpy()).all()
