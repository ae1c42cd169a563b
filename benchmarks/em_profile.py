"""Where the time of an EM calibration goes, and how far the E-step is from the machine's limit.

    python benchmarks/em_profile.py                         # graded and 2PL, 10^5 x 50
    python benchmarks/em_profile.py --persons 20000 --models graded

For each model: one calibration with the E-step timed separately (so the rest is the M-step,
SQUAREM and bookkeeping), then the E-step kernel alone on one thread against the machine's limit
for its work. The items go in T tuples (:func:`psychometrics.estep.pack_codes`); per person and
tuple the E-step adds a row of Q log-probabilities into the person's buffer and, after the
posterior, adds the posterior back into the tuple's row of expected counts: at most 2 N T Q
additions per E-step (plus N Q exponentials; fewer where nodes of negligible posterior are
skipped), against 2 N J Q item by item. The limit is measured, not assumed: a
compiled loop adding one Q-vector into another in the first-level cache, the best case for that
many additions on one core. CPU times (``time.process_time``) on one thread keep the ratio
meaningful on a busy machine; the wall times of the calibration are noisy there.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numba
import numpy as np


@numba.njit(cache=True)
def _add_loop(target, source, repeats):  # pragma: no cover - compiled
    for _ in range(repeats):
        for t in range(target.shape[0]):
            target[t] += source[t]
    return target


def add_limit_seconds(n_adds_per_vector: int, n_vectors: int) -> float:
    """CPU seconds for ``n_vectors`` additions of an L1-resident vector of the given length."""
    target, source = np.zeros(n_adds_per_vector), np.ones(n_adds_per_vector)
    _add_loop(target, source, 10)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        _add_loop(target, source, n_vectors)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--models", default="graded,2pl")
    args = parser.parse_args()

    from psychometrics import estep
    from psychometrics.data import Responses
    from psychometrics.irt import calibrate, em
    from psychometrics.simulate import simulate

    rng = np.random.default_rng(1)
    q = 61
    for model in args.models.split(","):
        n_cat = 5 if model == "graded" else 2
        index = [f"i{j + 1:03d}" for j in range(args.items)]
        a = rng.uniform(0.8, 2.0, args.items)
        if model == "graded":
            b = np.sort(rng.normal(0.0, 1.0, (args.items, 4)), axis=1)
            import pandas as pd
            truth = pd.DataFrame(np.column_stack([a, b]), index=index, columns=["a", "b1", "b2", "b3", "b4"])
        else:
            import pandas as pd
            truth = pd.DataFrame({"a": a, "b": rng.normal(0.0, 1.0, args.items)}, index=index)
        data = simulate(truth, args.persons, model=model, seed=1)
        responses = Responses(data, {i: tuple(range(n_cat)) for i in data.columns})
        calibrate(responses.subset(list(data.columns[:3])).frame.iloc[:200], model, max_iter=2)

        spent = [0.0, 0]
        original = em._Problem.expectation

        def timed(self):
            start = time.perf_counter()
            try:
                return original(self)
            finally:
                spent[0] += time.perf_counter() - start
                spent[1] += 1

        em._Problem.expectation = timed
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                cal = calibrate(responses, model)
                total = time.perf_counter() - start
        finally:
            em._Problem.expectation = original
        print(f"{model}: {args.persons:,} x {args.items}, {cal.n_iter} EM iterations, {spent[1]} E-steps: "
              f"calibration {total:.2f} s wall = E-steps {spent[0]:.2f} s + M-steps and the rest "
              f"{total - spent[0]:.2f} s")

        codes = np.asarray(cal.encode(responses)).astype(np.int8)
        log_probs = cal.log_probabilities(np.linspace(-6, 6, q))
        packed = estep.pack_codes(codes, log_probs.shape[2])
        tables = estep._tuple_tables(estep._log_prob_matrix(log_probs), packed)
        n_rows = packed.radix ** packed.members.shape[1]
        prior = np.full(q, -np.log(q))
        kernel = estep._packed_estep_kernel
        kernel(packed.combo[:10], tables, n_rows, prior, np.empty(0), estep.POSTERIOR_CUT)
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            kernel(packed.combo, tables, n_rows, prior, np.empty(0), estep.POSTERIOR_CUT)
            best = min(best, time.process_time() - start)
        n_tuples = packed.combo.shape[1]
        limit = add_limit_seconds(q, 2 * codes.shape[0] * n_tuples)
        print(f"  one E-step on one thread: {best:.3f} s CPU; items in tuples of {packed.members.shape[1]} "
              f"({n_rows} rows each): at most 2 N T Q = {2 * codes.shape[0] * n_tuples * q:.2e} additions "
              f"(J / T = {codes.shape[1] / n_tuples:.1f} times fewer than 2 N J Q); the same additions from L1: "
              f"{limit:.3f} s -> {best / limit:.1f} x the limit")


if __name__ == "__main__":
    main()
