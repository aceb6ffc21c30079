"""One table, split many times: ``python -m course_utils benchmark splits``.

Options: ``--dataset veterans --splits 30 [--only NAME,NAME] [--fast]
[--out benchmarks/results/splits/DATASET] [--append]``. Without ``--only``, every generator of the
generator benchmark's table (the registry's ``in_benchmark`` entries).

The generator benchmark (:mod:`.generators`) splits each table once, with the course's
seed, and averages over generator seeds. On a small table that one split can decide a
score: the veterans table has 137 patients and 9 survivors, so its holdout of 42 holds 3
of them, and an AUC for ``status`` ranks 3 x 39 pairs. A mean over generator seeds cannot
average that away, because every seed meets the same 3 patients.

This benchmark splits the table ``--splits`` times (split ``k`` uses split seed
``SEED + 1 + k``, so none of them is the benchmark's own split, and generator seed ``k``),
fits every chosen generator on each training part and scores it against that split's
holdout with the generator benchmark's :func:`~.generators.score` and
:func:`~.generators.references`. It reports, for every metric, the mean over splits and its
standard error, and the paired differences that matter: ``tstr_auc - trtr_auc`` and, on the
survival tables, ``tstr_cindex - trtr_cindex``. Then the course's target
(:data:`~.generators.TARGET`) is checked on the means.

Each split also scores :data:`RESAMPLED`: the training patients themselves, drawn with
replacement, as many as a generator draws. It is no generator (it copies every row it
draws) but the best a generator can hope for: a new sample of the training table's size
carries its own sampling noise, so a model trained on it loses some of what a model
trained on the training table itself reaches. Its ``tstr_minus_trtr`` gaps are the floor
the generators' gaps are read against (on veterans, a Cox model trained on the resample
loses about 0.03 of C-index).

Read it before trusting a gap measured on one split: on veterans the real rows themselves
predict ``status`` at about chance level when averaged over splits (``trtr_auc`` near 0.5),
so "TSTR within 0.02 of TRTR" there says more about which patients fell in the holdout than
about the generator; the Cox C-index, which ranks all holdout patients' survival times, is
the utility to read on a survival table this small.

Writes ``runs.csv`` (one row per generator and split), ``summary.csv`` (mean and standard
error per generator), ``summary.md`` (the same as ``mean ± se``) and ``target.md`` into
``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .generators import (
    DATASETS,
    METRICS,
    SURVIVAL,
    combine_runs,
    fit_and_score,
    load_split,
    markdown_table,
    references,
    score,
    target_markdown,
)

RESAMPLED = "(training rows resampled)"
DIFFERENCES = {"tstr_minus_trtr_auc": ("tstr_auc", "trtr_auc"),
               "tstr_minus_trtr_cindex": ("tstr_cindex", "trtr_cindex")}
def run_splits(dataset: str, n_splits: int = 30, generators: tuple[str, ...] | None = None,
               fast: bool = False, progress: bool = True) -> pd.DataFrame:
    """One row per (generator, split): the generator benchmark's metrics on that split, its
    ``split_seed`` and the paired :data:`DIFFERENCES`; a failed run has an ``error``.
    ``generators``: registered names (``None``: the generator benchmark's table)."""
    from tqdm.auto import tqdm

    from ..config import SEED
    from ..generators import get_generator, registry

    if isinstance(n_splits, bool) or not isinstance(n_splits, int | np.integer) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2 (a standard error needs two splits), got {n_splits!r}")
    entries = (registry(benchmark_only=True) if generators is None
               else [get_generator(name) for name in generators])  # an unknown name fails here, by name
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=n_splits * len(entries), desc=f"splits of {dataset}", disable=not progress)
    for k in range(n_splits):
        train, holdout, meta, target = load_split(dataset, split_seed=SEED + 1 + k)
        common = {"split": k, "split_seed": SEED + 1 + k, **references(train, holdout, meta, k)}
        for entry in entries:
            rows.append({"dataset": dataset, "generator": entry.name, **common,
                         **fit_and_score(entry, dataset, train, holdout, meta, target, k, fast)})
            bar.update()
        # the floor of the paired gaps: real patients, drawn with replacement as a generator draws
        resampled = train.sample(len(train), replace=True, random_state=k).reset_index(drop=True)
        rows.append({"dataset": dataset, "generator": RESAMPLED, **common,
                     **score(train, resampled, holdout, meta, target, k, SURVIVAL.get(dataset))})
    bar.close()
    runs = pd.DataFrame(rows)
    for name, (a, b) in DIFFERENCES.items():
        runs[name] = runs[a] - runs[b] if a in runs.columns and b in runs.columns else np.nan
    return runs


