"""Benchmark of the differentially private generators: ``python -m course_utils benchmark dp``.

Data: WHAS500 (outcome ``fstat``) and the stroke table (outcome ``Clotbuster given``),
each split 70/30 with :func:`course_utils.data.train_holdout_split` (stratified on the
outcome, seed :data:`course_utils.config.SEED`); the generators see the training part
only. The numeric columns' bounds are the public ranges of
:mod:`course_utils.generators.dp_domain`, never the data's minimum and maximum.

Protocol (:func:`epsilon_sweep`, also what lesson 10 plots): for each epsilon in
:data:`EPSILONS` (``None``: no privacy, the same model with ``epsilon=inf``) and each
seed in :data:`SEEDS`, fit :class:`~course_utils.generators.mst.MSTSynthesizer` (with its
privately chosen tree, as ``MST-star`` with the star around the outcome fixed in advance, and
on WHAS500 as ``MST-plan`` with the public measurement plan
:data:`~course_utils.generators.dp_domain.WHAS500_PUBLIC_PLAN`: five weighted pairs) and
:class:`~course_utils.generators.dp_vae.DPVAESynthesizer` (delta = 1e-6) and sample as
many rows as the training part; the non-private
:class:`~course_utils.generators.CARTSynthesizer` is the reference. Recorded per run:

- ``quality``: the quality score against the training part (overall);
- ``tstr_auc`` and ``trtr_auc``: ROC AUC on the holdout of a logistic regression trained
  on synthetic and on real rows, ``tstr_gap`` = TRTR - TSTR;
- ``mia_auc``: the strongest of the distance and density membership-inference attacks
  (:func:`course_utils.evaluation.membership_inference`; 0.5 = a coin flip), and the
  three attacks' AUCs;
- ``epsilon_spent`` as reported by the generator, ``fit_s`` (wall time of fit + sample).

Targets (:data:`TARGETS`): MST fit + sample on the whole stroke table under 60 s; on
WHAS500 at epsilon = 1, MST's mean TSTR within 0.05 of TRTR and mean membership AUC at
most 0.55. ``quick=True``: seed 0, epsilons 1 and None, few DP-VAE epochs.

Command line: ``python -m course_utils benchmark dp [--quick] [--only MST-plan]
[--datasets whas500] [--append] [--out FILE]``; ``--append`` adds the runs to those in
``--out`` (a run of the same table, generator, epsilon and seed is replaced) and
recomputes the summary and the verdict from all of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED

EPSILONS: tuple[float | None, ...] = (0.5, 1.0, 3.0, 10.0, None)
SEEDS = (0, 1, 2)
DELTA = 1e-6
TARGETS = {"mst_stroke_fit_sample_s": 60.0, "whas500_eps1_tstr_gap": 0.05, "whas500_eps1_mia_auc": 0.55}
GENERATORS = ("MST", "MST-star", "MST-plan", "DP-VAE")
DATASETS = ("whas500", "stroke")
RUN_KEYS = ("dataset", "generator", "epsilon", "seed")
VAE_PARAMS: dict[str, Any] = {}
"""DP-VAE settings of the sweep (the class defaults); lesson 10 passes fewer epochs in fast mode."""


def dp_split(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame, Any, str, dict[str, tuple[float, float]]]:
    """``(train, holdout, metadata, target, public_bounds)`` of ``"whas500"`` or ``"stroke"``."""
    from ..data import STROKE_TARGET, WHAS500_TARGET, load_stroke, load_whas500, train_holdout_split
    from ..generators.dp_domain import STROKE_PUBLIC_BOUNDS, WHAS500_PUBLIC_BOUNDS

    if dataset == "whas500":
        df, meta = load_whas500(return_metadata=True)
        target, bounds = WHAS500_TARGET, WHAS500_PUBLIC_BOUNDS
    elif dataset == "stroke":
        df, meta = load_stroke(return_metadata=True)
        target, bounds = STROKE_TARGET, STROKE_PUBLIC_BOUNDS
    else:
        raise ValueError(f"unknown dataset {dataset!r}; use 'whas500' or 'stroke'")
    train, holdout = train_holdout_split(df, stratify=target, random_state=SEED)
    return train, holdout, meta, target, dict(bounds)


def public_plan(dataset: str) -> dict[tuple[str, str], float] | None:
    """The public measurement plan of ``dataset`` for ``MST-plan`` (``None``: the table has none)."""
    from ..generators.dp_domain import WHAS500_PUBLIC_PLAN

    return dict(WHAS500_PUBLIC_PLAN) if dataset == "whas500" else None


def make_generator(name: str, epsilon: float | None, seed: int, bounds: dict[str, tuple[float, float]],
                   vae_params: dict[str, Any] | None = None, target: str | None = None,
                   plan: dict[tuple[str, str], float] | None = None) -> Any:
    """An unfitted ``"MST"``, ``"MST-star"``, ``"MST-plan"``, ``"DP-VAE"`` or ``"CART"`` at ``epsilon`` (None: no privacy).

    ``"MST-star"`` is MST with the tree fixed in advance to the star around ``target``
    (public knowledge of the analysis the data are for), so no budget goes to selection.
    ``"MST-plan"`` measures only the weighted pairs of ``plan`` (see
    :func:`course_utils.generators.mst_plan.measurement_plan`).
    """
    from ..generators import CARTSynthesizer
    from ..generators.dp_vae import DPVAESynthesizer
    from ..generators.mst import MSTSynthesizer

    eps = math.inf if epsilon is None else float(epsilon)
    if name in ("MST", "MST-star", "MST-plan"):
        if name == "MST-star" and target is None:
            raise ValueError("MST-star needs the target column its star is built around")
        if name == "MST-plan" and not plan:
            raise ValueError("MST-plan needs a public measurement plan {(column, column): weight}")
        tree = {"MST": None, "MST-star": target, "MST-plan": plan}[name]
        return MSTSynthesizer(epsilon=eps, delta=DELTA, bounds=bounds, random_state=seed, verbose=False,
                              tree=tree)
    if name == "DP-VAE":
        params = {**VAE_PARAMS, **(vae_params or {})}
        return DPVAESynthesizer(epsilon=eps, delta=DELTA, bounds=bounds, random_state=seed, verbose=False, **params)
    if name == "CART":
        return CARTSynthesizer(random_state=seed)
    raise ValueError(f"unknown generator {name!r}; use 'MST', 'MST-star', 'MST-plan', 'DP-VAE' or 'CART'")


def score_synthetic(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, meta: Any,
                    target: str) -> dict[str, float]:
    """Quality, TSTR/TRTR AUC and membership-inference AUCs of one synthetic table."""
    from ..evaluation import membership_inference, quality_score, tstr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = tstr(train, synthetic, holdout, target, metadata=meta, n_bootstrap=20)
        auc = res[res["metric"] == "auc"].set_index("trained_on")["value"]
        mia = membership_inference(train, synthetic, holdout, meta, random_state=0)
    return {"quality": float(quality_score(train, synthetic, meta)["overall"]),
            "tstr_auc": float(auc["synthetic"]), "trtr_auc": float(auc["real"]),
            "tstr_gap": float(auc["real"] - auc["synthetic"]),
            "mia_auc": float(max(mia["distance_auc"], mia["density_auc"])),
            **{f"mia_{k}": float(v) for k, v in mia.items()}}


def epsilon_sweep(dataset: str, epsilons: tuple[float | None, ...] = EPSILONS,
                  seeds: tuple[int, ...] = SEEDS, generators: tuple[str, ...] = GENERATORS,
                  reference: bool = True, vae_params: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per (generator, epsilon, seed): the figures of the module docstring.

    ``epsilon`` is ``None`` for the non-private runs (the DP generators at
    ``epsilon=inf`` and, with ``reference=True``, CART). ``MST-plan`` runs only on a
    table with a :func:`public_plan`.
    """
    train, holdout, meta, target, bounds = dp_split(dataset)
    plan = public_plan(dataset)
    generators = tuple(g for g in generators if g != "MST-plan" or plan)
    runs = [(g, e) for g in generators for e in epsilons] + ([("CART", None)] if reference else [])
    rows = []
    for name, eps in runs:
        for seed in seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gen = make_generator(name, eps, seed, bounds, vae_params, target, plan).fit(train, meta)
                synthetic = gen.sample(len(train), random_state=1000 + seed)
            elapsed = time.perf_counter() - start
            spent = getattr(gen, "epsilon_spent_", math.inf)
            rows.append({"dataset": dataset, "generator": name, "epsilon": eps, "seed": seed,
                         "epsilon_spent": None if math.isinf(spent) else spent,
                         "fit_s": elapsed, **score_synthetic(train, holdout, synthetic, meta, target)})
    return pd.DataFrame(rows)


