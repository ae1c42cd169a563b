"""The performance targets of the project, one line each, with wall time and peak memory.

    python benchmarks/targets.py                       # every task at the sizes of the table
    python benchmarks/targets.py --tasks wle,cfa       # some of them
    python benchmarks/targets.py --timeout 120         # give up on a task after 120 s

Each task runs in a fresh subprocess (so its peak resident memory is its own and a "new
process" is really new) and prints its wall time and the CPU time of all its threads (on a
busy machine the CPU time tells more than the wall time): only the operation named, not the
simulation of its data, unless the task says otherwise. ``cold`` runs the first calibration of
a process with ``NUMBA_CACHE_DIR`` set to an empty folder of its own (numba then looks nowhere
else, so every kernel compiles), ``cached`` the same with a folder a cold run filled first,
``warm`` a calibration after a first one in the same process. The operation's peak memory is
exact on Linux (the kernel's high-water mark, reset before the operation), sampled elsewhere.

The script uses only public functions, so ``PYTHONPATH=<another checkout> python
benchmarks/targets.py`` measures another version of the package on the same machine. On a
shared machine timings are noisy: compare versions in the same session, and rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

TASKS = {
    "warm": "graded calibration 10^5 x 50, warm process",
    "cached": "graded calibration 10^5 x 50, new process, compiled cache present",
    "cold": "graded calibration 10^5 x 50, new process, no compiled cache",
    "large": "graded calibration 10^6 x 50",
    "eap": "EAP scoring 10^6 x 50 from a DataFrame, validation included",
    "wle": "WLE scoring 10^6 x 50 (graded)",
    "cfa": "CFA DWLS 10^5 x 50, 5 factors, 5 categories",
    "demo": "`psychometrics demo` (whole command, new process)",
}


def _graded_truth(n_items: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    index = [f"i{j + 1:03d}" for j in range(n_items)]
    a = rng.uniform(0.8, 2.0, n_items)
    b = rng.uniform(-2.0, -0.8, (n_items, 1)) + np.cumsum(rng.uniform(0.4, 1.1, (n_items, 4)), axis=1) - 0.4
    return pd.DataFrame(np.column_stack([a, b]), index=index, columns=["a", "b1", "b2", "b3", "b4"])


def _graded_data(n_persons: int, n_items: int = 50, seed: int = 1):
    from psychometrics.simulate import simulate

    truth = _graded_truth(n_items, seed)
    return truth, simulate(truth, n_persons, model="graded", seed=seed)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> bool:
    """Reset the kernel's record of this process's peak resident memory (Linux: writing 5 to
    /proc/self/clear_refs); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Watch:
    """Peak resident memory while the timed operation runs, beside the process peak that
    includes simulating the data. :meth:`start` resets the kernel's peak (VmHWM) so the peak is
    exact; where it cannot, RSS is sampled every 5 ms (a sampled peak may miss a short spike).
    An earlier version sampled from the start of the task and reset its sample without a lock:
    the sampling thread could write back the peak of the simulation after the reset."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.before = self.peak = _rss_mb()
        self._exact = False
        self.process_peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        with self._lock:
            self.before = self.peak = _rss_mb()
        self.process_peak = _peak_mb()   # the reset below forgets it
        self._exact = _reset_peak()
        if not self._exact:
            self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            rss = _rss_mb()
            with self._lock:
                self.peak = max(self.peak, rss)
            time.sleep(0.005)

    def stop(self) -> str:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._exact:
            self.peak = max(self.peak, _status_mb("VmHWM"))
        how = "" if self._exact else ", sampled"
        return f"operation peak {self.peak:,.0f} MB ({self.peak - self.before:+,.0f} MB over its input{how})"


def run_task(task: str, persons: int | None) -> dict:
    """Run one task in this process; returns its seconds and details."""
    watch = _Watch()
    result = _run_task(task, persons, watch)
    result["cpu_seconds"] = time.process_time() - result.pop("cpu_start")
    result["detail"] += "; " + watch.stop()
    result["peak_mb"] = max(_peak_mb(), watch.process_peak)
    return result


def _run_task(task: str, persons: int | None, watch: _Watch) -> dict:
    warnings.simplefilter("ignore")
    if task in ("warm", "cached", "cold", "large"):
        from psychometrics.data import Responses
        from psychometrics.irt import calibrate

        n = persons or (1_000_000 if task == "large" else 100_000)
        _, data = _graded_data(n)
        responses = Responses(data, {i: tuple(range(5)) for i in data.columns})
        if task in ("warm", "large"):
            calibrate(responses.subset(list(data.columns[:3])).frame.iloc[:200], "graded", max_iter=2)
        watch.start()
        start, cpu_start = time.perf_counter(), time.process_time()
        cal = calibrate(responses, "graded")
        return {"cpu_start": cpu_start, "seconds": time.perf_counter() - start, "detail": f"{n:,} persons, {cal.n_iter} EM iterations"}
    if task in ("eap", "wle"):
        from psychometrics.data import Responses
        from psychometrics.irt import Calibration
        from psychometrics.scoring import score

        n = persons or 1_000_000
        truth, data = _graded_data(n)
        calibration = Calibration.from_item_params(truth, "graded")
        if task == "eap":
            # a warm process: the compiled checks of large frames (from 2^20 values) loaded once
            score(calibration, data.iloc[:30_000], method="eap")
            watch.start()
            start, cpu_start = time.perf_counter(), time.process_time()
            out = score(calibration, data, method="eap")
        else:
            responses = Responses(data, {i: tuple(range(5)) for i in data.columns})
            score(calibration, responses.subset(list(data.columns)).frame.iloc[:30_000], method="wle")
            watch.start()
            start, cpu_start = time.perf_counter(), time.process_time()
            out = score(calibration, responses, method="wle")
        seconds = time.perf_counter() - start
        return {"cpu_start": cpu_start, "seconds": seconds, "detail": f"{n:,} persons, {n / seconds:,.0f} persons/s, mean theta {out['theta'].mean():.4f}"}
    if task == "cfa":
        import numpy as np
        import pandas as pd

        from psychometrics.factor.cfa import cfa

        n = persons or 100_000
        rng = np.random.default_rng(1)
        n_items, n_factors = 50, 5
        factor_of = np.arange(n_items) % n_factors
        loadings = rng.uniform(0.5, 0.8, n_items)
        phi = np.full((n_factors, n_factors), 0.3) + 0.7 * np.eye(n_factors)
        eta = rng.standard_normal((n, n_factors)) @ np.linalg.cholesky(phi).T
        latent = eta[:, factor_of] * loadings + rng.standard_normal((n, n_items)) * np.sqrt(1 - loadings**2)
        columns = [f"i{j + 1}" for j in range(n_items)]
        model = {f"f{k + 1}": [columns[j] for j in np.flatnonzero(factor_of == k)] for k in range(n_factors)}
        likert = pd.DataFrame(np.digitize(latent, [-1.5, -0.5, 0.5, 1.5]) + 1.0, columns=columns)
        cfa(likert.iloc[:500, :6], {"f": columns[:6]}, "dwls")  # kernels compiled or loaded
        watch.start()
        start, cpu_start = time.perf_counter(), time.process_time()
        fit = cfa(likert, model, "dwls")
        return {"cpu_start": cpu_start, "seconds": time.perf_counter() - start,
                "detail": f"{n:,} persons, chi2 {fit.chi2:.3f}, scaled {fit.chi2_scaled:.3f}"}
    raise ValueError(f"unknown task {task!r}")


def _child(task: str, persons: int | None, env: dict, timeout: float) -> dict:
    spec = json.dumps({"task": task, "persons": persons})
    try:
        out = subprocess.run([sys.executable, __file__, "--single", spec], capture_output=True, text=True,
                             env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": float("nan"), "cpu_seconds": float("nan"), "detail": f"stopped after {timeout:.0f} s",
                "peak_mb": float("nan")}
    if out.returncode != 0:
        return {"seconds": float("nan"), "cpu_seconds": float("nan"),
                "detail": "failed: " + out.stderr.strip()[-200:], "peak_mb": float("nan")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _demo(env: dict, timeout: float) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, "-m", "psychometrics", "demo", "--quiet", "--report",
                                  os.path.join(folder, "report.html")], capture_output=True, text=True,
                                 env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"seconds": float("nan"), "cpu_seconds": float("nan"), "detail": f"stopped after {timeout:.0f} s",
                    "peak_mb": float("nan")}
        seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    detail = "ok" if out.returncode in (0, 1) else "failed: " + out.stderr.strip()[-200:]
    return {"seconds": seconds, "cpu_seconds": cpu, "detail": detail, "peak_mb": after.ru_maxrss / 1024.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    parser.add_argument("--persons", type=int, default=None, help="override every task's number of persons")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a task is stopped")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:
        spec = json.loads(args.single)
        result = run_task(spec["task"], spec["persons"])
        print(json.dumps(result))
        return

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {', '.join(TASKS)}")
    import psychometrics

    print(f"package: {os.path.dirname(psychometrics.__file__)}; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'task':<68} {'seconds':>8} {'cpu s':>8} {'peak MB':>8}  detail")
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as empty:
        for task in tasks:
            env = dict(os.environ)
            if task == "cold":
                # a folder nobody wrote to; with NUMBA_CACHE_DIR set numba looks nowhere else
                # (not next to the sources, not in ~/.cache/numba), so every kernel compiles
                env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=empty)
            elif task == "cached":
                env["NUMBA_CACHE_DIR"] = cache
                if not os.listdir(cache):
                    _child("cold", args.persons, env, args.timeout)  # fills it
            result = _demo(env, args.timeout) if task == "demo" else _child(task, args.persons, env, args.timeout)
            print(f"{TASKS[task]:<68} {result['seconds']:>8.2f} {result['cpu_seconds']:>8.2f} "
                  f"{result['peak_mb']:>8.0f}  {result['detail']}", flush=True)


if __name__ == "__main__":
    main()
