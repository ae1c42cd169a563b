"""Checked API keys are trusted for ``key_cache_seconds``: a key revoked by another process (here:
straight in the store) is refused once that time is over; only the key's SHA-256 is held."""

from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa


def test_a_key_revoked_elsewhere_is_refused_after_the_cache_time(tmp_path, make_keys):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app
    from psychometrics.service.store import make_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    keys = make_keys(url, "acme")
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    app = create_app(Settings(database_url=url, rate_limit=0, key_cache_seconds=0.5))
    with TestClient(app) as client:
        assert client.get("/v1/banks", headers=headers).status_code == 200
        held = app.state.verified._seen
        assert list(held) == [hashlib.sha256(keys["acme"].encode()).hexdigest()]
        assert keys["acme"] not in repr(held) and keys["acme"].split("_", 2)[2] not in repr(held)
        engine = make_engine(url)
        with engine.begin() as connection:  # as `psychometrics keys revoke` in another process
            connection.execute(sa.text("UPDATE api_keys SET revoked = CURRENT_TIMESTAMP"))
        engine.dispose()
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = client.get("/v1/banks", headers=headers).status_code
            time.sleep(0.05)
        assert status == 401
        assert time.monotonic() < deadline
        assert not app.state.verified._seen  # forgotten, not only expired


def test_no_cache_time_reads_the_store_every_time(tmp_path, make_keys):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app
    from psychometrics.service.store import make_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    keys = make_keys(url, "acme")
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    with TestClient(create_app(Settings(database_url=url, rate_limit=0, key_cache_seconds=0))) as client:
        assert client.get("/v1/banks", headers=headers).status_code == 200
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE api_keys SET revoked = CURRENT_TIMESTAMP"))
        engine.dispose()
        assert client.get("/v1/banks", headers=headers).status_code == 401
