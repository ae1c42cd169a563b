"""``psychometrics validate``: exit codes on the bundled instruments and on bad files.

soft-skills-7 is validated in full by the demo test (tests/test_cli.py); set
PSYCHOMETRICS_SLOW_TESTS=1 to validate it here too.
"""

import json
import os

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

import psychometrics.validation as validation_module  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402

runner = CliRunner()
SLOW = os.environ.get("PSYCHOMETRICS_SLOW_TESTS") == "1"


def _sample(name: str) -> pd.DataFrame:
    return pd.read_csv(bundled_sample(name), comment="#", dtype=str, keep_default_na=False)


CASES = ["sjt-collaboration", "sql-fundamentals", "feedback-360"] + (["soft-skills-7"] if SLOW else [])


@pytest.mark.parametrize("name", CASES)
def test_validate_each_bundled_instrument(name):
    result = runner.invoke(app, ["validate", str(bundled_sample(name)), "--instrument", name, "--json"])
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    # exit code 1 exactly when a finding is a warning or a problem (notes are informational),
    # and the JSON says the same
    flagged = [f for f in payload["findings"] if f["severity"] in ("warning", "problem")]
    assert result.exit_code == (1 if flagged else 0) == payload["exit_code"]
    expected_scales = [s.id for s in Instrument.bundled(name).scales]
    assert list(payload["verdicts"]) == expected_scales
    assert all(v in ("ok", "review", "poor") for v in payload["verdicts"].values())
    # the bundled samples are simulated from well-behaved models: no scale is poor
    assert "poor" not in payload["verdicts"].values()


def test_validate_human_output_lists_verdicts_and_findings(tmp_path):
    # one item shuffled across respondents measures nothing: its item-total correlation is ~0
    frame = _sample("sjt-collaboration")
    frame["sjt_04"] = np.random.default_rng(7).permutation(frame["sjt_04"].to_numpy())
    path = tmp_path / "noisy.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path), "-i", "sjt-collaboration"])
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "Verdict per scale" in out and "finding(s):" in out
    assert "sjt_04" in out
    assert "Traceback" not in out


def _bad_file(tmp_path, *, out_of_range=False, duplicate=False, empty_column=False):
    frame = _sample("sjt-collaboration")
    if out_of_range:
        frame.loc[7, "sjt_03"] = "F"        # options are A-D
        frame.loc[12, "sjt_08"] = "Z"
    if duplicate:
        frame.loc[21, "respondent_id"] = frame.loc[20, "respondent_id"]
    if empty_column:
        frame["sjt_05"] = ""
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_codes_out_of_range_name_rows_and_items(tmp_path):
    result = runner.invoke(app, ["validate", _bad_file(tmp_path, out_of_range=True), "-i", "sjt-collaboration"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    out = " ".join(result.output.split())
    # data row 7 is line 9 of the file (header on line 1)
    assert "sjt_03" in out and "(line 9)" in out and "'F'" in out
    assert "sjt_08" in out and "(line 14)" in out


def test_out_of_range_likert_code(tmp_path):
    frame = _sample("soft-skills-7").head(60)
    frame.loc[3, "com_01"] = "7"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path), "-i", "soft-skills-7", "--json"])
    assert result.exit_code == 2
    # with --json the error is JSON on stdout too
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ResponseError" and error["exit_code"] == 2
    assert "(line 5)" in error["message"] and "com_01" in error["message"] and "value 7" in error["message"]


def test_duplicated_respondent_names_id_and_rows(tmp_path):
    result = runner.invoke(app, ["validate", _bad_file(tmp_path, duplicate=True), "-i", "sjt-collaboration"])
    assert result.exit_code == 2
    frame = _sample("sjt-collaboration")
    out = " ".join(result.output.split())
    assert "duplicate respondent" in out
    assert f"'{frame.loc[20, 'respondent_id']}'" in out and "lines 22, 23" in out


def test_empty_column_names_the_item(tmp_path):
    # An item nobody answered cannot be analysed: validate either stops with one error line
    # (exit 2) or, where the validation sets the item aside, reports it as a finding (exit 1).
    # Either way the item is named.
    result = runner.invoke(app, ["validate", _bad_file(tmp_path, empty_column=True), "-i", "sjt-collaboration",
                                 "--json"])
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stdout == ""
        assert "sjt_05" in result.output and result.output.count("error:") == 1
    else:
        payload = json.loads(result.stdout)
        assert "sjt_05" in " | ".join(f["message"] for f in payload["findings"])


def test_all_three_problems_fail_with_exit_code_2(tmp_path):
    path = _bad_file(tmp_path, out_of_range=True, duplicate=True, empty_column=True)
    result = runner.invoke(app, ["validate", path, "-i", "sjt-collaboration"])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1
    assert "Traceback" not in result.output


def test_group_column_is_passed_and_checked(tmp_path, monkeypatch):
    frame = _sample("sjt-collaboration")
    frame["site"] = np.where(np.arange(len(frame)) % 2 == 0, "north", "south")
    path = tmp_path / "grouped.csv"
    frame.to_csv(path, index=False)
    seen = {}
    real = validation_module.validate

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(validation_module, "validate", spy)
    result = runner.invoke(app, ["validate", str(path), "-i", "sjt-collaboration", "--group", "site", "--json"])
    assert result.exit_code in (0, 1), result.output
    assert seen["group"] == "site"
    assert json.loads(result.stdout)["group"] == "site"
    wrong = runner.invoke(app, ["validate", str(path), "-i", "sjt-collaboration", "--group", "nope"])
    assert wrong.exit_code == 2
    assert "group column 'nope' is not in the data" in " ".join(wrong.output.split())


def test_progress_callback_drives_the_bar(tmp_path, monkeypatch):
    steps = []

    def fake_validate(instrument, frame, *, progress=None, **kwargs):
        for name, fraction in [("checking data", 0.0), ("parallel analysis", 0.5), ("done", 1.0)]:
            progress(name, fraction)
            steps.append(name)
        raise validation_module.ResponseError("stop here")

    monkeypatch.setattr(validation_module, "validate", fake_validate)
    result = runner.invoke(app, ["validate", str(bundled_sample("sjt-collaboration")), "-i", "sjt-collaboration"])
    assert steps == ["checking data", "parallel analysis", "done"]
    assert result.exit_code == 2 and "stop here" in result.output


def test_validate_writes_report(tmp_path):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    report = tmp_path / "sjt.html"
    result = runner.invoke(app, ["validate", str(bundled_sample("sjt-collaboration")), "-i", "sjt-collaboration",
                                 "--report", str(report), "--quiet"])
    assert result.exit_code in (0, 1), result.output
    page = report.read_text(encoding="utf-8")
    assert "<svg" in page and "sjt_01" in page
    assert "Report written to" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sjt.html"]
