"""``validate --model mirt`` and ``score --model mirt``: the scales as one correlated-factors model."""

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
yaml = pytest.importorskip("yaml")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402

runner = CliRunner()
SCALES = ["communication", "teamwork"]


@pytest.fixture(scope="module")
def two_scales(tmp_path_factory):
    """soft-skills-7 cut to two scales, with ``analysis: {model: mirt}``, and its sample data."""
    folder = tmp_path_factory.mktemp("two")
    spec = Instrument.bundled("soft-skills-7").model_dump(mode="json", exclude_defaults=True)
    spec["id"] = "soft-two"
    spec["scales"] = [s for s in spec["scales"] if s["id"] in SCALES]
    spec["items"] = [i for i in spec["items"] if i["scale"] in SCALES]
    norms = spec.get("scoring", {}).get("norms", {})
    if norms:
        spec["scoring"]["norms"] = {k: v for k, v in norms.items() if k in SCALES}
    plain = folder / "plain.yaml"
    plain.write_text(yaml.safe_dump(spec, sort_keys=False))
    spec["analysis"] = {"model": "mirt"}
    mirt = folder / "mirt.yaml"
    mirt.write_text(yaml.safe_dump(spec, sort_keys=False))
    frame = pd.read_csv(bundled_sample("soft-skills-7"), comment="#", dtype=str, keep_default_na=False)
    keep = ["respondent_id"] + [i["id"] for i in spec["items"]]
    data = folder / "two.csv"
    frame[keep].to_csv(data, index=False)
    small = folder / "two-300.csv"
    frame[keep].iloc[:300].to_csv(small, index=False)
    return plain, mirt, data, small


def test_instrument_setting_fits_the_profile_model_into_json_and_report(two_scales, tmp_path):
    _, mirt, data, _ = two_scales
    assert Instrument.load(mirt).analysis.model == "mirt"
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["validate", str(data), "-i", str(mirt), "--json", "--report", str(report)])
    assert result.exit_code in (0, 1), result.output
    profile = json.loads(result.stdout)["profile"]
    assert profile["converged"] and profile["error"] == ""
    # the same value as the Python API's profile model (tests/workflows/test_profile.py)
    assert profile["factor_correlations"]["communication"]["teamwork"] == pytest.approx(0.47, abs=0.005)
    rows = {r["scale"]: r for r in profile["reliability"]}
    assert rows["communication"]["marginal_alone"] == pytest.approx(0.7841, abs=1e-4)
    assert all(r["marginal_profile"] > r["marginal_alone"] for r in rows.values())
    page = report.read_text(encoding="utf-8")
    # the heat map: an inline SVG with its title, and its numbers as a table
    start = page.index('id="fig-factor-correlations"')
    assert "<svg" in page[start:start + 5000]
    assert "Factor correlations heat map" in page
    assert "Scales as one correlated-factors model" in page
    assert "marginal rxx (model)" in page


def test_model_option_prints_correlations_and_reliability(two_scales):
    plain, _, _, small = two_scales
    assert Instrument.load(plain).analysis.model == "unidimensional"
    result = runner.invoke(app, ["validate", str(small), "-i", str(plain), "--model", "mirt"])
    assert result.exit_code in (0, 1), result.output
    out = " ".join(result.output.split())
    assert "Factor correlations" in out and "marginal rxx (MIRT)" in out
    # without the option nothing multidimensional is fitted
    plain_run = runner.invoke(app, ["validate", str(small), "-i", str(plain), "--json"])
    assert "profile" not in json.loads(plain_run.stdout)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    path = tmp_path_factory.mktemp("bank") / "bank.json"
    args = ["calibrate", str(bundled_sample("soft-skills-7")), "--instrument", "soft-skills-7", "-o", str(path)]
    for scale in SCALES:
        args += ["--scale", scale]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return path


def test_score_model_mirt_borrows_strength(bank, tmp_path):
    sample = str(bundled_sample("soft-skills-7"))
    alone_csv, profile_csv = tmp_path / "alone.csv", tmp_path / "profile.csv"
    alone = runner.invoke(app, ["score", sample, "-b", str(bank), "-i", "soft-skills-7", "-o", str(alone_csv)])
    assert alone.exit_code == 0, alone.output
    result = runner.invoke(app, ["score", sample, "-b", str(bank), "-i", "soft-skills-7", "--model", "mirt",
                                 "-o", str(profile_csv), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["model"] == "mirt"
    # correlations estimated with the bank's item parameters held fixed: close to the joint calibration's 0.47
    assert payload["factor_correlations"]["communication"]["teamwork"] == pytest.approx(0.47, abs=0.01)
    gains = {row["scale"]: row["se_gain"] for row in payload["se"]}
    assert all(0.015 < g < 0.05 for g in gains.values())
    one = pd.read_csv(alone_csv, index_col=0)
    both = pd.read_csv(profile_csv, index_col=0)
    assert list(both.columns) == list(one.columns)
    for scale in SCALES:
        assert (both[f"{scale}_se"] < one[f"{scale}_se"]).mean() > 0.95
        assert np.corrcoef(both[f"{scale}_theta"], one[f"{scale}_theta"])[0, 1] > 0.97
        np.testing.assert_allclose(both[f"{scale}_T"], 50 + 10 * both[f"{scale}_theta"])


def test_score_model_errors(bank):
    sample = str(bundled_sample("soft-skills-7"))
    wrong = runner.invoke(app, ["score", sample, "-b", str(bank), "-i", "soft-skills-7", "--model", "graded"])
    assert wrong.exit_code == 2 and "only scoring model" in " ".join(wrong.output.split())
    map_ = runner.invoke(app, ["score", sample, "-b", str(bank), "-i", "soft-skills-7", "--model", "mirt",
                               "--method", "map"])
    assert map_.exit_code == 2 and "EAP" in map_.output
