"""Benchmark of masked clinical modelling: ``python -m course_utils benchmark mcm``.

Data: the WHAS500 training split of the course (350 rows, stratified on ``fstat``,
seed :data:`course_utils.config.SEED`); the 150-row holdout is used for DCR and the
survival TSTR only.

Protocol:

- :class:`~course_utils.generators.mcm.MCMSynthesizer` at its defaults (lesson 08's full
  settings) and :class:`~course_utils.generators.GaussianCopula`, each fitted once per
  seed in :data:`SEEDS` on the CPU with one torch thread;
- ``train_s`` (wall) and ``train_cpu_s`` (CPU time of the process: the machine may be
  shared, and wall time then overstates the cost) of ``fit``; ``sample_1000_s`` and
  ``sample_1000_cpu_s`` of a full synthesis of 1,000 rows;
- from each fitted model, :data:`N_SAMPLES` full syntheses of 350 rows (sample seeds
  ``1000 * seed + k``), each scored and the scores averaged: ``hr_within_real_ci``
  (share of the 14 Cox covariates whose synthetic hazard ratio lies inside the real
  training fit's 95% interval), ``hr_agree`` (same sign and significance),
  ``hr_overlap`` (mean CI overlap), ``c_index_tstr`` with ``c_index_trtr``, and
  ``dcr_share`` (size-adjusted, 0.5 = no leakage);
- the real holdout's own hazard-ratio agreement is the reference for what new patients give.

Targets (:data:`TARGETS`, checked in ``verdict``): fit under 120 s and 1,000 rows under
10 s on every seed; MCM's mean ``hr_within_real_ci`` at least the copula's; MCM's DCR
share at most 0.55 on every seed. ``quick=True`` runs one seed, one sample and 30 epochs.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np

from ..config import SEED

SEEDS = (0, 1, 2)
N_SAMPLES = 3
TORCH_THREADS = 1
TARGETS = {"train_s": 120.0, "sample_1000_s": 10.0, "dcr_share": 0.55}


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _scores(train: Any, synth: Any, holdout: Any, meta: Any) -> dict[str, float]:
    from ..evaluation.privacy import dcr
    from ..evaluation.survival import hazard_ratio_agreement, hazard_ratio_table, survival_tstr

    agree = hazard_ratio_agreement(hazard_ratio_table(train, synth, metadata=meta))
    scores = survival_tstr(train, synth, holdout, metadata=meta)
    return {
        "hr_within_real_ci": agree["share_within_real_ci"],
        "hr_agree": agree["share_agree"],
        "hr_overlap": agree["mean_overlap"],
        "c_index_tstr": float(scores.loc["TSTR", "c_index"]),
        "c_index_trtr": float(scores.loc["TRTR", "c_index"]),
        "ibs_tstr": float(scores.loc["TSTR", "integrated_brier"]),
        "dcr_share": dcr(train, synth, holdout, meta).share_closer_to_train,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its results (also the JSON written by the CLI)."""
    import torch

    from ..checks import whas500_split
    from ..evaluation.survival import hazard_ratio_agreement, hazard_ratio_table
    from ..generators import GaussianCopula
    from ..generators.mcm import MCMSynthesizer

    torch.set_num_threads(TORCH_THREADS)
    train, holdout, meta = whas500_split()
    seeds = SEEDS[:1] if quick else SEEDS
    n_samples = 1 if quick else N_SAMPLES
    extra: dict[str, Any] = {"epochs": 30} if quick else {}
    factories = {
        "MCM": lambda s: MCMSynthesizer(random_state=s, verbose=False, device="cpu", **extra),
        "GaussianCopula": lambda s: GaussianCopula(random_state=s),
    }
    runs = []
    for name, make in factories.items():
        for seed in seeds:
            gen, fit_s, fit_cpu = _timed(lambda make=make, seed=seed: make(seed).fit(train, meta))
            _, sample_s, sample_cpu = _timed(lambda gen=gen, seed=seed: gen.sample(1000, random_state=seed))
            draws = [_scores(train, gen.sample(len(train), random_state=1000 * seed + k), holdout, meta)
                     for k in range(n_samples)]
            record: dict[str, Any] = {"generator": name, "seed": seed, "train_s": fit_s, "train_cpu_s": fit_cpu,
                                      "sample_1000_s": sample_s, "sample_1000_cpu_s": sample_cpu}
            record.update({k: float(np.mean([d[k] for d in draws])) for k in draws[0]})
            runs.append(record)
    summary: dict[str, dict[str, float]] = {}
    for name in factories:
        rows = [r for r in runs if r["generator"] == name]
        summary[name] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("generator", "seed")}
    mcm = [r for r in runs if r["generator"] == "MCM"]
    verdict = {
        "train_under_120_s": {"pass": all(r["train_s"] < TARGETS["train_s"] for r in mcm),
                              "max_train_s": max(r["train_s"] for r in mcm),
                              "max_train_cpu_s": max(r["train_cpu_s"] for r in mcm)},
        "sample_1000_under_10_s": {"pass": all(r["sample_1000_s"] < TARGETS["sample_1000_s"] for r in mcm),
                                   "max_sample_1000_s": max(r["sample_1000_s"] for r in mcm)},
        "hr_within_ci_at_least_copula": {
            "pass": summary["MCM"]["hr_within_real_ci"] >= summary["GaussianCopula"]["hr_within_real_ci"],
            "mcm": summary["MCM"]["hr_within_real_ci"], "copula": summary["GaussianCopula"]["hr_within_real_ci"]},
        "dcr_share_at_most_0.55": {"pass": all(r["dcr_share"] <= TARGETS["dcr_share"] for r in mcm),
                                   "max_dcr_share": max(r["dcr_share"] for r in mcm)},
    }
    reference = hazard_ratio_agreement(hazard_ratio_table(train, holdout, metadata=meta))
    return {
        "benchmark": "mcm",
        "quick": quick,
        "data": f"WHAS500 train split (350 rows), holdout 150 rows, split seed {SEED}",
        "protocol": ("each generator fitted once per seed at its default settings; 1,000-row full synthesis "
                     f"timed; {n_samples} full syntheses of 350 rows per fitted model scored and averaged"),
        "seeds": list(seeds),
        "torch_threads": TORCH_THREADS,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "holdout_reference": {"hr_within_real_ci": reference["share_within_real_ci"],
                              "hr_agree": reference["share_agree"], "hr_overlap": reference["mean_overlap"]},
        "runs": runs,
        "summary": summary,
        "verdict": verdict,
    }
