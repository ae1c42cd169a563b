"""``psychometrics db upgrade``, ``keys create|revoke`` and the sample client of ``examples/client.py``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.cli import app  # noqa: E402
from psychometrics.service.keys import hash_key, parse_key, verify_key  # noqa: E402
from psychometrics.service.store import head_revision, make_engine  # noqa: E402

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_key_hashes():
    stored = hash_key("pm_0123456789ab_secret")
    assert stored.startswith("scrypt$16384$8$1$") and "secret" not in stored
    assert verify_key("pm_0123456789ab_secret", stored)
    assert not verify_key("pm_0123456789ab_secreT", stored)
    assert not verify_key("pm_0123456789ab_secret", "garbage")
    assert parse_key("pm_0123456789ab_x_y") == "0123456789ab"
    assert parse_key("pm_0123456789AB_x") is None and parse_key("token") is None


def test_db_upgrade_and_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()}" in result.stdout
    assert runner.invoke(app, ["db", "upgrade", "--database", url]).exit_code == 0  # idempotent

    created = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--database", url])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    key_id = parse_key(key)
    assert key_id is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT key_id, hash, revoked FROM api_keys")).all()
    assert len(rows) == 1 and rows[0].key_id == key_id and rows[0].revoked is None
    assert key not in rows[0].hash and verify_key(key, rows[0].hash)  # only the hash is stored

    revoked = runner.invoke(app, ["keys", "revoke", key_id, "--database", url])
    assert revoked.exit_code == 0, revoked.output
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT revoked FROM api_keys")).scalar() is not None
    engine.dispose()
    missing = runner.invoke(app, ["keys", "revoke", "000000000000", "--database", url])
    assert missing.exit_code == 2 and "no API key" in missing.output
    bad = runner.invoke(app, ["db", "upgrade", "--database", "mysql://x"])
    assert bad.exit_code == 2 and "sqlite" in bad.output


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sample_client(service, soft_skills_document, tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("sample_client", ROOT / "examples" / "client.py")
    client_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client_module)
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps(soft_skills_document), encoding="utf-8")
    monkeypatch.setenv("PSYCHOMETRICS_API_KEY", service.keys["acme"])

    class Client:  # the test client in place of a connection to a running server
        def __init__(self, *, base_url, headers, timeout):
            service.client.headers.update(headers)

        def __enter__(self):
            return service.client

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(client_module.httpx, "Client", Client)
    client_module.main(str(bank))
    out = capsys.readouterr().out
    assert "bank soft-skills version 1" in out
    assert "r1 communication" in out and "stored" in out
    assert "1 stored scores on the first page" in out
