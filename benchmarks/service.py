"""Scoring service under load, on loopback only: latency, batch throughput, durable writes.

    python benchmarks/service.py                                  # SQLite store in a temp folder
    python benchmarks/service.py --postgres postgresql+psycopg://user@127.0.0.1:5432/db
    python benchmarks/service.py --seconds 10 --write-seconds 5   # a shorter run

The bank is the bundled soft-skills-7 instrument calibrated on its bundled sample (7 graded
scales, 49 items, reverse-keyed items). A ``psychometrics serve`` process (no rate limit, no
access log) runs on 127.0.0.1 at a free port; the load comes from this process on the same
machine, so client and server share its cores. The load generator is kept cheap so that the
benchmark measures the server: plain asyncio sockets speaking HTTP/1.1 with keep-alive, one
connection per client, request bodies encoded before the clock starts, replies read but not
decoded (one reply per run is decoded and checked). Its own CPU time is printed too.

``--workers`` server processes (default 2, one per core of the development machine).

1. Single-respondent scoring: ``--clients`` concurrent clients send ``--rate`` requests per
   second in total (open loop: each request leaves at its scheduled time, or as soon as its
   client is free) for ``--seconds``; each answers all 49 items. Prints p50/p90/p99/max latency
   measured from the scheduled time (so a server that falls behind shows it) and the rate reached.
2. Batch scoring: ``--batch-calls`` calls of 1,000 respondents each (``--batch-concurrency`` at a
   time); respondents/s.
3. With ``--probe-rate R``: the single-respondent run again at R requests/s (latency when the
   server is not saturated).
4. Writes: ``POST /v1/responses`` with the bank (scored, then committed durably: SQLite WAL with
   synchronous=FULL, or PostgreSQL), then without a bank (the commit alone), from ``--clients``
   clients for ``--write-seconds`` each; writes/s and latency.

After each run the server's CPU time per unit of work is printed (from /proc): what the server
would need on dedicated cores, whatever else the machine is doing; and how it fell on the
server's processes (one worker with all of it: the connections were not spread). The last lines say, one per
target of the issue, PASS or FAIL with the number measured.

Every loop is bounded in count and time. Timings on a shared machine are noisy: say so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
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
                self.port = int(found.group(1))
                self.base = f"http://127.0.0.1:{self.port}"
                if self._healthy():
                    return
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.stop()
        raise SystemExit("server did not start within 120 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server and its worker processes so far (Linux /proc)."""
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[int, float]:
        """CPU time (user + system) so far of the server process and of each of its workers."""
        ticks = os.sysconf("SC_CLK_TCK")
        seconds = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.process.pid or ppid == self.process.pid:
                seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return seconds

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


def answer_dict(items: list[str], row: np.ndarray) -> dict[str, int]:
    return {item: int(code) for item, code in zip(items, row)}


class Connection:
    """One keep-alive HTTP/1.1 connection: a request is a few bytes written and a reply read by
    its Content-Length (the server always sends one)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}{headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        reply = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, reply

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Run:
    """Latencies, errors and the CPU of both sides over one run."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.latencies: list[float] = []
        self.errors = 0
        self.skipped = 0
        self.units = 0
        self.by_process = server.cpu_by_process()
        self.server_cpu = sum(self.by_process.values())
        self.client_cpu = time.process_time()
        self.began = time.perf_counter()

    def finish(self) -> None:
        self.elapsed = time.perf_counter() - self.began
        now = self.server.cpu_by_process()
        self.by_process = {pid: now[pid] - self.by_process.get(pid, 0.0) for pid in now}
        self.server_cpu = sum(self.by_process.values())
        self.client_cpu = time.process_time() - self.client_cpu

    def percentile(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies) * 1000.0, q)) if self.latencies else math.inf

    def cpu(self, unit: str, count: int | None = None) -> str:
        count = count if count is not None else len(self.latencies)
        if not count:
            return "  no work done"
        server, client = self.server_cpu / count, self.client_cpu / count
        # how the work fell on the processes (the supervisor's share is about 0): one worker
        # with all of it means one core scored while the other idled
        shares = ", ".join(f"{seconds:.1f}" for seconds in sorted(self.by_process.values(), reverse=True)
                           if seconds >= 0.05) or "0"
        return (f"  CPU per {unit}: server {server * 1000:.2f} ms (all workers; {self.server_cpu:.1f} s in all, "
                f"by process {shares} s: ~{2.0 / server:,.0f} {unit}s/s on 2 dedicated cores), load generator "
                f"{client * 1000:.2f} ms")


