"""Benchmark of the evaluation toolkit: ``python -m course_utils benchmark evaluation``.

Measures, each stage in a fresh process (so its peak memory is its own):

1. ``evaluate()`` (fidelity, detection, utility with a target, privacy) on a
   10,000-row x 20-column mixed table (train, synthetic and holdout of that size);
   target: under 20 s.
2. The privacy metrics alone (:func:`course_utils.evaluation.privacy.privacy_report`)
   on 100,000 x 20 rows per table; target: under 3 minutes and 4 GB peak memory.

The tables come from :func:`course_utils.data.simulate_heart_cohort`, a simulated cohort of heart patients with
numeric, integer, binary and categorical columns, missing values and built-in
dependencies (blood pressure on age, diabetes on BMI, death on age and heart failure,
...). The "synthetic" table is :class:`IndependentMarginals` output, which keeps every
column and breaks every dependency. ``quick=True`` divides the sizes by 10.

Wall times, CPU times (``time.process_time``, summed over the threads of the
stage's process: on a shared machine the wall time grows with other people's load,
the CPU time does not) and peak resident memory (``resource.getrusage``, the maximum
resident set size of the stage's process) are returned in the result dict, with the
load average before and after each stage. The evaluate stage times
``evaluate(privacy=False)`` and the privacy rows (``privacy_report``) separately and
reports their sum.

Threads: the targets are for a 2-core machine, so each stage runs with numpy's BLAS
(and with it the nearest-neighbour searches of the privacy metrics, whose
``n_jobs=None`` follows the BLAS setting) limited to ``THREADS`` = 2 threads through
``threadpoolctl``, and torch to the same number. OpenMP (scikit-learn's histogram
gradient boosting in the detection and utility metrics) gets ``OPENMP_THREADS`` = 1:
its threads wait for each other by spinning, and on a 2-core machine shared with other
work two of them made ``evaluate()`` several times slower (73 s instead of 12 s wall
for the non-privacy part at 10,000 rows, measured under a load average of about 3).
The settings seen inside the stage are recorded. ``meets_targets`` says pass or fail
for each target.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import pandas as pd

from ..data import simulate_heart_cohort

THREADS = 2
"""BLAS and torch threads of each stage (the targets are for a 2-core machine)."""

OPENMP_THREADS = 1
"""OpenMP threads of each stage (see the module docstring for why only one)."""

TARGETS = {"evaluate_s": 20, "privacy_s": 180, "privacy_peak_mb": 4096}
"""Wall-time (seconds) and peak-memory (MB) targets of the full-size run."""

mixed_table = simulate_heart_cohort
"""The benchmark's tables: :func:`course_utils.data.simulate_heart_cohort` (former name)."""


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes
    return rss / 1024**2 if sys.platform == "darwin" else rss / 1024


def _tables(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from ..generators.baselines import IndependentMarginals

    train = mixed_table(n, seed)
    holdout = mixed_table(n, seed + 1)
    synthetic = IndependentMarginals(random_state=seed, verbose=False).fit(train).sample(n)
    return train, synthetic, holdout


def _thread_settings() -> dict[str, Any]:
    """Limit BLAS and torch to ``THREADS`` threads; return what the stage will see."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from ..evaluation.distances import blas_threads

    threadpool_limits(THREADS, user_api="blas")
    threadpool_limits(OPENMP_THREADS, user_api="openmp")
    info: dict[str, Any] = {"blas": sorted({f"{i.get('internal_api')}:{i.get('num_threads')}"
                                            for i in threadpool_info()}),
                            "search_threads": blas_threads()}
    try:
        import torch

        torch.set_num_threads(THREADS)
        info["torch"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is in requirements
        info["torch"] = None
    return info


def _timed(func, *args, **kwargs) -> tuple[Any, float, float]:
    """``func(*args, **kwargs)`` with its wall time and the process's CPU time, in seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - t0, time.process_time() - c0


def _run_stage(n: int, seed: int, measure) -> dict[str, Any]:
    """A stage's common record around ``measure(train, synthetic, holdout)`` (which returns its figures)."""
    threads = _thread_settings()
    load0 = os.getloadavg()
    train, synthetic, holdout = _tables(n, seed)
    base = _peak_rss_mb()
    figures = measure(train, synthetic, holdout)
    return {"rows": n, "columns": train.shape[1], "holdout_rows": len(holdout), "threads": threads,
            "load_average_before": load0, "load_average_after": os.getloadavg(), **figures,
            "peak_rss_mb": round(_peak_rss_mb(), 1), "rss_before_mb": round(base, 1)}


def _measure_evaluate(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    from ..evaluation import evaluate, get_card
    from ..evaluation.privacy import privacy_report

    report, wall, cpu = _timed(evaluate, train, synthetic, holdout, target="death", random_state=0,
                               privacy=False)
    # the privacy rows that evaluate(privacy=True) adds, timed on their own
    priv, wall_p, cpu_p = _timed(privacy_report, train, synthetic, holdout, random_state=0)
    report = pd.concat([report, priv.assign(family="privacy")], ignore_index=True)
    key = report[report["column"].isna() | (report["family"] == "utility")]
    picks = {f"{r.family}/{r.metric}": [round(float(r.value), 4), round(float(r.reference), 4)
                                          if pd.notna(r.reference) else None]
             for r in key.itertuples()}
    cards = {}
    for metric in dict.fromkeys(key["metric"]):
        card = get_card(metric)
        cards[metric] = {"best": card.best, "direction": card.direction, "range": card.range}
    return {"wall_s": round(wall + wall_p, 2), "cpu_s": round(cpu + cpu_p, 2),
            "wall_s_without_privacy": round(wall, 2), "cpu_s_without_privacy": round(cpu, 2),
            "wall_s_privacy_part": round(wall_p, 2), "cpu_s_privacy_part": round(cpu_p, 2),
            "report_rows": len(report), "values_[value,reference]": picks, "metric_cards": cards}


def _measure_privacy(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    from ..evaluation.privacy import privacy_report

    report, wall, cpu = _timed(privacy_report, train, synthetic, holdout, random_state=0)
    picks = {r.metric: round(float(r.value), 4) for r in report.itertuples() if pd.notna(r.value)}
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "values": picks}


def _stage_evaluate(n: int) -> dict[str, Any]:
    return _run_stage(n, 0, _measure_evaluate)


def _stage_privacy(n: int) -> dict[str, Any]:
    return _run_stage(n, 10, _measure_privacy)


def _in_fresh_process(func, *args) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def run(quick: bool = False) -> dict[str, Any]:
    """Run both stages and return their wall times, peak memory and headline values."""
    scale = 10 if quick else 1
    n_eval, n_priv = 10_000 // scale, 100_000 // scale
    out: dict[str, Any] = {
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "blas_threads_per_stage": THREADS, "openmp_threads_per_stage": OPENMP_THREADS,
                    "load_average_at_start": os.getloadavg()},
        "targets": dict(TARGETS),
    }
    out["evaluate"] = _in_fresh_process(_stage_evaluate, n_eval)
    out["privacy"] = _in_fresh_process(_stage_privacy, n_priv)
    if not quick:
        out["meets_targets"] = {
            "evaluate_time": out["evaluate"]["wall_s"] < TARGETS["evaluate_s"],
            "privacy_time": out["privacy"]["wall_s"] < TARGETS["privacy_s"],
            "privacy_memory": out["privacy"]["peak_rss_mb"] < TARGETS["privacy_peak_mb"],
        }
    return out
