"""Scoring throughput: EAP, MAP and WLE on simulated 2PL or graded responses.

    python benchmarks/score.py                                  # 10^6 x 20, 2PL
    python benchmarks/score.py --persons 100000 --model graded --methods eap,map,wle

Prints the sizes, the wall time of ``score`` (input already a validated ``Responses``, the
usual case after loading), the same with a plain DataFrame (adds validation), and persons per
second. Timings are the best of ``--repeat`` runs; on a shared machine treat them as noisy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from psychometrics.data import Responses
from psychometrics.irt import Calibration
from psychometrics.scoring import score


def simulate(model: str, n_persons: int, n_items: int, n_categories: int, missing: float,
             seed: int) -> tuple[Calibration, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    items = [f"q{j + 1:03d}" for j in range(n_items)]
    a = rng.lognormal(0.0, 0.3, n_items)
    theta = rng.standard_normal(n_persons)
    if model == "2pl":
        b = rng.normal(0.0, 1.0, n_items)
        params = pd.DataFrame({"a": a, "b": b}, index=items)
        p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
        x = (rng.random(p.shape) < p).astype(np.float64)
    else:
        b = np.sort(rng.normal(0.0, 1.0, (n_items, n_categories - 1)), axis=1)
        params = pd.DataFrame(b, index=items, columns=[f"b{k + 1}" for k in range(n_categories - 1)])
        params.insert(0, "a", a)
        x = np.zeros((n_persons, n_items))
        u = rng.random((n_persons, n_items))
        for k in range(n_categories - 1):  # loop over thresholds, not persons
            x += u < 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b[:, k])))
    if missing > 0:
        x[rng.random(x.shape) < missing] = np.nan
    calibration = Calibration.from_item_params(params, model)
    return calibration, pd.DataFrame(x, columns=items)


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--model", choices=["2pl", "graded"], default="2pl")
    parser.add_argument("--categories", type=int, default=5, help="graded only")
    parser.add_argument("--missing", type=float, default=0.0, help="share of responses set missing")
    parser.add_argument("--methods", default="eap,map,wle")
    parser.add_argument("--iterative-persons", type=int, default=100_000,
                        help="persons for MAP/ML/WLE (they are slower than EAP)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    calibration, frame = simulate(args.model, args.persons, args.items, args.categories, args.missing, args.seed)
    categories = {item: calibration.categories[item] for item in frame.columns}
    responses = Responses(frame, categories)
    print(f"model={args.model} items={args.items} missing={args.missing:.0%}")
    for method in args.methods.split(","):
        n = args.persons if method == "eap" else min(args.persons, args.iterative_persons)
        subset = responses if n == args.persons else Responses(frame.iloc[:n], categories)
        seconds = best_time(lambda: score(calibration, subset, method=method), args.repeat)
        print(f"{method.upper():>4}  persons={n:>9,}  score(Responses)={seconds:7.3f} s  "
              f"{n / seconds:>12,.0f} persons/s")
        if method == "eap":
            plain = frame if n == args.persons else frame.iloc[:n]
            seconds = best_time(lambda: score(calibration, plain, method=method), 1)
            print(f"{'':>4}  persons={n:>9,}  score(DataFrame)={seconds:7.3f} s  (includes validation)")


if __name__ == "__main__":
    main()
