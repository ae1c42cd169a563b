"""Calibration benchmark: wall time, EM iterations and peak memory of MML-EM.

Simulates graded (5 categories) and 2PL data at the requested sizes, calibrates with mirt's
convergence criterion (tol 1e-4) and prints one line per run. Each run happens in a fresh
subprocess so that its peak memory is its own; the peak is the resident set size of that
process sampled every 5 ms during calibration (it includes the simulated data frame).

    python benchmarks/calibrate.py                                # 1e4, 1e5 x 20, 50 items
    python benchmarks/calibrate.py --persons 1000000 --items 50 --models graded
    python benchmarks/calibrate.py --score                         # also EAP scoring throughput

Timings on a shared machine are noisy; rerun before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _true_params(model: str, n_items: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    index = [f"i{j + 1:03d}" for j in range(n_items)]
    a = rng.uniform(0.8, 2.0, n_items)
    if model == "graded":
        b = rng.uniform(-2.0, -0.8, (n_items, 1)) + np.cumsum(rng.uniform(0.4, 1.1, (n_items, 4)), axis=1) - 0.4
        return pd.DataFrame(np.column_stack([a, b]), index=index, columns=["a", "b1", "b2", "b3", "b4"])
    params = pd.DataFrame({"a": a, "b": rng.uniform(-1.5, 1.5, n_items)}, index=index)
    if model in ("3pl", "4pl"):
        params["g"] = rng.uniform(0.1, 0.25, n_items)
    if model == "4pl":
        params["u"] = rng.uniform(0.85, 0.97, n_items)
    if model == "rasch":
        params["a"] = 1.0
    return params


def run_one(model: str, n_persons: int, n_items: int, tol: float, seed: int, score: bool) -> dict:
    import numpy as np

    from psychometrics.data import Responses
    from psychometrics.irt import calibrate
    from psychometrics.simulate import simulate

    truth = _true_params(model, n_items, seed)
    t0 = time.perf_counter()
    data = simulate(truth, n_persons, model=model, seed=seed)
    simulate_s = time.perf_counter() - t0
    n_cat = 5 if model == "graded" else 2
    responses = Responses(data, {i: tuple(range(n_cat)) for i in data.columns})
    # compile (or load from cache) the E-step kernel outside the timing, as a warm process would
    calibrate(responses.subset(list(data.columns[:3])).frame.iloc[:200], model, max_iter=2)
    peak = [_rss_mb()]
    baseline = peak[0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(responses, model, tol=tol)
    wall = time.perf_counter() - t0
    done.set()
    watcher.join()
    est = cal.item_params
    rmse_a = float(np.sqrt(np.mean((est["a"].to_numpy() - truth["a"].to_numpy()) ** 2)))
    result = {
        "model": model, "persons": n_persons, "items": n_items, "tol": tol,
        "wall_s": round(wall, 3), "em_iterations": cal.n_iter, "converged": cal.converged,
        "peak_rss_mb": round(peak[0], 1), "rss_before_mb": round(baseline, 1),
        "simulate_s": round(simulate_s, 2), "rmse_a": round(rmse_a, 4), "loglik": cal.loglik,
    }
    if score:
        from psychometrics.irt import score as irt_score

        t0 = time.perf_counter()
        irt_score(cal, responses, method="eap")
        result["eap_persons_per_s"] = round(n_persons / (time.perf_counter() - t0))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[10_000, 100_000],
                        help="numbers of persons (default 1e4 1e5; add 1000000 for the large run)")
    parser.add_argument("--items", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--models", nargs="+", default=["graded", "2pl"])
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    parser.add_argument("--score", action="store_true", help="also time EAP scoring of the same data")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.single:
        spec = json.loads(args.single)
        print(json.dumps(run_one(**spec)))
        return

    env = dict(os.environ)
    if args.threads:
        env["NUMBA_NUM_THREADS"] = str(args.threads)
    print(f"{'model':>7} {'persons':>9} {'items':>5} {'wall s':>8} {'EM it':>6} {'conv':>5} "
          f"{'peak MB':>8} {'sim s':>6} {'rmse a':>7}" + (f" {'EAP/s':>10}" if args.score else ""))
    for model in args.models:
        for n_items in args.items:
            for n_persons in args.persons:
                spec = {"model": model, "n_persons": n_persons, "n_items": n_items, "tol": args.tol,
                        "seed": args.seed, "score": args.score}
                out = subprocess.run([sys.executable, __file__, "--single", json.dumps(spec)],
                                     capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    print(f"{model:>7} {n_persons:>9} {n_items:>5}  failed: {out.stderr.strip()[-300:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                line = (f"{model:>7} {n_persons:>9} {n_items:>5} {r['wall_s']:>8.2f} {r['em_iterations']:>6} "
                        f"{str(r['converged']):>5} {r['peak_rss_mb']:>8.0f} {r['simulate_s']:>6.1f} "
                        f"{r['rmse_a']:>7.3f}")
                if args.score:
                    line += f" {r.get('eap_persons_per_s', float('nan')):>10}"
                print(line, flush=True)


if __name__ == "__main__":
    main()
