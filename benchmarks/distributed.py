"""Dask benchmark: calibration and scoring of graded responses in Parquet partitions.

Steps, each in a fresh process (and a fresh 2-worker ``LocalCluster`` of one thread per
worker) so that every peak memory figure is its own; peaks are the high-water marks of the
resident set size (``VmHWM``) of each worker process and of the client process.

    python benchmarks/distributed.py generate --persons 10000000 --folder /tmp/pm-1e7
    python benchmarks/distributed.py calibrate --folder /tmp/pm-1e7
    python benchmarks/distributed.py score --folder /tmp/pm-1e7       # the calibration, else true values
    python benchmarks/distributed.py overhead --persons 1000000       # Dask / in-memory wall time
    python benchmarks/distributed.py all --persons 10000000 --folder /tmp/pm-1e7 --cleanup

``generate`` writes N x 50 graded responses (5 categories, codes 0-4, int8, no missing, an
int64 ``respondent_id`` column) as Parquet files of 250,000 persons, drawn chunk by chunk so
that its memory stays near one chunk. ``calibrate`` prints every EM iteration on stderr. Timings on a shared machine are noisy; rerun
before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

# This file's name is the name of the Dask package it uses: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROWS_PER_FILE = 250_000


def _peak_mb() -> float:
    """High-water mark of this process's resident set size, MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _true_params(n_items: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, n_items)
    b = rng.uniform(-2.0, -0.8, (n_items, 1)) + np.cumsum(rng.uniform(0.4, 1.1, (n_items, 4)), axis=1) - 0.4
    return pd.DataFrame(np.column_stack([a, b]), index=[f"i{j + 1:03d}" for j in range(n_items)],
                        columns=["a", "b1", "b2", "b3", "b4"])


def generate(folder: Path, n_persons: int, n_items: int, seed: int) -> dict:
    """Graded responses drawn item by item: P(X >= k) = logistic(a (theta - b_k)), one uniform
    draw per response, the category the number of thresholds it falls under (int8 throughout,
    a few MB per 10^5 persons)."""
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    params = _true_params(n_items, seed)
    a = params["a"].to_numpy()
    b = params[["b1", "b2", "b3", "b4"]].to_numpy()
    rng = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    n_files = 0
    for first in range(0, n_persons, ROWS_PER_FILE):
        size = min(ROWS_PER_FILE, n_persons - first)
        theta = rng.standard_normal(size)
        columns = {"respondent_id": np.arange(first, first + size, dtype=np.int64)}
        for j, item in enumerate(params.index):
            above = 1.0 / (1.0 + np.exp(-a[j] * (theta[:, None] - b[j][None, :])))
            columns[item] = (rng.random((size, 1)) < above).sum(axis=1).astype(np.int8)
        pd.DataFrame(columns).to_parquet(folder / f"part-{n_files:05d}.parquet", index=False)
        n_files += 1
    return {"step": "generate", "persons": n_persons, "items": n_items, "files": n_files,
            "seconds": time.perf_counter() - start, "client_peak_mb": _peak_mb(),
            "bytes_on_disk": sum(p.stat().st_size for p in folder.glob("*.parquet"))}


def _worker_peaks(client) -> list[float]:
    return sorted(client.run(_peak_mb).values())


def _warm() -> None:
    """Import the package and load the compiled E-step in a worker (not part of the timings)."""
    import numpy as np

    from psychometrics import distributed  # noqa: F401
    from psychometrics.estep import estep

    estep(np.zeros((2, 1), dtype=np.int8), np.log(np.full((1, 3, 2), 0.5)), np.log(np.full(3, 1 / 3)))


def _cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    client.run(_warm)
    _warm()
    return cluster, client


