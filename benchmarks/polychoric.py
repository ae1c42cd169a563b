"""Timing of the polychoric correlation matrix on simulated Likert data.

    python benchmarks/polychoric.py --persons 100000 --items 50 --categories 5 --missing 0.05

Prints the sizes, the wall time of each stage and the largest error against the generating
correlations (which shrinks with the number of persons). Target: 50 items x 100,000 persons in
under 10 s on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from psychometrics.data import Responses
from psychometrics.factor import polychoric


def simulate(persons: int, items: int, categories: int, missing: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_factors = max(1, items // 10)
    loadings = np.zeros((items, n_factors))
    loadings[np.arange(items), np.arange(items) % n_factors] = rng.uniform(0.5, 0.8, items)
    truth = loadings @ loadings.T
    np.fill_diagonal(truth, 1.0)
    z = rng.standard_normal((persons, n_factors)) @ loadings.T
    z += rng.standard_normal((persons, items)) * np.sqrt(1 - (loadings ** 2).sum(axis=1))
    cuts = np.sort(rng.normal(0, 0.9, (items, categories - 1)), axis=1)
    codes = (z[:, :, None] > cuts[None, :, :]).sum(axis=2).astype(np.float64) + 1
    if missing > 0:
        codes[rng.random(codes.shape) < missing] = np.nan
    columns = [f"i{j + 1}" for j in range(items)]
    return pd.DataFrame(codes, columns=columns), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--categories", type=int, default=5)
    parser.add_argument("--missing", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None,
                        help="exit with status 1 when the best time exceeds this many seconds "
                             "(e.g. --persons 20000 --items 20 --budget 10)")
    args = parser.parse_args()
    frame, truth = simulate(args.persons, args.items, args.categories, args.missing, args.seed)
    # the validated container, built once: the benchmark times the estimator, not input checks
    categories = {c: tuple(range(1, args.categories + 1)) for c in frame.columns}
    responses = Responses(frame, categories)
    print(f"polychoric: {args.persons} persons x {args.items} items, {args.categories} categories, "
          f"{args.missing:.0%} missing, {args.items * (args.items - 1) // 2} pairs")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = polychoric(responses)
        times.append(time.perf_counter() - start)
    module = sys.modules["psychometrics.factor.polychoric"]
    codes, n_cat = module._ordinal_codes(responses.values, responses.item_ids, 10)
    start = time.perf_counter()
    module._pair_tables(codes, int(n_cat.max()))
    tables = time.perf_counter() - start
    error = np.abs(result.correlation.to_numpy() - truth).max()
    print(f"total: best {min(times):.2f} s, median {np.median(times):.2f} s over {args.repeat} runs "
          f"(contingency tables alone: {tables:.2f} s)")
    print(f"largest |estimate - generating correlation|: {error:.4f}")
    if args.budget is not None and min(times) > args.budget:
        print(f"SLOW: best {min(times):.2f} s exceeds the budget of {args.budget:g} s")
        sys.exit(1)


if __name__ == "__main__":
    main()
