"""Adaptive-test steps through the HTTP service: latency per ``POST /v1/cat/{session}/answers``.

A uvicorn server in this process on a free loopback port (SQLite store in a temp folder, WAL,
synchronous=FULL: every step is committed before it is answered), one sequential client
(``http.client``, keep-alive, cheap): examinees simulated from N(0, 1) answer a 300-item 2PL
bank (one scale) until SE <= 0.3 or 30 items. Bounded in count (``--sessions``) and time
(``--seconds``). Reports p50/p90/p99/max of the step latency seen by the client, the server's
share of it (time inside the handler's step: load + select + write + commit), the server's CPU
per step (the process's CPU minus the client thread's: independent of other load on the
machine), and one line PASS/FAIL against the issue's target (p99 per step under 20 ms).

    PYTHONPATH=$PWD python benchmarks/cat_service.py --sessions 30 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def commit_times(folder: Path, count: int = 100) -> list[float]:
    """Seconds per committed one-row update of a SQLite file as the store opens it: what every
    step pays to the disk, whatever the server does."""
    import sqlite3

    connection = sqlite3.connect(folder / "fsync.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    connection.execute("INSERT OR REPLACE INTO t VALUES (1, '')")
    times = []
    for n in range(count):
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE t SET v = ? WHERE k = 1", ("x" * 2000 + str(n),))
        connection.execute("COMMIT")
        times.append(time.perf_counter() - start)
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--selection", default="mfi")
    parser.add_argument("--database", default=None, help="store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()

    import uvicorn
    from sqlalchemy.orm import Session

    from psychometrics.bank import ItemBank
    from psychometrics.irt import Calibration
    from psychometrics.service import Settings, app as app_module, cat_sessions, create_app
    from psychometrics.service.keys import create_key
    from psychometrics.service.store import make_engine, upgrade

    rng = np.random.default_rng(1)
    items = [f"i{j:03d}" for j in range(args.items)]
    a, b = rng.uniform(0.8, 2.2, args.items), rng.normal(0, 1, args.items)
    bank = ItemBank(scales={"skill": Calibration.from_item_params(pd.DataFrame({"a": a, "b": b}, index=items), "2pl")})
    position = {item: j for j, item in enumerate(items)}

    folder = Path(tempfile.mkdtemp(prefix="cat-bench-"))
    url = args.database or f"sqlite:///{folder / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as db:
        key = create_key(db, "bench").key
        db.commit()
    engine.dispose()

    # time inside the handler's step (load + select + write), to separate it from HTTP and the client
    server_times: list[float] = []
    original = cat_sessions.step

    def timed_step(*a, **k):
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            server_times.append(time.perf_counter() - start)

    import psychometrics.service.routers.cat as cat_router
    cat_router.step = timed_step
    app_module.quiet_scoring_warnings()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(database_url=url, rate_limit=0)), host="127.0.0.1",
                                          port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    latencies: list[float] = []
    lengths: list[int] = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deadline = time.monotonic() + args.seconds
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(path: str, body: object) -> tuple[int, dict]:
        connection.request("POST", path, body=json.dumps(body), headers=headers)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())

    status, created = post("/v1/banks?name=bench", json.loads(bank.to_json()))
    assert status == 201, created
    bank_id = created["id"]
    # warm up: the key check (scrypt), the bank, the kernels, one whole test
    status, state = post(f"/v1/banks/{bank_id}/cat", {"selection": args.selection, "stop": {"max_items": 3}})
    while not state["done"]:
        status, state = post(f"/v1/cat/{state['session']}/answers", {"item": state["item"], "response": 1})
    server_times.clear()
    process_cpu, client_cpu, times = time.process_time(), time.thread_time(), os.times()
    for n in range(args.sessions):
        if time.monotonic() > deadline:
            break
        theta = rng.standard_normal()
        status, state = post(f"/v1/banks/{bank_id}/cat", {"selection": args.selection,
                                                         "stop": {"se": 0.3, "max_items": 30}, "seed": n})
        assert status == 201, state
        while not state["done"] and time.monotonic() < deadline:
            j = position[state["item"]]
            response = int(rng.random() < 1 / (1 + np.exp(-a[j] * (theta - b[j]))))
            start = time.perf_counter()
            status, state = post(f"/v1/cat/{state['session']}/answers", {"item": state["item"], "response": response})
            latencies.append(time.perf_counter() - start)
            assert status == 200, state
        lengths.append(state["n_items"])
    client_cpu = time.thread_time() - client_cpu
    server_cpu = time.process_time() - process_cpu - client_cpu
    times = [after - before for after, before in zip(os.times(), times)]
    connection.close()
    server.should_exit = True
    thread.join(10)

    def summary(values: list[float]) -> str:
        ms = np.asarray(values) * 1000
        return (f"p50 {np.percentile(ms, 50):6.1f} ms  p90 {np.percentile(ms, 90):6.1f} ms  "
                f"p99 {np.percentile(ms, 99):6.1f} ms  max {ms.max():6.1f} ms")

    print(f"bank: {args.items} items (2PL), selection={args.selection}, store={url.split(':')[0]}; "
          f"{len(lengths)} sessions, {len(latencies)} steps, mean length {np.mean(lengths):.1f}")
    print(f"step, client-side (HTTP round trip): {summary(latencies)}")
    print(f"step, server handler (load+select+write+commit): {summary(server_times)}")
    steps = len(latencies) + len(lengths)  # answers plus the session starts
    print(f"CPU per request: server {server_cpu / steps * 1000:.2f} ms, client {client_cpu / steps * 1000:.2f} ms "
          f"({steps} requests; the whole process: user {times[0] / steps * 1000:.2f} ms, system (kernel: "
          f"sockets, fsync) {times[1] / steps * 1000:.2f} ms per request)")
    if url.startswith("sqlite"):
        print(f"storage floor, one durable SQLite commit (WAL, synchronous=FULL) in the same folder: "
              f"{summary(commit_times(folder))}")
    p99 = float(np.percentile(np.asarray(latencies) * 1000, 99))
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "unknown"
    print(f"{'PASS' if p99 < 20.0 else 'FAIL'}  adaptive-test step p99 < 20 ms (issue 15, part 8): "
          f"p50 {np.percentile(np.asarray(latencies) * 1000, 50):.1f} ms, p99 {p99:.1f} ms over {len(latencies)} steps; "
          f"server CPU {server_cpu / steps * 1000:.2f} ms/request; load average {load}")


if __name__ == "__main__":
    main()
