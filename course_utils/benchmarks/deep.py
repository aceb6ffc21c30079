"""Benchmark of the deep generators: ``python -m course_utils benchmark deep``.

On the WHAS500 training split (the course's split: 70% train, stratified on
``fstat``, seed :data:`course_utils.config.SEED`), for generator seeds 0, 1 and 2, each
generator is trained at its lesson settings on the CPU (one torch thread) and
sampled as many rows as the training table has. Recorded per run:

- ``train_s``: wall time of ``fit`` (target: VAE under 60 s on 2 cores), and
  ``train_cpu_s``, the CPU time of the process during ``fit`` (on a machine shared with
  other work the wall time overstates the cost; CPU time does not);
- ``quality``: the toolkit's quality score against the training table
  (:func:`course_utils.evaluation.quality_score`, overall), with the real holdout's
  score as the honest ceiling;
- ``tstr_auc`` and ``trtr_auc``: ROC AUC on the holdout of a logistic regression
  predicting ``fstat``, trained on synthetic and on real rows
  (:func:`course_utils.evaluation.tstr`); target: TSTR within 0.05 of TRTR;
- ``dcr_share``: size-adjusted share of synthetic rows closer to a training row
  than to a holdout row (:func:`course_utils.evaluation.privacy.dcr`; 0.5 means no
  leakage; target below 0.6), and ``dcr_share_raw`` before the size adjustment
  (its no-leakage value is n_train / (n_train + n_holdout) = 0.7 here).

Generators: :class:`~course_utils.generators.vae.VAESynthesizer` (lesson 06
settings), :class:`~course_utils.generators.gan.GANSynthesizer` (lesson 07 settings,
its defaults) when present, and the references
:class:`~course_utils.generators.IndependentMarginals` (lower bracket) and
:class:`~course_utils.generators.copula.GaussianCopula` when present.
``quick=True`` runs seed 0 only with a tenth of the epochs (a smoke test).
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED

SEEDS = (0, 1, 2)
# Networks this small gain nothing from several threads per operation; on a 2-core
# machine that also runs other work, two busy-waiting threads make training slower.
TORCH_THREADS = 1
VAE_LESSON_SETTINGS: dict[str, Any] = {}  # lesson 06 uses the VAESynthesizer defaults
TARGETS = {"vae_train_s": 60.0, "tstr_gap": 0.05, "dcr_share": 0.6}


def _factories(quick: bool) -> dict[str, Callable[[int], Any]]:
    from ..generators import IndependentMarginals
    from ..generators.vae import VAESynthesizer

    out: dict[str, Callable[[int], Any]] = {
        "IndependentMarginals": lambda s: IndependentMarginals(random_state=s),
    }
    try:
        copula = importlib.import_module("course_utils.generators.copula").GaussianCopula
        out["GaussianCopula"] = lambda s: copula(random_state=s)
    except (ImportError, AttributeError):
        pass
    vae_kw = dict(VAE_LESSON_SETTINGS)
    if quick:
        vae_kw["epochs"] = 30
    out["VAE"] = lambda s: VAESynthesizer(random_state=s, verbose=False, device="cpu", **vae_kw)
    try:
        gan = importlib.import_module("course_utils.generators.gan").GANSynthesizer
        gan_kw: dict[str, Any] = {"epochs": 30} if quick else {}
        out["GAN"] = lambda s: gan(random_state=s, verbose=False, device="cpu", **gan_kw)
    except (ImportError, AttributeError):
        pass
    return out


def _scores(train: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame, meta, target: str) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        from ..evaluation import quality_score

        out["quality"] = quality_score(train, synth, meta)["overall"]
    except ImportError:
        pass
    try:
        from ..evaluation import tstr

        t = tstr(train, synth, holdout, target=target, metadata=meta, n_bootstrap=0, random_state=0)
        auc = t[t["metric"] == "auc"].set_index("trained_on")["value"]
        out["trtr_auc"], out["tstr_auc"] = float(auc["real"]), float(auc["synthetic"])
        out["tstr_gap"] = out["trtr_auc"] - out["tstr_auc"]
    except ImportError:
        pass
    try:
        from ..evaluation.privacy import dcr

        d = dcr(train, synth, holdout, meta)
        out["dcr_share"], out["dcr_share_raw"] = d.share_closer_to_train, d.share_closer_to_train_raw
    except ImportError:
        pass
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Train every deep generator and its references on WHAS500; return the figures as a dict."""
    import torch

    from ..data import WHAS500_TARGET, load_whas500, train_holdout_split

    threads_before = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        df, meta = load_whas500(return_metadata=True)
        train, holdout = train_holdout_split(df, stratify=WHAS500_TARGET, random_state=SEED)
        train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
        seeds = SEEDS[:1] if quick else SEEDS
        rows: list[dict[str, Any]] = []
        reference = _scores(train, holdout, holdout, meta, WHAS500_TARGET)
        for name, make in _factories(quick).items():
            for seed in seeds:
                gen = make(seed)
                start, cpu_start = time.perf_counter(), time.process_time()
                gen.fit(train, meta)
                train_s = time.perf_counter() - start
                train_cpu_s = time.process_time() - cpu_start
                synth = gen.sample(len(train), random_state=seed)
                rows.append({"generator": name, "seed": seed, "train_s": train_s, "train_cpu_s": train_cpu_s,
                             **_scores(train, synth, holdout, meta, WHAS500_TARGET)})
                print(f"{name} seed {seed}: " + ", ".join(
                    f"{k}={v:.3f}" for k, v in rows[-1].items() if isinstance(v, float)), flush=True)
    finally:
        torch.set_num_threads(threads_before)
    table = pd.DataFrame(rows)
    numeric = [c for c in table.columns if c not in ("generator", "seed")]
    summary = table.groupby("generator", sort=False)[numeric].agg(["mean", "std"])
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    verdict = _verdict(table)
    return {
        "benchmark": "deep",
        "quick": quick,
        "data": f"WHAS500 train split ({len(train)} rows), holdout {len(holdout)} rows, split seed {SEED}",
        "seeds": list(seeds),
        "torch_threads": TORCH_THREADS,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__},
        "holdout_reference": {"quality": reference.get("quality"), "trtr_auc": reference.get("trtr_auc")},
        "runs": table.replace({np.nan: None}).to_dict(orient="records"),
        "summary": {g: {k: (None if pd.isna(v) else float(v)) for k, v in r.items()}
                    for g, r in summary.iterrows()},
        "targets": TARGETS,
        "verdict": verdict,
    }