def calibrate_step(folder: Path, bank: Path) -> dict:
    import dask.dataframe as dd

    from psychometrics import irt

    cluster, client = _cluster()
    try:
        data = dd.read_parquet(str(folder / "*.parquet"))
        start = time.perf_counter()

        def progress(iteration: int, loglik: float, change: float) -> None:
            # peaks so far, so that a run cut short still tells its memory
            peaks = ", ".join(f"{p:.0f}" for p in _worker_peaks(client))
            print(f"  EM iteration {iteration} at {time.perf_counter() - start:.1f} s, max change {change:.2e}; "
                  f"peak MB workers {peaks}, client {_peak_mb():.0f}", file=sys.stderr, flush=True)

        done = threading.Event()

        def monitor() -> None:
            # the first pass (checking and encoding every partition) runs before any EM iteration
            while not done.wait(60.0):
                peaks = ", ".join(f"{p:.0f}" for p in _worker_peaks(client))
                print(f"  {time.perf_counter() - start:.0f} s: peak MB workers {peaks}, client {_peak_mb():.0f}",
                      file=sys.stderr, flush=True)

        threading.Thread(target=monitor, daemon=True).start()
        try:
            calibration = irt.calibrate(data, "graded", callback=progress)
        finally:
            done.set()
        seconds = time.perf_counter() - start
        peaks = _worker_peaks(client)
    finally:
        client.close()
        cluster.close()
    bank.write_text(calibration.to_json())
    return {"step": "calibrate (dask, 2 workers)", "persons": calibration.n_persons,
            "items": calibration.n_items, "partitions": data.npartitions, "seconds": seconds,
            "iterations": calibration.n_iter, "converged": calibration.converged,
            "worker_peak_mb": peaks, "client_peak_mb": _peak_mb()}


def score_step(folder: Path, bank: Path, out: Path, n_items: int, seed: int) -> dict:
    import dask.dataframe as dd

    from psychometrics import irt
    from psychometrics.irt import Calibration

    if bank.exists():
        calibration = Calibration.from_json(bank.read_text())
    else:   # scoring speed does not depend on where the parameters came from
        calibration = Calibration.from_item_params(_true_params(n_items, seed), "graded")
    cluster, client = _cluster()
    try:
        data = dd.read_parquet(str(folder / "*.parquet"))
        start = time.perf_counter()
        irt.score(calibration, data, method="eap").to_parquet(out)
        seconds = time.perf_counter() - start
        peaks = _worker_peaks(client)
    finally:
        client.close()
        cluster.close()
    n_rows = int(dd.read_parquet(str(out)).shape[0].compute())
    return {"step": "score EAP to Parquet (dask, 2 workers)", "persons": n_rows, "seconds": seconds,
            "persons_per_second": n_rows / seconds, "worker_peak_mb": peaks, "client_peak_mb": _peak_mb()}


def in_memory_step(folder: Path) -> dict:
    import pandas as pd

    from psychometrics import irt

    start = time.perf_counter()
    frame = pd.read_parquet(folder).set_index("respondent_id")
    read = time.perf_counter() - start
    calibration = irt.calibrate(frame, "graded")
    seconds = time.perf_counter() - start
    return {"step": "calibrate (in memory)", "persons": calibration.n_persons, "seconds": seconds,
            "read_seconds": read, "iterations": calibration.n_iter, "client_peak_mb": _peak_mb()}


def _subprocess(*args: str) -> dict:
    """Run one step in a fresh interpreter; its last stdout line is the JSON result."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, __file__, *args, "--inline"], check=True, stdout=subprocess.PIPE,
                          text=True, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["generate", "calibrate", "score", "in-memory", "overhead", "all"])
    parser.add_argument("--persons", type=int, default=10_000_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--folder", type=Path, default=None, help="Parquet folder (default /tmp/pm-dask-<N>)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--cleanup", action="store_true", help="delete the generated data at the end")
    parser.add_argument("--inline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.folder or Path(f"/tmp/pm-dask-{args.persons}")
    data, bank, scores = folder / "responses", folder / "calibration.json", folder / "scores"

    if args.inline:
        if args.step == "generate":
            result = generate(data, args.persons, args.items, args.seed)
        elif args.step == "calibrate":
            result = calibrate_step(data, bank)
        elif args.step == "score":
            result = score_step(data, bank, scores, args.items, args.seed)
        else:
            result = in_memory_step(data)
        print(json.dumps(result))
        return

    common = ["--persons", str(args.persons), "--items", str(args.items), "--folder", str(folder),
              "--seed", str(args.seed)]
    try:
        if args.step in ("generate", "all", "overhead") and not data.exists():
            _subprocess("generate", *common)
        if args.step == "overhead":
            dask_run = _subprocess("calibrate", *common)
            memory_run = _subprocess("in-memory", *common)
            print(json.dumps({"step": "overhead", "persons": args.persons,
                              "dask_over_in_memory": dask_run["seconds"] / memory_run["seconds"]}))
        elif args.step == "all":
            _subprocess("score", *common)
            _subprocess("calibrate", *common)
        elif args.step != "generate":
            _subprocess(args.step, *common)
    finally:
        if args.cleanup:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