async def single_scoring(server: "Server", headers: dict, bank: str, bodies: list[bytes], rate: float,
                         seconds: float, clients: int) -> Run:
    n_requests = int(rate * seconds)
    interval = 1.0 / rate
    run = Run(server)
    start = time.perf_counter() + 0.2
    give_up = start + 3 * seconds  # a server that cannot keep up does not make this run forever
    path = f"/v1/banks/{bank}/score"

    async def client(worker: int) -> None:
        connection = Connection("127.0.0.1", server.port, headers)
        try:
            for n in range(worker, n_requests, clients):
                if time.perf_counter() > give_up:
                    run.skipped += 1
                    continue
                scheduled = start + n * interval
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    status, _ = await connection.request("POST", path, bodies[n % len(bodies)])
                except (OSError, asyncio.IncompleteReadError):
                    run.errors += 1
                    continue
                if status == 200:
                    run.latencies.append(time.perf_counter() - scheduled)
                else:
                    run.errors += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(w) for w in range(clients)))
    run.finish()
    run.rate = len(run.latencies) / max(run.elapsed - 0.2, 1e-9)
    print(f"single-respondent scoring, {clients} clients, target {rate:g} req/s for {seconds:g} s: "
          f"{len(run.latencies)} ok, {run.errors} errors, {run.skipped} not sent (behind schedule), "
          f"{run.rate:.0f} req/s reached")
    print(f"  latency from the scheduled send: {percentiles(run.latencies)}")
    print(run.cpu("request"))
    return run


async def batch_scoring(server: "Server", headers: dict, bank: str, bodies: list[bytes], calls: int,
                        concurrency: int) -> Run:
    run = Run(server)
    path = f"/v1/banks/{bank}/score"

    async def worker(offset: int) -> None:
        connection = Connection("127.0.0.1", server.port, headers)
        try:
            for c in range(offset, calls, concurrency):
                began = time.perf_counter()
                status, reply = await connection.request("POST", path, bodies[c % len(bodies)])
                if status != 200:
                    raise SystemExit(f"batch call failed with {status}: {reply[:500]!r}")
                run.latencies.append(time.perf_counter() - began)
        finally:
            await connection.close()

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    run.finish()
    run.rate = calls * 1000 / run.elapsed
    print(f"batch scoring, {calls} calls of 1,000 respondents ({concurrency} at a time): {run.rate:,.0f} "
          f"respondents/s; per call p50 {run.percentile(50):.0f} ms, max {run.percentile(100):.0f} ms")
    print(run.cpu("respondent", calls * 1000))
    return run


async def writes(server: "Server", headers: dict, bank: str | None, items: list[str], answers: np.ndarray,
                 seconds: float, clients: int, label: str) -> Run:
    run = Run(server)
    stop = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        connection = Connection("127.0.0.1", server.port, headers)
        try:
            for n in range(100_000):
                if time.perf_counter() >= stop:
                    return
                body = {"respondent": f"w{worker}-{n}",
                        "answers": answer_dict(items, answers[(worker * 997 + n) % len(answers)])}
                if bank is not None:
                    body["bank"] = bank
                began = time.perf_counter()
                status, _ = await connection.request(
                    "POST", "/v1/responses", json_bytes(body),
                    f"Idempotency-Key: {label}-{bank is not None}-{worker}-{n}-{time.time_ns()}\r\n")
                if status == 201:
                    run.latencies.append(time.perf_counter() - began)
                else:
                    run.errors += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(w) for w in range(clients)))
    run.finish()
    run.rate = len(run.latencies) / run.elapsed
    what = "scored with the bank" if bank is not None else "answers only (no bank)"
    print(f"durable writes ({label}), POST /v1/responses {what}, {clients} clients, {seconds:g} s: "
          f"{run.rate:.0f} writes/s, {run.errors} errors")
    print(f"  latency: {percentiles(run.latencies)}")
    print(run.cpu("write"))
    return run