def time_mst_stroke(seed: int = SEED) -> dict[str, float]:
    """Wall and CPU time of MST fit + sample on the whole stroke table (1,862 rows) at epsilon 1."""
    from ..data import load_stroke
    from ..generators.dp_domain import STROKE_PUBLIC_BOUNDS
    from ..generators.mst import MSTSynthesizer

    df, meta = load_stroke(return_metadata=True)
    wall, cpu = time.perf_counter(), time.process_time()
    gen = MSTSynthesizer(epsilon=1.0, delta=DELTA, bounds=STROKE_PUBLIC_BOUNDS, random_state=seed,
                         verbose=False).fit(df, meta)
    gen.sample(len(df))
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def _summary(runs: pd.DataFrame) -> list[dict[str, Any]]:
    keys = ["dataset", "generator", "epsilon"]
    table = runs.assign(epsilon=runs["epsilon"].astype(float).fillna(np.inf))
    agg = table.groupby(keys)[["quality", "tstr_auc", "trtr_auc", "tstr_gap", "mia_auc", "fit_s"]]
    out = agg.mean().join(agg.std().add_suffix("_sd")).reset_index()
    out["epsilon"] = out["epsilon"].map(lambda e: None if math.isinf(e) else e)
    return out.round(4).to_dict(orient="records")


