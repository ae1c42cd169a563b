"""Multidimensional calibration benchmark: wall time, EM iterations, peak memory, recovery.

Two cases from the multidimensional IRT issue, graded items with 5 categories:

* ``correlated``: 5 correlated factors (r = 0.3), 25 items (5 per factor), 2,800 persons (a
  Big Five survey), adaptive person-specific points (more than three factors; ``--integration
  qmc``: the shared quasi-Monte Carlo points of earlier versions); target under 15 s;
* ``bifactor``: 1 general + 4 specific factors, 40 items (10 per specific factor), 10^5
  persons, dimension reduction; target under 30 s;
* ``three``: 3 correlated factors, 21 items, 2,800 persons (tensor-product quadrature), for
  comparison.

Each case runs in a fresh subprocess so that its peak memory is its own: the resident set size
sampled every 5 ms during the calibration (simulated data included). ``seconds`` is wall time,
``cpu_seconds`` the process's CPU time (all threads) during the calibration: on a shared machine
the CPU time is the steadier number (wall time grows with the load; the E-step runs on two
threads, so on a quiet two-core machine wall time is at most the CPU time). scipy.stats (the
Sobol generator of the quasi-Monte Carlo points) is imported before the clock starts.

    python benchmarks/mirt.py                      # all cases
    python benchmarks/mirt.py --cases bifactor --persons 20000
    python benchmarks/mirt.py --cases correlated --newton-steps 1   # one Newton step per M-step
    python benchmarks/mirt.py --cases bifactor --quadrature-points 31
    python benchmarks/mirt.py --cases correlated --integration qmc   # shared prior points

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


def _simulate(slopes, corr, n_persons: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_items = slopes.shape[0]
    d = np.sort(rng.uniform(-2.0, 2.0, (n_items, 4)), axis=1)[:, ::-1]
    theta = rng.multivariate_normal(np.zeros(len(corr)), corr, size=n_persons)
    eta = theta @ slopes.T
    responses = np.zeros(eta.shape)
    u = rng.random(eta.shape)
    for k in range(4):
        responses += u < 1.0 / (1.0 + np.exp(-(eta + d[:, k])))
    frame = pd.DataFrame(responses, columns=[f"i{j + 1:02d}" for j in range(n_items)])
    return frame, d


def run_one(case: str, n_persons: int | None, seed: int, newton_steps: int = 3,
            quadrature_points: int | None = None, integration: str | None = None) -> dict:
    import numpy as np
    import scipy.stats  # noqa: F401  (a one-off import cost, kept out of the timing)

    from psychometrics.irt import calibrate

    rng = np.random.default_rng(seed)
    if case == "correlated":
        n_factors, per, n = 5, 5, n_persons or 2800
    elif case == "three":
        n_factors, per, n = 3, 7, n_persons or 2800
    else:
        n_factors, per, n = 5, 10, n_persons or 100_000
    if case == "bifactor":
        n_items = 4 * per
        slopes = np.zeros((n_items, n_factors))
        slopes[:, 0] = rng.uniform(1.0, 2.0, n_items)
        for s in range(4):
            slopes[s * per:(s + 1) * per, s + 1] = rng.uniform(0.5, 1.2, per)
        corr = np.eye(n_factors)
    else:
        n_items = n_factors * per
        slopes = np.zeros((n_items, n_factors))
        for m in range(n_factors):
            slopes[m * per:(m + 1) * per, m] = rng.uniform(1.0, 2.2, per)
        corr = np.full((n_factors, n_factors), 0.3)
        np.fill_diagonal(corr, 1.0)
    data, d = _simulate(slopes, corr, n, seed)
    items = list(data.columns)
    peak = [_rss_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_mb())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    start = time.perf_counter()
    cpu_start = time.process_time()
    if case == "bifactor":
        groups = {f"s{s + 1}": items[s * per:(s + 1) * per] for s in range(4)}
        cal = calibrate(data, "graded", bifactor=groups, newton_steps=newton_steps,
                        quadrature_points=quadrature_points)
    else:
        structure = {f"F{m + 1}": items[m * per:(m + 1) * per] for m in range(n_factors)}
        cal = calibrate(data, "graded", factors=structure, newton_steps=newton_steps,
                        quadrature_points=quadrature_points, integration=integration)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    done.set()
    watcher.join()
    names = [f"a{m + 1}" for m in range(n_factors)]
    a_hat = cal.slope_intercept[names].to_numpy()
    d_hat = cal.slope_intercept[["d1", "d2", "d3", "d4"]].to_numpy()
    loads = slopes != 0
    off = np.triu_indices(n_factors, 1)
    return {
        "case": case, "persons": n, "items": n_items, "factors": n_factors, "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2), "quadrature_points": cal.quadrature_points,
        "integration": integration or "default",
        "newton_steps": newton_steps, "load_average": os.getloadavg()[0],
        "n_iter": cal.n_iter, "converged": cal.converged, "peak_mb": round(peak[0], 1),
        "loglik": round(cal.loglik, 3), "loglik_se": round(cal.loglik_se, 3),
        "rmse_slopes": round(float(np.sqrt(np.mean((a_hat[loads] - slopes[loads]) ** 2))), 4),
        "rmse_intercepts": round(float(np.sqrt(np.nanmean((d_hat - d) ** 2))), 4),
        "mean_correlation": round(float(cal.factor_correlations.to_numpy()[off].mean()), 4),
        "true_correlation": round(float(corr[off].mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["three", "correlated", "bifactor"],
                        choices=["three", "correlated", "bifactor"])
    parser.add_argument("--persons", type=int, default=None, help="override the case's number of persons")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--newton-steps", type=int, default=3, help="Newton steps per item per M-step")
    parser.add_argument("--quadrature-points", type=int, default=None,
                        help="points per dimension (default: the calibration's own)")
    parser.add_argument("--integration", default=None, choices=["grid", "qmc", "adaptive"],
                        help="integration of the correlated cases (default: the calibration's own)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.persons, args.seed, args.newton_steps,
                                 args.quadrature_points, args.integration)))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for case in args.cases:
        command = [sys.executable, __file__, "--child", case, "--seed", str(args.seed),
                   "--newton-steps", str(args.newton_steps)]
        if args.persons:
            command += ["--persons", str(args.persons)]
        if args.quadrature_points:
            command += ["--quadrature-points", str(args.quadrature_points)]
        if args.integration:
            command += ["--integration", args.integration]
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            print(json.dumps({"case": case, "error": out.stderr.strip().splitlines()[-1:]}))
            continue
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