def _verdict(table: pd.DataFrame) -> dict[str, Any]:
    """Does each deep generator meet the lesson's performance targets (seed means and worst seed)?"""
    out: dict[str, Any] = {}
    means = table.groupby("generator")[["quality"]].mean()["quality"] if "quality" in table else None
    for name in ("VAE", "GAN"):
        runs = table[table["generator"] == name]
        if runs.empty:
            continue
        v: dict[str, Any] = {"max_train_s": float(runs["train_s"].max())}
        if name == "VAE":
            v["trains_under_60s"] = bool(runs["train_s"].max() < TARGETS["vae_train_s"])
        if means is not None:
            q = float(means[name])
            v["beats_independent_marginals"] = bool(q > means.get("IndependentMarginals", -np.inf))
            if "GaussianCopula" in means:
                # seed-to-seed spread of the score is a few thousandths: read the gap too
                v["quality_minus_gaussian_copula"] = q - float(means["GaussianCopula"])
                v["at_least_gaussian_copula"] = bool(q >= means["GaussianCopula"])
        if "tstr_gap" in runs:
            v["max_tstr_gap"] = float(runs["tstr_gap"].max())
            v["tstr_within_0.05"] = bool(runs["tstr_gap"].max() <= TARGETS["tstr_gap"])
        if "dcr_share" in runs:
            v["max_dcr_share"] = float(runs["dcr_share"].max())
            v["dcr_share_below_0.6"] = bool(runs["dcr_share"].max() < TARGETS["dcr_share"])
        out[name] = v
    return out