def summarise_splits(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard error (``_se``) and number of scored splits (``n_splits``) of every metric
    and difference, per dataset and generator; failed runs are left out."""
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    cols = [c for c in (*METRICS, *DIFFERENCES) if c in ok.columns]
    grouped = ok.groupby(["dataset", "generator"], sort=False)
    mean = grouped[cols].mean()
    se = (grouped[cols].std(ddof=1) / np.sqrt(grouped[cols].count())).add_suffix("_se")
    out = pd.concat([mean, se], axis=1)
    out.insert(0, "n_splits", grouped.size())
    return out.reset_index()


def splits_markdown(summary: pd.DataFrame) -> str:
    """``mean ± se`` of the utility and privacy scores, a row per generator."""
    shown = [c for c in ("quality", "detection_auc", "trtr_auc", "tstr_minus_trtr_auc", "trtr_cindex",
                         "tstr_minus_trtr_cindex", "dcr_share") if c in summary.columns]
    rows = [[r["dataset"], r["generator"], str(int(r["n_splits"])),
             *("-" if not np.isfinite(r[c]) else f"{r[c]:.3f} ± {r[c + '_se']:.3f}" for c in shown)]
            for _, r in summary.iterrows()]
    return "\n".join(markdown_table(["dataset", "generator", "splits", *shown], rows)) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils benchmark splits [options]``."""
    p = argparse.ArgumentParser(prog="python -m course_utils benchmark splits")
    p.add_argument("--dataset", default="veterans", choices=DATASETS)
    p.add_argument("--splits", type=int, default=30, help="how many random 70/30 splits (>= 2)")
    p.add_argument("--only", default=None, help="comma-separated generator names (default: the "
                   "generator benchmark's table)")
    p.add_argument("--fast", action="store_true", help="test settings (a smoke run)")
    p.add_argument("--out", default=None, help="folder (default benchmarks/results/splits/DATASET)")
    p.add_argument("--append", action="store_true",
                   help="add these runs to OUT/runs.csv (a run of the same generator and split is "
                        "replaced), e.g. to add a slow generator later")
    args = p.parse_args(argv)
    names = None if args.only is None else tuple(s.strip() for s in args.only.split(",") if s.strip())
    try:
        runs = run_splits(args.dataset, args.splits, names, fast=args.fast)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or Path("benchmarks") / "results" / "splits" / args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    if args.append and (out / "runs.csv").exists():
        runs = combine_runs(pd.read_csv(out / "runs.csv"), runs, keys=("dataset", "generator", "split"))
    summary = summarise_splits(runs)
    runs.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(splits_markdown(summary), encoding="utf-8")
    target = target_markdown(summary[summary["generator"] != RESAMPLED])  # a reference, not a candidate
    (out / "target.md").write_text(target, encoding="utf-8")
    print(splits_markdown(summary))
    print(target)
    for r in runs[runs["error"].notna()].itertuples() if "error" in runs.columns else ():
        print(f"skipped {r.generator} on split {r.split}: {r.error}")
    print(f"results written to {out}/")
    return 0


def run(quick: bool = False) -> dict[str, Any]:
    """The JSON-benchmark entry point: CART and the copula over splits of veterans
    (``quick``: 3 splits at the test settings), returned as records."""
    runs = run_splits("veterans", 3 if quick else 30, ("CARTSynthesizer", "GaussianCopula"), fast=quick,
                      progress=False)
    return {"summary": summarise_splits(runs).to_dict(orient="records"),
            "errors": runs.get("error", pd.Series(dtype=object)).dropna().tolist()}
