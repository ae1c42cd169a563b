"""The front door on real-looking files: reading options, JSON errors, Ctrl-C, output paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.cli import app  # noqa: E402

runner = CliRunner()
READ = ["--exclude", "gender,education,age"]


def _one_line(result) -> str:
    return " ".join(result.output.split())


def test_calibrate_big_five_without_options_fails_with_one_clear_line(big_five_csv, tmp_path):
    result = runner.invoke(app, ["calibrate", str(big_five_csv), "-o", str(tmp_path / "bank.json")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "MemoryError" not in result.output
    assert result.output.count("error:") == 1
    assert "3 column(s) do not look like items: 'gender' (column 16" in _one_line(result)
    assert "--exclude gender,education,age" in _one_line(result)
    assert not (tmp_path / "bank.json").exists()


def test_calibrate_and_score_big_five_with_exclude(big_five_csv, tmp_path):
    bank = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(big_five_csv), "-o", str(bank), "--json", *READ])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["scales"]["all"]["n_items"] == 15 and payload["scales"]["all"]["n_persons"] == 300
    scores = tmp_path / "scores.csv"
    # the bank names the items, so score reads the demographics as data without --exclude
    by_bank = tmp_path / "scores-by-bank.csv"
    bare = runner.invoke(app, ["score", str(big_five_csv), "--bank", str(bank), "-o", str(by_bank)])
    assert bare.exit_code == 0, bare.output
    result = runner.invoke(app, ["score", str(big_five_csv), "--bank", str(bank), "-o", str(scores), *READ])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(scores, dtype={"Unnamed: 0": str})
    assert table.columns[0] == "Unnamed: 0"
    assert {"all_theta", "all_se", "all_T", "all_percentile", "all_n_answered", "all_flag"} <= set(table.columns)
    assert np.isfinite(table["all_theta"]).all() and len(table) == 300
    pd.testing.assert_series_equal(pd.read_csv(by_bank)["all_theta"], table["all_theta"])


def test_validate_big_five_with_instrument_and_exclude(big_five_csv, big_five_instrument):
    bare = runner.invoke(app, ["validate", str(big_five_csv), "-i", str(big_five_instrument)])
    assert bare.exit_code == 2
    assert "column(s) are not items of instrument 'bfi-15'" in _one_line(bare)
    assert "--exclude" in _one_line(bare)
    result = runner.invoke(app, ["validate", str(big_five_csv), "-i", str(big_five_instrument), "--json",
                                 "--id-column", "Unnamed: 0", *READ])
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    assert payload["data"]["n_persons"] == 300 and payload["data"]["n_items"] == 15


def test_blank_scale_gets_nan_and_flag_in_csv_and_json(tmp_path):
    rng = np.random.default_rng(2)
    theta = rng.standard_normal(200)
    frame = pd.DataFrame({f"q{j}": np.clip(np.round(3 + theta + 0.8 * rng.standard_normal(200)), 1, 5).astype(int)
                          for j in range(1, 6)})
    frame.insert(0, "respondent_id", [f"r{k:03d}" for k in range(200)])
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    bank = tmp_path / "bank.json"
    calibrated = runner.invoke(app, ["calibrate", str(path), "-o", str(bank)])
    assert calibrated.exit_code == 0, calibrated.output
    frame = frame.astype({f"q{j}": float for j in range(1, 6)})
    frame.loc[0, ["q1", "q2", "q3", "q4", "q5"]] = np.nan          # skipped the whole scale
    frame.loc[1, ["q2", "q3", "q4", "q5"]] = np.nan                # one answer
    frame.loc[2, ["q1", "q2", "q3", "q4", "q5"]] = [5, 5, 5, 5, 5]  # all highest
    frame.head(5).to_csv(path, index=False)
    result = runner.invoke(app, ["score", str(path), "--bank", str(bank), "--min-answered", "2", "--method", "ml"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(__import__("io").StringIO(result.stdout), keep_default_na=False, na_values=[""])
    assert table["all_flag"].tolist()[:3] == ["no_responses", "too_few_answers", "all_highest"]
    assert table.loc[:1, ["all_theta", "all_se", "all_T", "all_percentile"]].isna().all().all()
    assert table.loc[2, "all_theta"] == np.inf
    as_json = runner.invoke(app, ["score", str(path), "--bank", str(bank), "--method", "ml", "--json"])
    records = json.loads(as_json.stdout)
    assert records[0]["all_theta"] is None and records[0]["all_flag"] == "no_responses"
    assert records[2]["all_theta"] == "inf" and records[2]["all_flag"] == "all_highest"


def test_json_errors_are_json(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("respondent_id;q1;q2\nr1;1;2\n")
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "b.json"), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ResponseError" and "pass sep=';'" in error["message"]


def test_ctrl_c_prints_interrupted_exits_130_and_leaves_no_file(tmp_path, monkeypatch):
    from psychometrics.irt import estimation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(estimation, "_calibrate", interrupted)
    rng = np.random.default_rng(0)
    path = tmp_path / "x.csv"
    pd.DataFrame({f"q{j}": rng.integers(1, 5, 50) for j in range(3)}).to_csv(path, index=False)
    bank = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(bank)])
    assert result.exit_code == 130
    assert "interrupted" in result.output and "SystemError" not in result.output
    assert list(tmp_path.iterdir()) == [path]


def test_output_path_is_checked_before_computing(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("q1,q2\n1,2\n2,1\n")
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "no" / "such" / "bank.json")])
    assert result.exit_code == 2
    assert f"cannot write item bank '{tmp_path / 'no' / 'such' / 'bank.json'}': folder" in _one_line(result)
    assert "does not exist" in _one_line(result)


def test_missing_instrument_file_and_bad_tol(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("q1,q2\n1,2\n2,1\n")
    result = runner.invoke(app, ["validate", str(path), "-i", "missing.yaml"])
    assert result.exit_code == 2 and "instrument file 'missing.yaml' does not exist" in _one_line(result)
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "b.json"), "--tol", "-1"])
    assert result.exit_code == 2 and "--tol must be a positive number, got -1" in _one_line(result)


def test_every_reading_command_takes_the_reading_options():
    for command in ("analyze", "validate", "calibrate", "score", "factor"):
        help_text = runner.invoke(app, [command, "--help"]).output
        for option in ("--id-column", "--items", "--exclude", "--missing-codes", "--sep", "--encoding"):
            assert option in help_text, (command, option)


def test_an_empty_item_is_left_out_of_calibration_with_a_warning(tmp_path):
    rng = np.random.default_rng(8)
    theta = rng.standard_normal(300)
    frame = pd.DataFrame({f"q{j}": np.clip(np.round(3 + theta + 0.8 * rng.standard_normal(300)), 1, 5)
                          for j in range(1, 5)})
    frame["q5"] = np.nan
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    bank = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(bank)])
    assert result.exit_code == 0, result.output
    assert "item(s) q5 have no responses; left out of the calibration" in _one_line(result)
    assert json.loads(bank.read_text())["scales"]["all"]["items"] == ["q1", "q2", "q3", "q4"]
