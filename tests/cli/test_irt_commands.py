"""``psychometrics calibrate`` and ``score``: the item bank round trip equals the API."""

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics import irt  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.cli._irt import EMProgress  # noqa: E402
from psychometrics.bank import read_bank  # noqa: E402
from psychometrics.data import load_responses  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402
from psychometrics.simulate import simulate  # noqa: E402

runner = CliRunner()
SCALES = ["teamwork", "leadership"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """300 persons x 5 four-category graded items (codes 1-4), 5% missing, seeded."""
    params = pd.DataFrame({"a": [1.2, 0.8, 1.5, 1.0, 2.0], "b1": [-1.5, -1.0, -2.0, -0.5, -1.0],
                           "b2": [0.0, 0.2, -0.5, 0.5, 0.0], "b3": [1.2, 1.5, 1.0, 2.0, 0.8]},
                          index=[f"q{i}" for i in range(1, 6)])
    data = simulate(params, 300, model="graded", seed=20261126, missing=0.05,
                    categories={item: (1, 2, 3, 4) for item in params.index})
    data.index.name = "respondent_id"
    folder = tmp_path_factory.mktemp("simulated")
    path = folder / "responses.csv"
    data.to_csv(path)
    return path, data


@pytest.fixture(scope="module")
def soft_skills_bank(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bank")
    bank = folder / "bank.json"
    args = ["calibrate", str(bundled_sample("soft-skills-7")), "--instrument", "soft-skills-7", "-o", str(bank)]
    for scale in SCALES:
        args += ["--scale", scale]
    result = runner.invoke(app, args)
    return result, bank


def test_calibrate_without_instrument_equals_api(simulated, tmp_path):
    path, data = simulated
    bank_path = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(path), "--model", "graded", "-o", str(bank_path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["bank"] == str(bank_path.resolve()) and payload["instrument"] is None
    bank = read_bank(bank_path)
    assert list(bank.scales) == ["all"] and bank.instrument_id is None
    expected = irt.calibrate(load_responses(path), "graded")
    got = bank.scales["all"]
    pd.testing.assert_frame_equal(got.item_params, expected.item_params, rtol=0, atol=1e-12)
    assert got.loglik == pytest.approx(expected.loglik, abs=1e-9)
    assert payload["scales"]["all"]["loglik"] == pytest.approx(expected.loglik, abs=1e-9)
    assert payload["scales"]["all"]["converged"] is True

    scores_path = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(path), "--bank", str(bank_path), "-o", str(scores_path)])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(scores_path, index_col=0)
    api = irt.score(expected, load_responses(path), method="eap")
    np.testing.assert_allclose(scores["all_theta"], api["theta"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["all_se"], api["se"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["all_T"], 50 + 10 * api["theta"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(scores["all_percentile"], 100 * norm.cdf(api["theta"]), rtol=0, atol=1e-10)
    assert (scores["all_n_answered"] == api["n_answered"]).all()
    assert list(scores.index) == list(data.index)


def test_calibrate_and_score_with_instrument_equal_api(soft_skills_bank, tmp_path):
    result, bank_path = soft_skills_bank
    assert result.exit_code == 0, result.output
    assert "Calibration per scale" in result.output
    bank = read_bank(bank_path)
    assert bank.instrument_id == "soft-skills-7" and list(bank.scales) == SCALES
    instrument = Instrument.bundled("soft-skills-7")
    prepared = instrument.prepare(bundled_sample("soft-skills-7"), warn=False)
    items = instrument.scale_items()

    out = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(bundled_sample("soft-skills-7")), "--bank", str(bank_path),
                                 "--instrument", "soft-skills-7", "--method", "map", "-o", str(out)])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out, index_col=0)
    assert scores.index.name == "respondent_id"
    for scale in SCALES:
        calibration = irt.calibrate(prepared.subset(items[scale]), "graded")
        pd.testing.assert_frame_equal(bank.scales[scale].item_params, calibration.item_params, rtol=0,
                                      atol=1e-12)
        api = irt.score(calibration, prepared.subset(items[scale]), method="map")
        np.testing.assert_allclose(scores[f"{scale}_theta"], api["theta"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(scores[f"{scale}_se"], api["se"], rtol=0, atol=1e-10)
    # classical scale scores and norms of the instrument, under names that cannot clash
    classical = instrument.score(prepared)
    np.testing.assert_allclose(scores["teamwork_raw"], classical["teamwork"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["teamwork_norm_T"], classical["teamwork_T"], rtol=0, atol=1e-12)


def test_score_report(soft_skills_bank, tmp_path):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    _, bank_path = soft_skills_bank
    sample = pd.read_csv(bundled_sample("soft-skills-7"), comment="#").head(40)
    data = tmp_path / "team.csv"
    sample.to_csv(data, index=False)
    report = tmp_path / "scores.html"
    result = runner.invoke(app, ["score", str(data), "--bank", str(bank_path), "-i", "soft-skills-7",
                                 "-o", str(tmp_path / "scores.csv"), "--report", str(report),
                                 "--respondent", "r0003"])
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    assert "<svg" in page and "r0003" in page and "Teamwork" in page


def test_score_needs_the_instrument_of_the_bank(soft_skills_bank):
    _, bank_path = soft_skills_bank
    sample = str(bundled_sample("soft-skills-7"))
    result = runner.invoke(app, ["score", sample, "--bank", str(bank_path)])
    assert result.exit_code == 2
    assert "--instrument soft-skills-7" in " ".join(result.output.split())
    other = runner.invoke(app, ["score", sample, "--bank", str(bank_path), "-i", "sql-fundamentals"])
    assert other.exit_code == 2
    assert "'soft-skills-7', not 'sql-fundamentals'" in " ".join(other.output.split())


def test_score_json_and_stdout(simulated, tmp_path):
    path, data = simulated
    bank_path = tmp_path / "bank.json"
    assert runner.invoke(app, ["calibrate", str(path), "-o", str(bank_path), "--scale", "skill"]).exit_code == 0
    as_csv = runner.invoke(app, ["score", str(path), "--bank", str(bank_path)])
    assert as_csv.exit_code == 0
    assert as_csv.stdout.splitlines()[0] == ("respondent_id,skill_theta,skill_se,skill_T,skill_percentile,"
                                             "skill_n_answered,skill_flag")
    as_json = runner.invoke(app, ["score", str(path), "--bank", str(bank_path), "--json", "--method", "wle"])
    assert as_json.exit_code == 0
    records = json.loads(as_json.stdout)
    assert len(records) == len(data) and records[0]["respondent_id"] == data.index[0]
    bank = read_bank(bank_path)
    api = irt.score(bank.scales["skill"], load_responses(path), method="wle")
    got = np.array([r["skill_theta"] if r["skill_theta"] is not None else math.nan for r in records])
    finite = np.isfinite(api["theta"].to_numpy())
    np.testing.assert_allclose(got[finite], api["theta"].to_numpy()[finite], rtol=0, atol=1e-12)


def test_score_missing_items_and_bad_codes(simulated, tmp_path):
    path, data = simulated
    bank_path = tmp_path / "bank.json"
    assert runner.invoke(app, ["calibrate", str(path), "-o", str(bank_path)]).exit_code == 0
    # a data file lacking one item: scored on the others, with a warning naming it
    fewer = tmp_path / "fewer.csv"
    data.drop(columns=["q5"]).to_csv(fewer)
    result = runner.invoke(app, ["score", str(fewer), "--bank", str(bank_path), "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert "q5" in result.output and "warning" in result.output
    # a code the calibration never saw
    bad = data.copy()
    bad.iloc[4, 1] = 9
    bad_path = tmp_path / "bad.csv"
    bad.to_csv(bad_path)
    result = runner.invoke(app, ["score", str(bad_path), "--bank", str(bank_path)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "q2" in out and "9" in out and "Traceback" not in out
    # unknown method
    result = runner.invoke(app, ["score", str(path), "--bank", str(bank_path), "--method", "mle2"])
    assert result.exit_code == 2 and "mle2" in result.output


def test_calibrate_bad_input(simulated, tmp_path):
    path, _ = simulated
    out = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(out), "--model", "graded7"])
    assert result.exit_code == 2 and "graded7" in result.output
    result = runner.invoke(app, ["calibrate", str(bundled_sample("soft-skills-7")), "-i", "soft-skills-7",
                                 "--scale", "charisma", "-o", str(out)])
    assert result.exit_code == 2
    assert "no scale 'charisma'" in result.output and "teamwork" in result.output
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "missing" / "bank.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not out.exists()


def test_calibrate_not_converged_exits_1(simulated, tmp_path):
    path, _ = simulated
    out = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(out), "--max-iter", "2"])
    assert result.exit_code == 1, result.output
    assert "did not converge" in result.output
    assert read_bank(out).scales["all"].converged is False


def test_interrupted_write_leaves_old_bank_intact(simulated, tmp_path, monkeypatch):
    path, _ = simulated
    bank_path = tmp_path / "bank.json"
    assert runner.invoke(app, ["calibrate", str(path), "-o", str(bank_path)]).exit_code == 0
    before = bank_path.read_bytes()

    def power_cut(fd):
        raise OSError(5, "Input/output error")

    # the failure strikes after the new content went into the temporary file
    monkeypatch.setattr(os, "fsync", power_cut)
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(bank_path), "--scale", "other"])
    assert result.exit_code == 2
    assert "Input/output error" in result.output
    assert bank_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.json"]


def test_em_progress_fraction():
    class Bar:
        def __init__(self):
            self.calls = []

        def update(self, task, **fields):
            self.calls.append(fields)

    bar = Bar()
    progress = EMProgress(bar, 0, tol=1e-4)
    progress(1, -1000.0, 1e-1)
    progress(2, -990.0, 1e-2)
    progress(3, -989.0, 1e-4)
    fractions = [c["completed"] for c in bar.calls]
    assert fractions == pytest.approx([0.0, 1 / 3, 1.0])
    assert "iteration 2" in bar.calls[1]["detail"] and "-990.00" in bar.calls[1]["detail"]
    assert "1.00e-02" in bar.calls[1]["detail"]


def test_calibrate_passes_em_callback(simulated, tmp_path, monkeypatch):
    import functools

    path, _ = simulated
    seen = []
    real = irt.calibrate

    @functools.wraps(real)
    def spy(*args, **kwargs):
        callback = kwargs["callback"]

        def recording(iteration, loglik, max_change):
            seen.append((iteration, loglik, max_change))
            callback(iteration, loglik, max_change)

        kwargs["callback"] = recording
        return real(*args, **kwargs)

    monkeypatch.setattr(irt, "calibrate", spy)
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "bank.json")])
    assert result.exit_code == 0, result.output
    assert len(seen) >= 2 and seen[-1][2] < 1e-4
