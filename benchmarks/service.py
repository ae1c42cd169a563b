"""Scoring service under load, on loopback only: latency, batch throughput, durable writes.

    python benchmarks/service.py                                  # SQLite store in a temp folder
    python benchmarks/service.py --postgres postgresql+psycopg://user@127.0.0.1:5432/db
    python benchmarks/service.py --seconds 10 --write-seconds 5   # a shorter run

The bank is the bundled soft-skills-7 instrument calibrated on its bundled sample (7 graded
scales, 49 items, reverse-keyed items). A ``psychometrics serve`` process (no rate limit) runs on 127.0.0.1 at a free port; the load comes from this process (asyncio +
httpx) on the same machine, so client and server share its cores.

``--workers`` server processes (default 2, one per core of the development machine).

1. Single-respondent scoring: ``--clients`` concurrent clients send ``--rate`` requests per
   second in total (open loop: each request leaves at its scheduled time, or as soon as its
   client is free) for ``--seconds``; each answers all 49 items. Prints p50/p90/p99/max latency
   measured from the scheduled time (so a server that falls behind shows it) and the rate reached.
2. Batch scoring: ``--batch-calls`` calls of 1,000 respondents each (two at a time); respondents/s.
3. The single-respondent run again at ``--probe-rate`` (default 10/s): latency when the server
   is not saturated.
4. Writes: ``POST /v1/responses`` with the bank (scored, then committed durably: SQLite WAL with
   synchronous=FULL, or PostgreSQL), then without a bank (the commit alone), from ``--clients``
   clients for ``--write-seconds`` each; writes/s and latency.

After each run the server's CPU time per unit of work is printed (from /proc): what the server
would need on dedicated cores, whatever else the machine is doing.

Every loop is bounded in count and time. Timings on a shared machine are noisy: say so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def build_bank() -> tuple[str, list[str], np.ndarray]:
    """The bank's JSON, its items, and the sample's raw answers (to send)."""
    from psychometrics import irt
    from psychometrics.bank import ItemBank
    from psychometrics.data import read_table
    from psychometrics.instrument import Instrument, bundled_sample

    instrument = Instrument.bundled("soft-skills-7")
    frame = read_table(bundled_sample("soft-skills-7"))
    prepared = instrument.prepare(frame, warn=False)
    calibrations = {scale: irt.calibrate(prepared.subset(items), "graded")
                    for scale, items in instrument.scale_items().items()}
    bank = ItemBank(scales=calibrations, instrument_id=instrument.id, instrument_version=str(instrument.version),
                    instrument_title=instrument.title)
    items = instrument.item_ids
    rng = np.random.default_rng(20261203)
    answers = rng.integers(1, 6, size=(5000, len(items)))
    return bank.to_json(), items, answers


class Server:
    def __init__(self, url: str, folder: Path, workers: int) -> None:
        self.log = folder / "server.err"
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "psychometrics", "serve", "--host", "127.0.0.1", "--port", "0",
                 "--database", url, "--rate-limit", "0", "--workers", str(workers)],
                stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", self.log.read_text(errors="replace"))
            if found:
                self.base = f"http://127.0.0.1:{found.group(1)}"
                if self._healthy():
                    return
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.stop()
        raise SystemExit("server did not start within 120 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server and its worker processes so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.process.pid or ppid == self.process.pid:
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def _healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "no successful requests"
    ms = np.asarray(latencies) * 1000.0
    return (f"p50 {np.percentile(ms, 50):.1f} ms, p90 {np.percentile(ms, 90):.1f} ms, "
            f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms")


def cpu_per_request(server: Server, before: float, count: int, unit: str) -> None:
    """Server CPU per unit of work: what the server would need on dedicated cores, whatever else runs."""
    if count:
        used = server.cpu_seconds() - before
        per = used / count
        print(f"  server CPU {per * 1000:.2f} ms per {unit} ({used:.1f} s in all): on 2 dedicated cores at most "
              f"~{2.0 / per:,.0f} {unit}s/s")


def answer_dict(items: list[str], row: np.ndarray) -> dict[str, int]:
    return {item: int(code) for item, code in zip(items, row)}


async def single_scoring(base: str, headers: dict, bank: str, items: list[str], answers: np.ndarray,
                         rate: float, seconds: float, clients: int) -> int:
    import httpx

    n_requests = int(rate * seconds)
    interval = 1.0 / rate
    latencies: list[float] = []
    errors = skipped = 0
    start = time.perf_counter() + 0.5
    give_up = start + 3 * seconds  # a server that cannot keep up does not make this run forever

    async def client(worker: int) -> None:
        nonlocal errors, skipped
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0) as http:
            for n in range(worker, n_requests, clients):
                if time.perf_counter() > give_up:
                    skipped += 1
                    continue
                scheduled = start + n * interval
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = {"responses": [{"respondent": f"r{n}", "answers": answer_dict(items, answers[n % len(answers)])}]}
                response = await http.post(f"/v1/banks/{bank}/score", json=body)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - scheduled)
                else:
                    errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(w) for w in range(clients)))
    elapsed = time.perf_counter() - began - 0.5
    print(f"single-respondent scoring, {clients} clients, target {rate:g} req/s for {seconds:g} s: "
          f"{len(latencies)} ok, {errors} errors, {skipped} not sent (behind schedule), "
          f"{len(latencies) / elapsed:.0f} req/s reached")
    print(f"  latency from scheduled send: {percentiles(latencies)}")
    return len(latencies)


async def batch_scoring(base: str, headers: dict, bank: str, items: list[str], answers: np.ndarray,
                        calls: int) -> int:
    import httpx

    bodies = []
    for c in range(min(calls, 4)):
        rows = [(c * 1000 + i) % len(answers) for i in range(1000)]
        bodies.append({"responses": [{"respondent": f"b{c}-{i}", "answers": answer_dict(items, answers[r])}
                                     for i, r in enumerate(rows)]})
    times: list[float] = []

    async def worker(offset: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120.0) as http:
            for c in range(offset, calls, 2):
                began = time.perf_counter()
                response = await http.post(f"/v1/banks/{bank}/score", json=bodies[c % len(bodies)])
                response.raise_for_status()
                times.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(worker(0), worker(1))
    elapsed = time.perf_counter() - began
    print(f"batch scoring, {calls} calls of 1,000 respondents (2 at a time): {calls * 1000 / elapsed:,.0f} "
          f"respondents/s; per call median {statistics.median(times) * 1000:.0f} ms")
    return calls * 1000


async def writes(base: str, headers: dict, bank: str | None, items: list[str], answers: np.ndarray,
                 seconds: float, clients: int, label: str) -> int:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0) as http:
            for n in range(100_000):
                if time.perf_counter() >= stop:
                    return
                body = {"respondent": f"w{worker}-{n}",
                        "answers": answer_dict(items, answers[(worker * 997 + n) % len(answers)])}
                if bank is not None:
                    body["bank"] = bank
                began = time.perf_counter()
                response = await http.post("/v1/responses", json=body,
                                           headers={"Idempotency-Key": f"{label}-{worker}-{n}-{began}"})
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(w) for w in range(clients)))
    elapsed = time.perf_counter() - began
    what = "scored with the bank" if bank is not None else "answers only (no bank)"
    print(f"durable writes ({label}), POST /v1/responses {what}, {clients} clients, {seconds:g} s: "
          f"{len(latencies) / elapsed:.0f} writes/s, {errors} errors")
    print(f"  latency: {percentiles(latencies)}")
    return len(latencies)


def run_against(url: str, label: str, args: argparse.Namespace, bank_json: str, items: list[str],
                answers: np.ndarray, folder: Path, full: bool) -> None:
    import httpx
    from sqlalchemy.orm import Session

    from psychometrics.service.keys import create_key
    from psychometrics.service.store import make_engine, upgrade

    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        key = create_key(session, f"benchmark-{time.time_ns()}").key
        session.commit()
    engine.dispose()
    server = Server(url, folder, args.workers)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{server.base}/v1/banks?name=soft-skills-7", content=bank_json,
                             headers={**headers, "Content-Type": "application/json"}, timeout=60)
        created.raise_for_status()
        bank = created.json()["id"]
        # warm up every worker: the first call verifies the key (scrypt), loads the bank, compiles kernels
        for _ in range(20 * args.workers):
            body = {"responses": [{"respondent": "warm", "answers": answer_dict(items, answers[0])}]}
            httpx.post(f"{server.base}/v1/banks/{bank}/score", json=body, headers=headers, timeout=60).raise_for_status()
        if full:
            cpu = server.cpu_seconds()
            done = asyncio.run(single_scoring(server.base, headers, bank, items, answers, args.rate, args.seconds,
                                              args.clients))
            cpu_per_request(server, cpu, done, "request")
            cpu = server.cpu_seconds()
            done = asyncio.run(batch_scoring(server.base, headers, bank, items, answers, args.batch_calls))
            cpu_per_request(server, cpu, done, "respondent")
            cpu = server.cpu_seconds()
            done = asyncio.run(single_scoring(server.base, headers, bank, items, answers, args.probe_rate,
                                              args.probe_seconds, args.clients))
            cpu_per_request(server, cpu, done, "request")
        for scored in (bank, None):
            cpu = server.cpu_seconds()
            done = asyncio.run(writes(server.base, headers, scored, items, answers, args.write_seconds, args.clients,
                                      label))
            cpu_per_request(server, cpu, done, "write")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="single-respondent requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of the single-respondent run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server processes (psychometrics serve --workers)")
    parser.add_argument("--batch-calls", type=int, default=20, help="calls of 1,000 respondents")
    parser.add_argument("--write-seconds", type=float, default=8.0, help="duration of each write run")
    parser.add_argument("--probe-rate", type=float, default=10.0,
                        help="a second, light single-respondent run: latency without queueing")
    parser.add_argument("--probe-seconds", type=float, default=10.0, help="duration of the light run")
    parser.add_argument("--postgres", default=os.environ.get("PSYCHOMETRICS_TEST_POSTGRES_URL"),
                        help="also measure writes on this PostgreSQL database")
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.seconds > 600 or args.clients < 1 or args.batch_calls < 1:
        parser.error("rate, seconds (at most 600), clients and batch-calls must be positive")

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.workers} server worker(s); "
          "client and server on this machine")
    t = time.perf_counter()
    bank_json, items, answers = build_bank()
    print(f"bank: soft-skills-7, 7 graded scales, {len(items)} items (calibrated in {time.perf_counter() - t:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="psychometrics-service-bench-") as folder:
        run_against(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", args, bank_json, items, answers,
                    Path(folder), full=True)
        if args.postgres:
            run_against(args.postgres, "PostgreSQL", args, bank_json, items, answers, Path(folder), full=False)


if __name__ == "__main__":
    main()
