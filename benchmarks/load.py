"""Time and peak memory of loading and checking a large response matrix, beside a calibration.

    python benchmarks/load.py --persons 1000000 --items 50 [--csv] [--calibrate]

Steps timed (wall-clock seconds; the machine may be shared, so expect noise):

* ``load_responses(frame)``: a DataFrame with inferred categories: every check of a file
  (non-finite, non-integer codes, category ranges, gaps of unused codes) except parsing;
* ``load_responses(frame, categories=1..5)``: declared categories (the instrument path);
* with ``--csv``: writing the frame to a CSV file once, then ``load_responses(path)``
  (the strict dialect checks, line numbers and pandas' parser);
* with ``--calibrate``: ``irt.calibrate(responses, "graded")`` for scale.

Peak memory is the tracemalloc peak of the step (NumPy and pandas allocations), beyond the
input frame, which is allocated before.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from psychometrics.data import load_responses


def simulate(n_persons: int, n_items: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = np.empty((n_persons, n_items))
    loadings = np.linspace(0.5, 0.8, n_items)
    for start in range(0, n_persons, 100_000):
        stop = min(start + 100_000, n_persons)
        theta = rng.standard_normal(stop - start)
        latent = theta[:, None] * loadings + rng.standard_normal((stop - start, n_items)) * np.sqrt(1 - loadings**2)
        out[start:stop] = 1.0 + np.digitize(latent, [-1.5, -0.5, 0.4, 1.3])
    return pd.DataFrame(out, columns=[f"item{j + 1:02d}" for j in range(n_items)])


def timed(label: str, func):
    tracemalloc.start()
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<48} {seconds:8.2f} s {peak / 2**20:10.0f} MiB")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    frame = simulate(args.persons, args.items)
    print(f"{args.persons:,} persons x {args.items} items, five categories")
    print(f"{'step':<48} {'time':>10} {'peak':>14}")
    timed("load_responses(frame), inferred categories", lambda: load_responses(frame, warn=False))
    responses, _ = timed("load_responses(frame, categories=1..5)",
                         lambda: load_responses(frame, categories=range(1, 6), warn=False))
    if args.csv:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "responses.csv"
            frame.to_csv(path, index_label="respondent_id")
            print(f"(CSV file: {path.stat().st_size / 2**20:.0f} MiB)")
            timed("load_responses(path), CSV", lambda: load_responses(path, warn=False))
    if args.calibrate:
        from psychometrics import irt

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            timed("irt.calibrate(responses, 'graded')", lambda: irt.calibrate(responses, "graded"))


if __name__ == "__main__":
    main()
