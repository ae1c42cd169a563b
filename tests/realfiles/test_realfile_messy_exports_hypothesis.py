"""Generated messy exports: either a ResponseError that says where, or numbers that are all right."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psychometrics.data import load_responses
from psychometrics.errors import DataWarning, ResponseError

WHERE = re.compile(r"line \d+|column \d+|item '|sep=|encoding=|id_column=|exclude=")


@st.composite
def exports(draw):
    n = draw(st.integers(3, 25))
    n_items = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 6, (n, n_items)).astype(float)
    blanks = rng.random((n, n_items)) < draw(st.sampled_from([0.0, 0.1, 0.4]))
    codes[blanks] = np.nan
    frame = pd.DataFrame(codes, columns=[f"q{j + 1}" for j in range(n_items)])
    id_name = draw(st.sampled_from([None, "respondent_id", "RespondentID", "subject"]))
    if id_name:
        frame.insert(0, id_name, [f"{k:03d}" for k in range(n)])
    mess = draw(st.lists(st.sampled_from(["minus9", "typo", "text", "age", "date", "trailing", "semicolon",
                                          "latin1", "index"]), max_size=3, unique=True))
    truth = frame.copy()
    if "minus9" in mess:
        frame.iloc[0, -1] = -9
    if "typo" in mess:
        frame.iloc[n // 2, -1] = 1000
    if "text" in mess:
        frame["comment"] = [f"said {k} things" for k in range(n)]
    if "age" in mess:
        frame["age"] = rng.integers(18, 70, n)
    if "date" in mess:
        frame["start"] = [f"2026-01-{k % 28 + 1:02d}" for k in range(n)]
    sep = ";" if "semicolon" in mess else ","
    text = frame.to_csv(index="index" in mess, sep=sep, na_rep="")
    if "trailing" in mess:
        lines = text.splitlines()
        text = "\n".join([lines[0]] + [line + sep for line in lines[1:]]) + "\n"
    encoding = "latin-1" if "latin1" in mess else "utf-8"
    if "latin1" in mess:
        text = text.replace("q1", "q\u00e91", 1)
    return text.encode(encoding), truth, mess


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports())
def test_messy_export_is_refused_with_a_place_or_read_exactly(tmp_path_factory, export):
    raw, truth, mess = export
    path = tmp_path_factory.mktemp("export") / "export.csv"
    path.write_bytes(raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            responses = load_responses(path)
    except ResponseError as exc:
        assert WHERE.search(str(exc)), str(exc)
        return
    # read: no mess that changes numbers may have gone through silently
    assert not {"minus9", "typo", "trailing", "semicolon", "latin1", "text", "date", "age"} & set(mess), mess
    values = responses.values
    assert np.isnan(values).sum() + np.isfinite(values).sum() == values.size
    for item in responses.item_ids:
        expected = truth[item].to_numpy(dtype=float)
        np.testing.assert_array_equal(responses.frame[item].to_numpy(), expected)
    for codes in responses.categories.values():
        assert len(codes) <= 20
