"""Adaptive-test steps through the HTTP service: latency per ``POST /v1/cat/{session}/answers``.

A uvicorn server in this process on a free loopback port (SQLite store in a temp folder, WAL,
synchronous=FULL), one sequential client (httpx, keep-alive): examinees simulated from N(0, 1)
answer a 300-item 2PL bank (one scale) until SE <= 0.3 or 30 items. Bounded in count
(``--sessions``) and time (``--seconds``). Reports p50/p90/p99/max of the step latency seen by
the client, and the server's share of it (time inside the handler's step: load + select + write).

    PYTHONPATH=$PWD python benchmarks/cat_service.py --sessions 30 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--selection", default="mfi")
    parser.add_argument("--database", default=None, help="store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()

    import httpx
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
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + args.seconds
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        bank_id = client.post("/v1/banks?name=bench", json=json.loads(bank.to_json())).json()["id"]
        for n in range(args.sessions):
            if time.monotonic() > deadline:
                break
            theta = rng.standard_normal()
            state = client.post(f"/v1/banks/{bank_id}/cat",
                                json={"selection": args.selection, "stop": {"se": 0.3, "max_items": 30},
                                      "seed": n}).json()
            while not state["done"] and time.monotonic() < deadline:
                j = position[state["item"]]
                response = int(rng.random() < 1 / (1 + np.exp(-a[j] * (theta - b[j]))))
                start = time.perf_counter()
                reply = client.post(f"/v1/cat/{state['session']}/answers", json={"item": state["item"],
                                                                                  "response": response})
                latencies.append(time.perf_counter() - start)
                reply.raise_for_status()
                state = reply.json()
            lengths.append(state["n_items"])
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


if __name__ == "__main__":
    main()
