"""Adaptive-test simulation throughput: cat.simulate across examinees, one loop over test positions.

    python benchmarks/cat.py                                  # 10,000 examinees, 300 2PL items, <= 30 items, SE 0.3
    python benchmarks/cat.py --model graded --selections mfi,mpwi,mepv --fixed-length
    python benchmarks/cat.py --examinees 1000 --selections kl,shadow,progressive

Prints the sizes, the wall time of ``cat.simulate`` (answers drawn, every test run, final scores)
per selection rule with the process's CPU time beside it (on a busy machine the wall time
can be several times the CPU time; the engine runs on one thread), examinees per second, the peak resident memory, and the simulation's own
summary numbers (RMSE, mean length, largest exposure) so a faster run can be checked for the
same result. The issue's target: 10,000 examinees, 300 items, at most 30 items, under 10 s.
Timings are the best of ``--repeat`` runs; on a shared machine treat them as noisy.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from psychometrics import cat
from psychometrics.irt import Calibration


def item_bank(model: str, n_items: int, n_categories: int, seed: int) -> Calibration:
    rng = np.random.default_rng(seed)
    items = [f"q{j + 1:03d}" for j in range(n_items)]
    a = rng.lognormal(0.2, 0.3, n_items)
    if model == "2pl":
        return Calibration.from_item_params(pd.DataFrame({"a": a, "b": rng.normal(0.0, 1.0, n_items)},
                                                         index=items), "2pl")
    b = np.sort(rng.normal(0.0, 1.0, (n_items, n_categories - 1)), axis=1)
    params = pd.DataFrame(b, index=items, columns=[f"b{k + 1}" for k in range(n_categories - 1)])
    params.insert(0, "a", a)
    return Calibration.from_item_params(params, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examinees", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--model", choices=["2pl", "graded", "gpcm"], default="2pl")
    parser.add_argument("--categories", type=int, default=5, help="graded/gpcm only")
    parser.add_argument("--max-items", type=int, default=30)
    parser.add_argument("--stop-se", type=float, default=0.3)
    parser.add_argument("--fixed-length", action="store_true", help="no SE rule: every test has max-items items")
    parser.add_argument("--selections", default="mfi")
    parser.add_argument("--randomesque", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    bank = item_bank(args.model, args.items, args.categories, args.seed)
    thetas = np.random.default_rng(args.seed + 1).standard_normal(args.examinees)
    stop = {"max_items": args.max_items}
    if not args.fixed_length:
        stop["se"] = args.stop_se
    exposure = {"randomesque": args.randomesque} if args.randomesque else None
    print(f"examinees={args.examinees:,} items={args.items} model={args.model} stop={stop} exposure={exposure}")
    for selection in args.selections.split(","):
        times, cpu_times = [], []
        for _ in range(args.repeat):
            start, cpu_start = time.perf_counter(), time.process_time()
            result = cat.simulate(bank, thetas, selection=selection, stop=stop, exposure=exposure, seed=args.seed)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        seconds = min(times)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{selection:>11}  {seconds:7.2f} s (CPU {min(cpu_times):6.2f} s)  {args.examinees / seconds:>9,.0f} examinees/s  "
              f"RMSE {result.rmse:.3f}  mean SE {result.mean_se:.3f}  mean length {result.mean_length:5.2f}  "
              f"max exposure {result.max_exposure:.3f}  peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
