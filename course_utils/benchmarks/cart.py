"""Benchmark of sequential CART against the two baselines: speed, fidelity, utility, privacy.

``python -m course_utils benchmark cart`` (``--quick`` for a smoke run) measures:

- **speed**: fit + sample 10,000 rows on WHAS500 (target < 3 s), and fit + sample
  100,000 rows on a 100,000 x 30 table resampled from the stroke data (first 30
  columns, rows drawn with replacement; target < 60 s on 2 cores, ``n_jobs=2``);
- **fidelity**: the toolkit's quality score of CART and of every registered
  baseline (:func:`benchmark_generators`: the generator registry's families
  "baseline" and "trees", so a newly registered baseline joins the comparison) on
  the WHAS500 training split (70/30, stratified on
  ``fstat``), scored against the training rows and against the holdout, with the
  holdout's own score as the reference (target: CART >= copula);
- **utility**: TSTR vs TRTR ROC AUC for ``fstat`` with a logistic regression tested
  on the holdout (target: |TSTR - TRTR| <= 0.03);
- **privacy**: DCR share closer to train (0.5 = no leakage) and the 5th-percentile
  DCR ratio, and how both move with the minimum leaf size.

Every figure is a mean over seeds; timings are the best of a few repeats. Results
are keyed by the registry's generator names (``CARTSynthesizer``, ``GaussianCopula``,
``IndependentMarginals``, ...).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED
from ..data import WHAS500_TARGET, load_stroke, load_whas500, train_holdout_split
from ..generators import CARTSynthesizer, GeneratorEntry, registry

FAMILIES = ("baseline", "trees")
"""Registry families this benchmark compares (the torch generators have their own)."""


def benchmark_generators() -> list[GeneratorEntry]:
    """The registered generators this benchmark runs, read from the registry at call time.

    Every benchmark entry of :data:`FAMILIES` that needs neither torch nor an outcome
    column (SMOTE is compared in lesson 02).
    """
    return [e for e in registry(benchmark_only=True)
            if e.family in FAMILIES and not e.needs_torch and e.target is None]


def _best_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(min(times))


def speed(quick: bool = False) -> dict[str, Any]:
    """Fit + sample timings (seconds) on WHAS500 and on a resampled 100,000 x 30 stroke table."""
    whas, meta = load_whas500(return_metadata=True)
    repeats = 1 if quick else 3
    out: dict[str, Any] = {"whas500_rows_sampled": 10_000}
    for entry in benchmark_generators():
        out[f"whas500_fit_sample_s_{entry.name}"] = round(
            _best_time(lambda entry=entry: entry.make(SEED).fit(whas, meta).sample(10_000), repeats), 3
        )
    stroke, smeta = load_stroke(return_metadata=True)
    cols = list(stroke.columns[:30])
    n_rows = 20_000 if quick else 100_000
    big = stroke[cols].sample(n_rows, replace=True, random_state=SEED).reset_index(drop=True)
    bmeta = smeta.select(cols)
    gen = CARTSynthesizer(random_state=SEED, n_jobs=2)
    t = time.perf_counter()
    gen.fit(big, bmeta)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    gen.sample(n_rows)
    sample_s = time.perf_counter() - t
    out.update(
        {
            "stroke_rows": n_rows,
            "stroke_columns": len(cols),
            "stroke_fit_s_cart": round(fit_s, 3),
            "stroke_sample_s_cart": round(sample_s, 3),
            "stroke_fit_sample_s_cart": round(fit_s + sample_s, 3),
        }
    )
    return out


def _scores(train, holdout, meta, synth) -> dict[str, float]:
    from ..evaluation import quality_score, tstr
    from ..evaluation.privacy import dcr

    u = tstr(train, synth, holdout, WHAS500_TARGET, metadata=meta, n_bootstrap=0)
    auc = u[u["metric"] == "auc"].set_index("trained_on")["value"]
    d = dcr(train, synth, holdout, meta)
    return {
        "quality_vs_train": quality_score(train, synth, meta)["overall"],
        "quality_vs_holdout": quality_score(holdout, synth, meta)["overall"],
        "tstr_auc": float(auc["synthetic"]),
        "trtr_auc": float(auc["real"]),
        "dcr_share_closer_to_train": d.share_closer_to_train,
        "dcr_p5_ratio": d.p5_ratio,
    }


def quality(quick: bool = False) -> dict[str, Any]:
    """Quality score, TSTR vs TRTR and DCR on the WHAS500 split for CART and the baselines."""
    from ..evaluation import quality_score

    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, stratify=WHAS500_TARGET, random_state=SEED)
    seeds = [0] if quick else [0, 1, 2]
    n_synth = 1_000 if quick else 5_000
    makers: dict[str, Callable[[int], Any]] = {
        e.name: (lambda s, e=e: e.make(s)) for e in benchmark_generators()
    }
    makers["CARTSynthesizer (smoothed)"] = lambda s: CARTSynthesizer(smoothing="density", random_state=s)
    leaf_sizes = [1, 5, 20] if quick else [1, 2, 5, 10, 20, 40]
    for leaf in leaf_sizes:
        makers[f"CARTSynthesizer (leaf {leaf})"] = lambda s, leaf=leaf: CARTSynthesizer(
            min_samples_leaf=leaf, random_state=s
        )
    results: dict[str, dict[str, float]] = {}
    for name, make in makers.items():
        rows = [
            _scores(train, holdout, meta, make(s).fit(train, meta).sample(n_synth)) for s in seeds
        ]
        results[name] = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
    return {
        "n_train": len(train),
        "n_holdout": len(holdout),
        "n_synthetic": n_synth,
        "seeds": seeds,
        "holdout_reference_quality": round(quality_score(train, holdout, meta)["overall"], 4),
        "generators": results,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run every part and check the targets of the lesson-05 issue."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = speed(quick)
        q = quality(quick)
    g = q["generators"]
    cart, copula = g["CARTSynthesizer"], g["GaussianCopula"]
    targets = {
        "whas500_fit_sample_under_3s": sp["whas500_fit_sample_s_CARTSynthesizer"] < 3,
        "stroke_fit_sample_under_60s": sp["stroke_fit_sample_s_cart"] < 60,
        "quality_cart_ge_copula_vs_train": cart["quality_vs_train"] >= copula["quality_vs_train"],
        "quality_cart_ge_copula_vs_holdout": cart["quality_vs_holdout"] >= copula["quality_vs_holdout"],
        "tstr_within_0.03_of_trtr": abs(cart["tstr_auc"] - cart["trtr_auc"]) <= 0.03,
    }
    table = pd.DataFrame(g).T
    return {"quick": quick, "speed": sp, "quality": q, "targets": targets, "table": table.to_dict()}
