"""Workflows degrade, they do not abort (issue 9, part 7): a two-item scale, an empty item and
a constant item are findings or messages in analyze, validate, factor and calibrate, which go
on with the rest; every command leaves the empty item out the same way, and messages give the
file column, not the position inside the scale."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from psychometrics import reliability
from psychometrics.errors import ResponseError
from psychometrics.instrument import Instrument

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.cli import app  # noqa: E402

runner = CliRunner()
READ = ["--exclude", "gender,education,age"]
ITEMS = ["A1", "A2", "A3", "A4", "C1", "C2", "E1", "E2", "E3"]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A survey export: file columns 0 respondent_id, 1-4 A1..A4 (A3 empty), 5-6 C1, C2 (scale
    C has two items), 7-9 E1..E3 (everybody answered E3 with 4), 10-12 demographics."""
    folder = tmp_path_factory.mktemp("degrade")
    rng = np.random.default_rng(17)
    n = 250
    frame = pd.DataFrame({"respondent_id": [f"r{i:03d}" for i in range(n)]})
    for trait, count in (("A", 4), ("C", 2), ("E", 3)):
        theta = rng.standard_normal(n)
        for k in range(1, count + 1):
            frame[f"{trait}{k}"] = np.clip(np.round(3.5 + 1.3 * (0.8 * theta + 0.6 * rng.standard_normal(n))), 1, 6)
    frame["A3"] = np.nan
    frame["E3"] = 4
    frame["gender"] = rng.integers(1, 3, n)
    frame["education"] = rng.integers(1, 6, n)
    frame["age"] = rng.integers(18, 70, n)
    path = folder / "export.csv"
    frame.to_csv(path, index=False)
    document = {"id": "survey", "version": "1.0", "title": "Survey", "id_column": "respondent_id",
                "formats": {"six": {"type": "likert",
                                    "options": [{"code": c, "label": str(c)} for c in range(1, 7)]}},
                "scales": [{"id": t, "name": t} for t in "ACE"],
                "items": [{"id": i, "text": f"Item {i}", "scale": i[0], "response": "six"} for i in ITEMS]}
    instrument = folder / "survey.json"
    instrument.write_text(json.dumps(document))
    return path, instrument


def _one_line(result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", ["analyze", "validate", "factor", "calibrate"])
def test_every_command_goes_on_and_leaves_the_empty_item_out(export, command, tmp_path):
    path, instrument = export
    extra = ["-o", str(tmp_path / "bank.json")] if command == "calibrate" else []
    result = runner.invoke(app, [command, str(path), "-i", str(instrument), *READ, *extra])
    text = _one_line(result)
    # 0: fine, 1: findings to review; 2 would be an error that stopped the command
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "error:" not in result.output
    left_out = {
        "analyze": ["item(s) 'A3' (column 3: fewer than 2 responses) left out of its reliability",
                    "item(s) 'E3' (column 9: no variance) left out of its reliability"],
        "validate": ["item A3 (column 3): no responses; left out of the analyses",
                     "item E3 (column 9): no variance (all 250 answers are 4); left out of the analyses"],
        "factor": ["item A3 (column 3): no responses; left out of the analyses",
                   "item E3 (column 9): no variance (all 250 answers are 4); left out of the analyses"],
        "calibrate": ["item(s) A3 have no responses; left out of the calibration",
                      "item(s) E3 (column 9, every answer 4) have no variance; left out of the calibration"],
    }[command]
    for message in left_out:
        assert message in text, (message, result.output)
    assert "(column 2)" not in text   # E3's and A3's positions inside their scales
    assert "E3 (column 2" not in text and "A3 (column 2" not in text
    if command == "calibrate":
        bank = json.loads((tmp_path / "bank.json").read_text())
        assert "A3" not in bank["scales"]["A"]["items"] and "E3" not in bank["scales"]["E"]["items"]
        assert bank["scales"]["C"]["items"] == ["C1", "C2"]


def test_analyze_reports_the_two_item_scale_and_goes_on(export):
    from psychometrics.workflows.analysis import analyze_instrument

    path, instrument_path = export
    instrument = Instrument.load(instrument_path)
    responses = instrument.prepare(path, exclude=["gender", "education", "age"], warn=False)
    analysis = analyze_instrument(instrument, responses)
    scales = analysis.scales
    assert list(scales.index) == ["A", "C", "E"]
    # the two-item scale C: alpha and split half exist, lambda 6 is a message and NaN
    assert scales.loc["C", "n_items"] == 2 and np.isfinite(scales.loc["C", "alpha"])
    assert np.isnan(scales.loc["C", "lambda6"])
    assert ("scale 'C': Guttman's lambda 6 not computed: guttman needs at least 3 items, got 2 (['C1', 'C2'])"
            in analysis.messages)
    # A and E are judged on their usable items; the empty and constant items stay in the item table
    assert scales.loc["A", "n_items"] == 3 and scales.loc["E", "n_items"] == 2
    assert {"A3", "E3"} <= set(analysis.items.index)
    assert np.isnan(analysis.items.loc["A3", "mean"]) and analysis.items.loc["E3", "mean"] == pytest.approx(4.0)
    assert np.isfinite(scales[["alpha", "sem"]].to_numpy()).all()


def test_factor_structure_leaves_unusable_items_out_with_findings(export):
    from psychometrics.validation import factor_structure

    path, instrument_path = export
    instrument = Instrument.load(instrument_path)
    responses = instrument.prepare(path, exclude=["gender", "education", "age"], warn=False)
    structure = factor_structure(responses, instrument.scale_items(), n_replications=2)
    messages = [f.message for f in structure.findings if f.statistic == "variance"]
    assert messages == ["item A3 (column 3): no responses; left out of the analyses",
                        "item E3 (column 9): no variance (all 250 answers are 4); left out of the analyses"]
    assert not [f for f in structure.findings if "failed" in f.message]
    assert structure.efa is not None and structure.cfa is not None
    assert set(structure.efa.loadings.index) == set(ITEMS) - {"A3", "E3"}


def test_reliability_names_the_file_column(export):
    path, instrument_path = export
    instrument = Instrument.load(instrument_path)
    responses = instrument.prepare(path, exclude=["gender", "education", "age"], warn=False)
    scale_e = responses.subset(["E1", "E2", "E3"])
    with pytest.raises(ResponseError, match=re.escape(
            "alpha: item 'E3' (column 9) has no variance (every respondent gave the same answer); drop it first")):
        reliability.alpha(scale_e)
    with pytest.raises(ResponseError, match=re.escape("alpha: item 'A3' (column 3) has fewer than 2 responses")):
        reliability.alpha(responses.subset(["A1", "A2", "A3"]))
