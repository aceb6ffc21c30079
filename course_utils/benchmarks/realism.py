"""Can a classifier tell synthetic rows from real ones, without and with the tables' rules?

``python -m course_utils benchmark realism [--only NAME,NAME] [--seeds 0,1,2]
[--datasets stroke,whas500] [--fast] [--out benchmarks/results/realism.json]``

For each generator (registry; default: the five of :data:`DEFAULT_ONLY`) and each
table, the protocol of ``benchmark generators`` (70/30 split, fit on the training part,
sample as many rows) is run twice: with the table's plain metadata, and with the
accepted rules of :func:`accepted_rules` in ``metadata.constraints``. Each run reports
the GBM detection AUC (0.5 ideal; the real holdout's is given as the reference), the
quality score, the DCR share (0.5 = no closer to training than to new patients, so a
gain in realism is not bought with copying), the share of rows breaking a rule, and
the rejection rate. Precision (each column's decimals) is on in both runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

DATASETS = ("stroke", "whas500")
DEFAULT_ONLY = ("IndependentMarginals", "GaussianCopula", "CARTSynthesizer", "VAESynthesizer", "GANSynthesizer")


def accepted_rules(name: str, train: pd.DataFrame, meta: Any) -> list[Any]:
    """The rules a clinician would accept for a course table.

    Stroke: every derived column :func:`discover_constraints` proposes (sums,
    thresholds, severity bins; all true by definition), none of its chance
    inequalities. WHAS500: ``diasbp < sysbp`` and the survival pair
    ``(lenfol, fstat)`` bounded by the study's longest follow-up.
    """
    from ..constraints import Inequality, SurvivalPair, discover_constraints

    if name == "stroke":
        return [c for c in discover_constraints(train, meta) if c.derived]
    if name == "whas500":
        return [Inequality("diasbp", "sysbp"),
                SurvivalPair("lenfol", "fstat", max_followup=float(meta["lenfol"].bounds[1]))]
    return []


def one_run(entry: Any, train: pd.DataFrame, holdout: pd.DataFrame, meta: Any, target: str,
            seed: int, fast: bool, rules: list[Any], judged_by: list[Any]) -> dict[str, Any]:
    """Fit, sample and score one generator with ``rules`` (empty: none), counting rows that break ``judged_by``."""
    from ..constraints import rows_satisfying
    from ..evaluation import quality_score
    from ..evaluation.detection import detection_auc
    from ..evaluation.privacy import dcr

    gen = entry.make(seed, fast=fast, target=target) if entry.target else entry.make(seed, fast=fast)
    start = time.perf_counter()
    gen.fit(train, meta.with_constraints(rules) if rules else meta)
    synthetic = gen.sample(len(train), random_state=seed)
    return {
        "fit_sample_s": time.perf_counter() - start,
        "detection_auc": detection_auc(train, synthetic, "gbm", meta, random_state=seed),
        "quality": quality_score(train, synthetic.iloc[: len(holdout)], meta)["overall"],
        "dcr_share": dcr(train, synthetic, holdout, meta).share_closer_to_train,
        "rows_breaking_a_rule": float(1 - rows_satisfying(synthetic, judged_by).mean()),
        "rejection_rate": float(getattr(gen, "rejection_rate_", 0.0)),
    }


def run_benchmark(datasets=DATASETS, seeds=(0,), fast: bool = False, only=DEFAULT_ONLY) -> pd.DataFrame:
    """One row per (dataset, generator, seed, rules off/on), or an ``error``."""
    from ..evaluation.detection import detection_auc
    from ..generators import registry
    from .generators import load_split

    entries = [e for e in registry() if e.name in only]
    unknown = set(only) - {e.name for e in entries}
    if unknown:
        raise ValueError(f"unknown generator(s) in --only: {sorted(unknown)}")
    rows = []
    for name in datasets:
        train, holdout, meta, target = load_split(name)
        rules = accepted_rules(name, train, meta)
        for seed in seeds:
            reference = detection_auc(train, holdout, "gbm", meta, random_state=seed)
            for entry in entries:
                for with_rules in (False, True):
                    row: dict[str, Any] = {"dataset": name, "generator": entry.name, "seed": seed,
                                           "rules": with_rules, "detection_auc_holdout": reference}
                    try:
                        row.update(one_run(entry, train, holdout, meta, target, seed, fast,
                                           rules if with_rules else [], rules))
                    except Exception as exc:  # one failure must not stop the table
                        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    print(row, flush=True)
                    rows.append(row)
    return pd.DataFrame(rows)


def before_after(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds, one row per table and generator: each metric without and with rules."""
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    metrics = ["detection_auc", "quality", "dcr_share", "rows_breaking_a_rule", "rejection_rate"]
    mean = ok.groupby(["dataset", "generator", "rules"], sort=False)[metrics].mean().unstack("rules")
    mean.columns = [f"{m}_{'with' if r else 'without'}" for m, r in mean.columns]
    return mean.reset_index()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run, print the before/after table, write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark realism")
    parser.add_argument("--only", default=",".join(DEFAULT_ONLY), help="generators, comma-separated")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--fast", action="store_true", help="the registry's test settings (short training)")
    parser.add_argument("--out", default="benchmarks/results/realism.json")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    runs = run_benchmark(tuple(args.datasets.split(",")), seeds, args.fast, tuple(args.only.split(",")))
    table = before_after(runs)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"settings": {"seeds": list(seeds), "fast": args.fast, "datasets": args.datasets.split(","),
                           "generators": args.only.split(",")},
              "rules": {d: [str(c) for c in accepted_rules(d, *_split_meta(d))] for d in args.datasets.split(",")},
              "before_after": table.to_dict(orient="records"),
              "runs": runs.to_dict(orient="records")}
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return 0


def _split_meta(name: str) -> tuple[pd.DataFrame, Any]:
    from .generators import load_split

    train, _, meta, _ = load_split(name)
    return train, meta
