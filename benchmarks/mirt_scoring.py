"""Scoring benchmark of bifactor and two-tier calibrations: EAP by dimension reduction.

The same 24 graded items (3 categories) split into 2 or 6 specific factors, 1 general factor
(bifactor) or 2 (two-tier, 12 items on each); 10^4 persons scored with ``irt.score``. The work
is that of one (G+1)-dimensional integration per item, so the time should not grow with the
number of specific factors. The calibrations are a few EM iterations on 600 persons: scoring
time does not depend on the parameter values.

    python benchmarks/mirt_scoring.py
    python benchmarks/mirt_scoring.py --persons 20000 --specific 2 4 6 8

Timings on a shared machine are noisy; ``cpu_seconds`` (all threads) is the steadier number.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def _data(rng: np.random.Generator, slopes: np.ndarray, cov: np.ndarray, n: int) -> pd.DataFrame:
    theta = rng.multivariate_normal(np.zeros(slopes.shape[1]), cov, size=n)
    eta = theta @ slopes.T
    cuts = np.array([0.6, -0.6])
    x = (rng.random(eta.shape)[:, :, None] < 1.0 / (1.0 + np.exp(-(eta[:, :, None] + cuts)))).sum(axis=2)
    return pd.DataFrame(x.astype(float), columns=[f"q{k + 1}" for k in range(eta.shape[1])])


def case(n_general: int, n_specific: int, persons: int, seed: int = 1) -> dict:
    from psychometrics.irt import calibrate, score

    rng = np.random.default_rng(seed)
    j = 24
    d = n_general + n_specific
    slopes = np.zeros((j, d))
    for item in range(j):
        slopes[item, item * n_general // j] = rng.uniform(1.0, 1.8)
        slopes[item, n_general + item * n_specific // j] = rng.uniform(0.5, 1.2)
    cov = np.eye(d)
    if n_general == 2:
        cov[0, 1] = cov[1, 0] = 0.4
    items = [f"q{k + 1}" for k in range(j)]
    bifactor = {f"s{s + 1}": [items[k] for k in range(j) if k * n_specific // j == s] for s in range(n_specific)}
    general = None if n_general == 1 else {f"g{g + 1}": [items[k] for k in range(j) if k * n_general // j == g]
                                           for g in range(n_general)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(_data(rng, slopes, cov, 600), "graded", bifactor=bifactor, general=general, max_iter=3)
    data = _data(rng, slopes, cov, persons)
    score(cal, data.iloc[:200])                      # warm-up: compiled kernels, imports
    wall, cpu = time.perf_counter(), time.process_time()
    out = score(cal, data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"model": cal.factor_model, "general": n_general, "specific": n_specific, "persons": persons,
            "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "columns": out.shape[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--specific", type=int, nargs="+", default=[2, 6])
    parser.add_argument("--general", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for g in args.general:
        for s in args.specific:
            print(case(g, s, args.persons), flush=True)


if __name__ == "__main__":
    main()
