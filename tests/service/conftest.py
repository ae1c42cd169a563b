"""Fixtures of the scoring service's tests: item banks, stores (SQLite and PostgreSQL), clients, keys.

PostgreSQL: set ``PSYCHOMETRICS_TEST_POSTGRES_URL`` (``postgresql+psycopg://user@127.0.0.1:port/db``);
each test gets a fresh database created next to that one. Without the variable the PostgreSQL
cases skip, unless ``CI=true`` or ``PSYCHOMETRICS_REQUIRE_POSTGRES=1``: then they fail.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the 'service' extra is not installed")

from psychometrics.bank import ItemBank  # noqa: E402
from psychometrics.irt import Calibration  # noqa: E402

POSTGRES_ENV = "PSYCHOMETRICS_TEST_POSTGRES_URL"


def postgres_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PSYCHOMETRICS_REQUIRE_POSTGRES") == "1"


def graded_scale(rng: np.random.Generator, items: list[str], codes=(1, 2, 3, 4, 5)) -> Calibration:
    k = len(codes)
    a = rng.uniform(0.8, 2.2, len(items))
    b = np.sort(rng.normal(0.0, 1.0, (len(items), k - 1)), axis=1)
    params = pd.DataFrame({"a": a, **{f"b{j + 1}": b[:, j] for j in range(k - 1)}}, index=items)
    return Calibration.from_item_params(params, "graded", categories=list(codes))


def plain_bank(seed: int = 7) -> dict:
    """Two graded scales (codes 1-5) and a 2PL scale (codes 0/1), without an instrument."""
    rng = np.random.default_rng(seed)
    scales = {"teamwork": graded_scale(rng, [f"tea_{j}" for j in range(1, 5)]),
              "leadership": graded_scale(rng, [f"lea_{j}" for j in range(1, 5)])}
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.0, 5), "b": rng.normal(0.0, 1.0, 5)},
                          index=[f"kno_{j}" for j in range(1, 6)])
    scales["knowledge"] = Calibration.from_item_params(params, "2pl", categories=[0, 1])
    return json.loads(ItemBank(scales=scales).to_json())


def soft_skills_bank(seed: int = 11) -> dict:
    """A bank on the bundled soft-skills-7 instrument (7 scales x 7 items, reverse-keyed items)."""
    from psychometrics.instrument import Instrument

    instrument = Instrument.bundled("soft-skills-7")
    rng = np.random.default_rng(seed)
    scales = {scale: graded_scale(rng, items) for scale, items in instrument.scale_items().items()}
    bank = ItemBank(scales=scales, instrument_id=instrument.id, instrument_version=str(instrument.version),
                    instrument_title=instrument.title)
    return json.loads(bank.to_json())


@pytest.fixture(scope="session")
def bank_document() -> dict:
    return plain_bank()


@pytest.fixture(scope="session")
def soft_skills_document() -> dict:
    return soft_skills_bank()


def _fresh_postgres_database() -> Iterator[str]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"PostgreSQL is not available: set {POSTGRES_ENV} (see .ci/postgres.sh)"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    import sqlalchemy as sa

    from psychometrics.service.store import normalize_url

    base = sa.engine.make_url(normalize_url(url))
    name = f"psychometrics_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base.render_as_string(hide_password=True)} is not reachable: {exc}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_database()


def create_keys(url: str, *tenants: str) -> dict[str, str]:
    """Migrate the store and create one key per tenant (tenant -> key)."""
    from sqlalchemy.orm import Session

    from psychometrics.service.keys import create_key
    from psychometrics.service.store import make_engine, upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            keys = {tenant: create_key(session, tenant).key for tenant in tenants}
            session.commit()
    finally:
        engine.dispose()
    return keys


@dataclass
class Service:
    client: object  # fastapi.testclient.TestClient
    keys: dict[str, str]
    url: str

    def headers(self, tenant: str = "acme", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}", **extra}


@pytest.fixture
def service(store_url: str) -> Iterator[Service]:
    """A test client on a fresh store with keys for tenants 'acme' and 'globex' (no rate limit)."""
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app

    keys = create_keys(store_url, "acme", "globex")
    app = create_app(Settings(database_url=store_url, rate_limit=0))
    with TestClient(app) as client:
        yield Service(client=client, keys=keys, url=store_url)


@pytest.fixture(scope="session")
def make_keys():
    """``make_keys(url, *tenants)``: migrate a store and create one key per tenant."""
    return create_keys
