"""Time and peak memory of item_analysis + alpha + guttman on a large response matrix.

    python benchmarks/ctt.py --persons 1000000 --items 50 [--missing 0.05]

Simulated five-point responses (one factor), optionally with cells missing at random.
Times are wall-clock seconds per step; ``cpu s`` is the process CPU time of all three
(all threads), which is less sensitive to other load on a shared machine. Peak memory is
the largest tracemalloc peak of NumPy/pandas allocations made during a step (the input
matrix itself is allocated before and not counted).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from psychometrics import ctt, reliability
from psychometrics.data import Responses


def simulate(n_persons: int, n_items: int, missing: float, seed: int) -> Responses:
    rng = np.random.default_rng(seed)
    frame = np.empty((n_persons, n_items))
    loadings = np.linspace(0.4, 0.8, n_items)
    step = 100_000
    for start in range(0, n_persons, step):
        stop = min(start + step, n_persons)
        theta = rng.standard_normal(stop - start)
        noise = rng.standard_normal((stop - start, n_items)) * np.sqrt(1 - loadings**2)
        latent = theta[:, None] * loadings + noise
        codes = 1.0 + np.digitize(latent, [-1.5, -0.5, 0.4, 1.3])
        if missing:
            codes[rng.random(codes.shape) < missing] = np.nan
        frame[start:stop] = codes
    columns = [f"item{j + 1}" for j in range(n_items)]
    categories = {c: (1, 2, 3, 4, 5) for c in columns}
    return Responses(pd.DataFrame(frame, columns=columns), categories)


def measure(label, func, *args, **kwargs):
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    func(*args, **kwargs)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return label, elapsed, peak / 2**20, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--missing", type=float, default=0.0, help="share of cells set missing")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = simulate(args.persons, args.items, args.missing, args.seed)
    rows = [
        measure("item_analysis", ctt.item_analysis, data),
        measure("alpha", reliability.alpha, data),
        measure("guttman", reliability.guttman, data, seed=1),
    ]
    total = sum(r[1] for r in rows)
    cpu = sum(r[3] for r in rows)
    header = [f"{'persons':>9}", f"{'items':>5}", f"{'missing':>7}", *(f"{r[0] + ' s':>15}" for r in rows),
              f"{'total s':>8}", f"{'cpu s':>7}", f"{'peak MiB':>9}"]
    line = [f"{args.persons:>9}", f"{args.items:>5}", f"{args.missing:>7.2f}",
            *(f"{r[1]:>15.2f}" for r in rows),
            f"{total:>8.2f}", f"{cpu:>7.2f}", f"{max(r[2] for r in rows):>9.0f}"]
    print(" ".join(header))
    print(" ".join(line))


if __name__ == "__main__":
    main()
