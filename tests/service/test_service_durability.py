"""An acknowledged response is never lost: SIGKILL the server mid-stream, restart, find every 201.

The server runs as a real process (``psychometrics serve``) on SQLite and on PostgreSQL; four
clients stream ``POST /v1/responses`` with unique idempotency keys; the process is killed with
SIGKILL while requests are in flight. After a restart every response that got a 201 is there
with its answers, and retrying the unacknowledged ones with their keys stores each only once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

httpx = pytest.importorskip("httpx")

from psychometrics.service.store import make_engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
#: Kill once this many responses were acknowledged (the stream goes on while it dies).
ACKNOWLEDGED_BEFORE_KILL = 30


class Server:
    """``psychometrics serve`` on a free loopback port, its output in files."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        self.stdout = folder / f"{name}.out"
        self.stderr = folder / f"{name}.err"
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "psychometrics", "serve", "--host", "127.0.0.1", "--port", "0",
                 "--database", url, "--rate-limit", "0", "--access-log"],  # the log is checked below
                stdout=out, stderr=err, cwd=folder, env=env)
        self.base = self._wait_for_port()

    def _wait_for_port(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            text = self.stderr.read_text(errors="replace")
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", text)
            if found:
                return f"http://127.0.0.1:{found.group(1)}"
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{text[-2000:]}")
            time.sleep(0.1)
        self.process.kill()
        raise AssertionError(f"the server did not start within {STARTUP_SECONDS} s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def _stream(base: str, key: str, bank: str, worker: int, acknowledged: dict, sent: dict, stop: threading.Event,
            lock: threading.Lock) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=10.0) as client:
        for n in range(2000):  # bounded; the kill ends it long before
            if stop.is_set():
                return
            idem = f"w{worker}-{n}"
            body = {"respondent": f"r-{idem}", "answers": {"tea_1": 1 + n % 5, "kno_2": n % 2}, "bank": bank}
            with lock:
                sent[idem] = body
            try:
                response = client.post("/v1/responses", json=body, headers={**headers, "Idempotency-Key": idem})
            except httpx.HTTPError:
                return  # the server is gone: this request was never acknowledged
            if response.status_code == 201:
                with lock:
                    acknowledged[idem] = response.json()["id"]
            else:
                raise AssertionError(f"unexpected {response.status_code}: {response.text}")


@pytest.mark.timeout(300)
def test_acknowledged_responses_survive_sigkill(store_url, make_keys, bank_document, tmp_path):
    keys = make_keys(store_url, "acme")
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    server = Server(store_url, tmp_path, "first")
    try:
        bank = httpx.post(f"{server.base}/v1/banks?name=team", json=bank_document, headers=headers, timeout=30)
        assert bank.status_code == 201, bank.text
        bank_id = bank.json()["id"]
        acknowledged: dict[str, str] = {}
        sent: dict[str, dict] = {}
        lock, stop = threading.Lock(), threading.Event()
        workers = [threading.Thread(target=_stream, args=(server.base, keys["acme"], bank_id, w, acknowledged, sent,
                                                          stop, lock), daemon=True) for w in range(4)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # mid-stream: requests are in flight
        for worker in workers:
            worker.join(timeout=30)
        stop.set()
        assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    finally:
        server.stop()
    first_output = server.output()

    server = Server(store_url, tmp_path, "second")
    try:
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
            for idem, response_id in acknowledged.items():
                stored = client.get(f"/v1/responses/{response_id}")
                assert stored.status_code == 200, (idem, stored.text)
                assert stored.json()["answers"] == sent[idem]["answers"]
                assert set(stored.json()["scales"]) == {"teamwork", "leadership", "knowledge"}
            # retrying every request sent (acknowledged or not) with its key stores it once
            for idem, body in sent.items():
                retry = client.post("/v1/responses", json=body, headers={"Idempotency-Key": idem})
                assert retry.status_code == 201, retry.text
                if idem in acknowledged:
                    assert retry.json()["id"] == acknowledged[idem]
    finally:
        server.stop()
    engine = make_engine(store_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM responses")).scalar() == len(sent)
        assert connection.execute(sa.text("SELECT count(DISTINCT idempotency_key) FROM responses")).scalar() == len(sent)
    engine.dispose()
    # keys and answers never reach the logs
    for output in (first_output, server.output()):
        assert keys["acme"] not in output and keys["acme"].split("_", 2)[2] not in output
        assert "tea_1" not in output and "Bearer" not in output