def verdicts(runs: pd.DataFrame, timing: dict[str, float]) -> dict[str, Any]:
    """Each target's value (per seed where there are seeds) and whether it is met."""
    verdict: dict[str, Any] = {"mst_stroke_fit_sample_s": {"value": round(timing["wall_s"], 2), "target": "< 60",
                                                           "met": timing["wall_s"] < TARGETS["mst_stroke_fit_sample_s"]}}
    for name, suffix in (("MST", ""), ("MST-star", "_star"), ("MST-plan", "_plan")):
        at1 = runs[(runs["dataset"] == "whas500") & (runs["generator"] == name) & (runs["epsilon"] == 1.0)]
        if at1.empty:
            continue
        at1 = at1.sort_values("seed")
        gap, mia = float(at1["tstr_gap"].mean()), float(at1["mia_auc"].mean())
        verdict[f"whas500_eps1_tstr_gap{suffix}"] = {
            "value": round(gap, 4), "per_seed": at1["tstr_gap"].round(4).tolist(),
            "target": "<= 0.05", "met": gap <= TARGETS["whas500_eps1_tstr_gap"]}
        verdict[f"whas500_eps1_mia_auc{suffix}"] = {
            "value": round(mia, 4), "per_seed": at1["mia_auc"].round(4).tolist(),
            "target": "<= 0.55", "met": mia <= TARGETS["whas500_eps1_mia_auc"]}
    return verdict