def run_against(url: str, label: str, args: argparse.Namespace, bank_json: str, items: list[str],
                answers: np.ndarray, folder: Path, full: bool, results: dict) -> None:
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
        singles = [json_bytes({"responses": [{"respondent": f"r{n}", "answers": answer_dict(items, row)}]})
                   for n, row in enumerate(answers[:2000])]
        batches = [json_bytes({"responses": [{"respondent": f"b{c}-{i}",
                                              "answers": answer_dict(items, answers[(c * 1000 + i) % len(answers)])}
                                             for i in range(1000)]}) for c in range(4)]
        # warm up every worker (the kernel spreads connections over them): the first call verifies
        # the key (scrypt), loads the bank and its scoring plan, compiles kernels; then check a reply
        for n in range(20 * args.workers):
            with httpx.Client(base_url=server.base, headers=headers, timeout=60) as http:
                http.post(f"/v1/banks/{bank}/score", content=singles[n], headers={"Content-Type": "application/json"}
                          ).raise_for_status()
                http.post(f"/v1/banks/{bank}/score", content=batches[0], headers={"Content-Type": "application/json"}
                          ).raise_for_status() if n < 2 * args.workers else None
        checked = httpx.post(f"{server.base}/v1/banks/{bank}/score", content=batches[1], timeout=60,
                             headers={**headers, "Content-Type": "application/json"}).json()
        assert len(checked["scores"]) == 1000 and len(checked["scores"][0]["scales"]) == 7, "unexpected reply"
        if full:
            results["single"] = asyncio.run(single_scoring(server, headers, bank, singles, args.rate, args.seconds,
                                                           args.clients))
            results["batch"] = asyncio.run(batch_scoring(server, headers, bank, batches, args.batch_calls,
                                                         args.batch_concurrency))
            if args.probe_rate > 0:
                results["probe"] = asyncio.run(single_scoring(server, headers, bank, singles, args.probe_rate,
                                                              args.probe_seconds, args.clients))
        for scored in (bank, None):
            results[f"writes {label} {'scored' if scored else 'plain'}"] = asyncio.run(
                writes(server, headers, scored, items, answers, args.write_seconds, args.clients, label))
    finally:
        server.stop()


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def verdicts(args: argparse.Namespace, results: dict) -> None:
    """One line per target of the issue: PASS or FAIL, with what was measured."""
    print("\n== targets (issue 14, part 8) ==")
    single = results.get("single")
    if single is not None:
        per = single.server_cpu / max(len(single.latencies), 1) * 1000
        ok = (single.percentile(99) < 20.0 and not single.errors and not single.skipped
              and single.rate >= 0.95 * args.rate)
        print(f"{'PASS' if ok else 'FAIL'}  single-respondent p99 < 20 ms at {args.rate:g} req/s for {args.seconds:g} s "
              f"from {args.clients} clients: p50 {single.percentile(50):.1f} ms, p99 {single.percentile(99):.1f} ms, "
              f"{single.rate:.0f} req/s reached, {single.errors} errors; server CPU {per:.2f} ms/request")
    batch = results.get("batch")
    if batch is not None:
        per = batch.server_cpu / (args.batch_calls * 1000) * 1e6
        print(f"{'PASS' if batch.rate > 50_000 else 'FAIL'}  batch scoring > 50,000 respondents/s in 1,000-respondent "
              f"calls: {batch.rate:,.0f} respondents/s; server CPU {per:.1f} us/respondent "
              f"(~{2e6 / per:,.0f}/s on 2 dedicated cores)")
    for name, run in results.items():
        if name.startswith("writes"):
            per = run.server_cpu / max(len(run.latencies), 1) * 1000
            print(f"REPORT  durable {name.removeprefix('writes ')} writes (POST /v1/responses, committed before "
                  f"201): {run.rate:.0f} writes/s, p50 {run.percentile(50):.1f} ms, p99 {run.percentile(99):.1f} ms, "
                  f"{run.errors} errors; server CPU {per:.2f} ms/write")
    print(f"load average (1, 5, 15 min) at the end: {load_average()}; {os.cpu_count()} cores shared by client, "
          "server and anything else running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="single-respondent requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of the single-respondent run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server processes (psychometrics serve --workers)")
    parser.add_argument("--batch-calls", type=int, default=60, help="calls of 1,000 respondents")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="batch calls in flight at once")
    parser.add_argument("--write-seconds", type=float, default=8.0, help="duration of each write run")
    parser.add_argument("--probe-rate", type=float, default=0.0,
                        help="a second, light single-respondent run (e.g. 10): latency without queueing")
    parser.add_argument("--probe-seconds", type=float, default=10.0, help="duration of the light run")
    parser.add_argument("--postgres", default=os.environ.get("PSYCHOMETRICS_TEST_POSTGRES_URL"),
                        help="also measure writes on this PostgreSQL database")
    args = parser.parse_args()
    if (args.rate <= 0 or args.seconds <= 0 or args.seconds > 600 or args.clients < 1 or args.batch_calls < 1
            or not 1 <= args.batch_concurrency <= 16 or args.write_seconds > 600):
        parser.error("rate, seconds (at most 600), clients, batch-calls and batch-concurrency (1-16) must be positive")

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.workers} server worker(s); "
          f"client and server on this machine; load average at the start {load_average()}")
    t = time.perf_counter()
    bank_json, items, answers = build_bank()
    print(f"bank: soft-skills-7, 7 graded scales, {len(items)} items (calibrated in {time.perf_counter() - t:.1f} s)")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="psychometrics-service-bench-") as folder:
        run_against(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", args, bank_json, items, answers,
                    Path(folder), True, results)
        if args.postgres:
            run_against(args.postgres, "PostgreSQL", args, bank_json, items, answers, Path(folder), False, results)
    verdicts(args, results)


if __name__ == "__main__":
    main()
