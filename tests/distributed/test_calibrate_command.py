"""``psychometrics calibrate "data/*.parquet"`` on Dask: local scheduler and --scheduler."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics import irt  # noqa: E402
from psychometrics.bank import read_bank  # noqa: E402
from psychometrics.cli import app  # noqa: E402

runner = CliRunner()


def test_glob_of_parquet_files(responses, parquet_files, tmp_path):
    bank_path = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(bank_path), "--json"])
    assert result.exit_code == 0, result.output
    calibration = read_bank(bank_path).scales["all"]
    expected = irt.calibrate(responses, "graded")
    np.testing.assert_allclose(calibration.slope_intercept.to_numpy(float),
                               expected.slope_intercept.to_numpy(float), rtol=0, atol=1e-6)


def test_scheduler_address(client, cluster, responses, parquet_files, tmp_path):
    bank_path = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(bank_path), "--scheduler",
                                 cluster.scheduler_address, "--model", "graded", "--quiet"])
    assert result.exit_code == 0, result.output
    expected = irt.calibrate(responses, "graded")
    np.testing.assert_allclose(read_bank(bank_path).scales["all"].slope_intercept.to_numpy(float),
                               expected.slope_intercept.to_numpy(float), rtol=0, atol=1e-6)


def test_errors(parquet_files, tmp_path):
    result = runner.invoke(app, ["calibrate", str(tmp_path / "none-*.parquet"), "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and "no file matches" in result.output
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(tmp_path / "b.json"), "--instrument", "x"])
    assert result.exit_code == 2 and "--instrument" in result.output


def test_local_workers(responses, parquet_files, tmp_path):
    """--workers N starts a LocalCluster of N worker processes for the calibration, then closes it."""
    bank_path = tmp_path / "bank.json"
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(bank_path), "--workers", "1",
                                 "--model", "graded", "--quiet"])
    assert result.exit_code == 0, result.output
    expected = irt.calibrate(responses, "graded")
    np.testing.assert_allclose(read_bank(bank_path).scales["all"].slope_intercept.to_numpy(float),
                               expected.slope_intercept.to_numpy(float), rtol=0, atol=1e-6)
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(bank_path), "--workers", "0"])
    assert result.exit_code == 2 and "workers must be a positive integer" in result.output
    result = runner.invoke(app, ["calibrate", parquet_files, "-o", str(bank_path), "--workers", "1",
                                 "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "not both" in result.output