def run(quick: bool = False, generators: tuple[str, ...] = GENERATORS, datasets: tuple[str, ...] = DATASETS,
        previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready results with the verdict on each target.

    ``previous``: results of an earlier run whose runs are kept unless this run repeats
    them (same table, generator, epsilon and seed); summary and verdict cover them all.
    """
    from .generators import combine_runs

    epsilons = (1.0, None) if quick else EPSILONS
    seeds = (0,) if quick else SEEDS
    vae = {"epochs": 3} if quick else {}
    start = time.perf_counter()
    timing = time_mst_stroke()
    # a fresh file always has its non-private reference; an appended run only if asked
    reference = "CART" in generators or previous is None
    private = tuple(g for g in generators if g != "CART")
    runs = pd.concat([epsilon_sweep(d, epsilons, seeds, private, reference, vae) for d in datasets],
                     ignore_index=True)
    if previous is not None:
        old = pd.DataFrame(previous["runs"])
        # no privacy is epsilon None: a key that compares equal to itself, for matching runs
        old["epsilon"], runs["epsilon"] = old["epsilon"].fillna(np.inf), runs["epsilon"].fillna(np.inf)
        runs = combine_runs(old, runs, RUN_KEYS)
        runs["epsilon"] = runs["epsilon"].map(lambda e: None if math.isinf(e) else e).astype(object)
        epsilons = tuple(previous["epsilons"])
        seeds = tuple(sorted(set(previous["seeds"]) | set(seeds)))
    return {
        "benchmark": "dp", "quick": quick, "epsilons": [e for e in epsilons], "seeds": list(seeds),
        "delta": DELTA, "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                    "torch_threads": os.environ.get("COURSE_TORCH_THREADS")},
        "mst_stroke_timing": {k: round(v, 3) for k, v in timing.items()},
        "verdict": verdicts(runs, timing), "summary": _summary(runs),
        "runs": runs.round(4).replace({np.nan: None}).to_dict(orient="records"),
        "total_s": round(time.perf_counter() - start, 1) + (previous or {}).get("total_s", 0.0),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils benchmark dp [options]`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark dp")
    parser.add_argument("--quick", action="store_true", help="seed 0, epsilons 1 and none, few DP-VAE epochs")
    parser.add_argument("--only", default=",".join(GENERATORS), help="generators, comma-separated (CART: the reference)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--append", action="store_true",
                        help="add these runs to those in --out (same table, generator, epsilon, seed: replaced)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/dp.json)")
    args = parser.parse_args(argv)
    out = Path(args.out or Path("benchmarks") / "results" / f"dp{'-quick' if args.quick else ''}.json")
    previous = json.loads(out.read_text(encoding="utf-8")) if args.append and out.exists() else None
    results = run(args.quick, tuple(args.only.split(",")), tuple(args.datasets.split(",")), previous)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(results["verdict"], indent=2))
    print(f"results written to {out}")
    return 0


def plot_privacy_utility(runs: pd.DataFrame, dataset: str) -> Any:
    """Quality, TSTR AUC and membership AUC against epsilon for one dataset (mean and range over seeds).

    Each DP generator is a line over the finite epsilons with its no-privacy run as a
    marker at the right ("none"); CART (non-private) is a dashed line, TRTR a dotted one.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    table = runs[runs["dataset"] == dataset]
    finite = sorted(e for e in table["epsilon"].dropna().unique())
    x_none = (finite[-1] * 3) if finite else 1.0
    panels = [("quality", "quality score (vs train)"), ("tstr_auc", "TSTR ROC AUC"),
              ("mia_auc", "membership-inference AUC")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (col, label) in zip(axes, panels, strict=True):
        for name, group in table[table["generator"] != "CART"].groupby("generator"):
            stats = group.assign(x=group["epsilon"].fillna(x_none)).groupby("x")[col].agg(["mean", "min", "max"])
            line = stats.loc[stats.index != x_none]
            handle = ax.plot(line.index, line["mean"], marker="o", label=name)[0]
            ax.fill_between(line.index, line["min"], line["max"], alpha=0.15, color=handle.get_color())
            if x_none in stats.index:
                ax.errorbar([x_none], [stats.loc[x_none, "mean"]], fmt="s", color=handle.get_color(),
                            yerr=[[stats.loc[x_none, "mean"] - stats.loc[x_none, "min"]],
                                  [stats.loc[x_none, "max"] - stats.loc[x_none, "mean"]]])
        span = [finite[0] if finite else x_none, x_none]  # lines drawn as data, so the axes include them
        cart = table.loc[table["generator"] == "CART", col]
        if len(cart):
            ax.plot(span, [cart.mean()] * 2, color="grey", linestyle="--", label="CART (not private)")
        if col == "tstr_auc":
            ax.plot(span, [table["trtr_auc"].mean()] * 2, color="black", linestyle=":", label="TRTR")
        if col == "mia_auc":
            ax.plot(span, [0.5, 0.5], color="black", linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xticks(finite + [x_none], [f"{e:g}" for e in finite] + ["none"])
        ax.minorticks_off()
        ax.set_xlabel("epsilon")
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{dataset}: privacy against utility", fontsize=11)
    fig.tight_layout()
    return fig
