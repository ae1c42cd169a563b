"""Many-facet Rasch model fit time on simulated ratings, and the 360 analysis of the bundled sample.

    python benchmarks/facets.py                                 # 2000 targets x 10 items, 4 of 40 raters each
    python benchmarks/facets.py --targets 10000 --raters 100 --per-target 5 --model partial_credit

Each target is rated on every item by ``--per-target`` raters drawn from ``--raters`` (so most
rater pairs never share a target: a sparse, connected design). Prints sizes, Newton iterations,
wall time and the RMSE of the recovered severities. On a shared machine treat timings as noisy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from psychometrics.raters import facets, feedback


def simulate(n_targets: int, n_items: int, n_raters: int, per_target: int, seed: int):
    rng = np.random.default_rng(seed)
    raters = np.array([rng.choice(n_raters, per_target, replace=False) for _ in range(n_targets)])
    target = np.repeat(np.arange(n_targets), per_target * n_items)
    rater = np.repeat(raters.ravel(), n_items)
    item = np.tile(np.arange(n_items), n_targets * per_target)
    theta = rng.normal(0.0, 1.2, n_targets)
    b = np.linspace(-1.0, 1.0, n_items)
    s = rng.normal(0.0, 0.5, n_raters)
    s -= s.mean()
    tau = np.array([-1.5, -0.5, 0.4, 1.6])
    eta = theta[target] - b[item] - s[rater]
    z = eta[:, None] * np.arange(5) - np.concatenate([[0.0], np.cumsum(tau)])
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    rating = (rng.random(len(eta))[:, None] > prob.cumsum(axis=1)).sum(axis=1) + 1
    frame = pd.DataFrame({"target_id": target, "item": item, "rater_id": rater, "rating": rating})
    return frame, s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--raters", type=int, default=40)
    parser.add_argument("--per-target", type=int, default=4)
    parser.add_argument("--model", default="rating_scale")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    frame, severity = simulate(args.targets, args.items, args.raters, args.per_target, args.seed)
    start = time.perf_counter()
    fit = facets(frame, model=args.model)
    elapsed = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((fit.rater_severity["severity"].to_numpy() - severity) ** 2)))
    print(f"facets {args.model}: {args.targets} targets x {args.items} items, {args.per_target} of {args.raters} "
          f"raters each ({len(frame)} ratings): {elapsed:.2f} s, {fit.n_iter} Newton iterations, "
          f"severity RMSE {rmse:.3f}")
    from psychometrics.instrument import Instrument, bundled_sample

    start = time.perf_counter()
    feedback(bundled_sample("feedback-360"), Instrument.bundled("feedback-360"))
    print(f"feedback on the bundled feedback-360 sample (480 forms x 35 items): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
