"""Instrument authoring from a file, and keying applied once."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from messy import BIG_FIVE_ITEMS, big_five_frame

from psychometrics.authoring import draft_instrument
from psychometrics.errors import DataWarning
from psychometrics.instrument import Instrument, bundled_sample


def test_draft_from_a_big_five_file_is_accepted_as_written(tmp_path):
    frame = big_five_frame(200)
    frame.insert(0, "respondent_id", [f"p{k}" for k in range(200)])
    path = tmp_path / "bfi.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(DataWarning, match=r"column\(s\) gender, education, age do not look like items and are "
                                         r"drafted as data columns"):
        draft = draft_instrument(path, instrument_id="bfi")
    assert draft.id_column == "respondent_id"
    assert list(draft.scale_items()) == ["A", "C", "E", "N", "O"]
    assert draft.scale_items()["A"] == ["A1", "A2", "A3"]
    assert [c.name for c in draft.data_columns] == ["gender", "education", "age"]
    assert draft.item("A1").text == "TODO: wording of item A1"
    saved = tmp_path / "draft.yaml"
    draft.save(saved)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = Instrument.load(saved).prepare(path)
    assert prepared.item_ids == BIG_FIVE_ITEMS and prepared.categories["A1"] == (1, 2, 3, 4, 5, 6)


def test_instrument_init_command(tmp_path):
    pytest.importorskip("typer")
    from typer.testing import CliRunner

    from psychometrics.cli import app

    rng = np.random.default_rng(0)
    theta = rng.standard_normal(120)
    frame = pd.DataFrame({f"team_{j:02d}": np.clip(np.round(3 + theta + rng.standard_normal(120)), 1, 5)
                          .astype(int) for j in range(1, 5)})
    path = tmp_path / "x.csv"
    frame.to_csv(path)  # with the pandas index
    out = tmp_path / "draft.json"
    result = CliRunner().invoke(app, ["instrument", "init", str(path), "-o", str(out), "--id", "team"])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["id_column"] == "Unnamed: 0" and [s["id"] for s in document["scales"]] == ["scale"]
    validate = CliRunner().invoke(app, ["validate", str(path), "-i", str(out), "--json"])
    assert validate.exit_code in (0, 1), validate.output


def test_score_of_prepared_frame_does_not_reverse_twice():
    instrument = Instrument.bundled("soft-skills-7")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = instrument.prepare(bundled_sample("soft-skills-7"))
        twice = instrument.score(prepared.frame)
        once = instrument.score(bundled_sample("soft-skills-7"))
    assert prepared.keyed == "soft-skills-7"
    pd.testing.assert_frame_equal(twice, once)


def test_miskeyed_item_is_warned_after_keying(tmp_path):
    instrument = Instrument.bundled("soft-skills-7")
    frame = pd.read_csv(bundled_sample("soft-skills-7"), comment="#")
    item = next(i.id for i in instrument.items if i.keying == "+")
    codes = frame[item]
    # answered on a reversed scale, keyed as if it were not (missing codes stay as they are)
    frame[item] = codes.where(~codes.between(1, 5), 6 - codes)
    with pytest.warns(DataWarning, match=rf"correlate negatively with the rest of their scale after keying, "
                                         rf"possibly miskeyed: '{item}'"):
        instrument.prepare(frame)
