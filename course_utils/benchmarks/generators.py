"""Every registered generator on the course's tables: ``python -m course_utils benchmark generators``.

Options: ``--datasets whas500,stroke,veterans --seeds 0,1,2 --out benchmarks/results/generators
[--fast] [--only NAME,NAME] [--replot] [--append]``. The generators and their settings come from the registry
(:func:`course_utils.generators.registry`, ``default_params``; ``--fast`` uses the test
settings), so a newly registered generator appears here without an edit.

Protocol, the same for every generator: split each table 70/30 (stratified on its
outcome, seed :data:`~course_utils.config.SEED`), fit on the training part with
``random_state=seed``, sample as many rows as the training part has, and score:

- ``quality``: the quality score against the training table on the first
  ``len(holdout)`` synthetic rows (size-matched, lesson 03), next to ``quality_holdout``,
  the real holdout's score (the honest ceiling; above it means copying);
- ``detection_auc``: gradient-boosting detection AUC, synthetic vs training rows
  (ideal 0.5; under 0.4 flags near copies), next to the holdout's;
- ``tstr_auc`` and ``trtr_auc``: logistic regression for the outcome trained on
  synthetic or real rows, ROC AUC on the holdout;
- ``tstr_cindex`` and ``trtr_cindex`` (the survival tables, WHAS500 and veterans): a Cox
  model of the follow-up time and event trained on synthetic or real rows, C-index on the
  holdout (lesson 08's survival TSTR). On veterans this is the utility to read: 128 of its
  137 patients died, so the holdout holds 3 survivors and an AUC for ``status`` rests on
  3 x 39 pairs (one seed's TSTR-TRTR difference has a standard deviation of about 0.08),
  while the C-index ranks the 42 holdout patients' survival times;
- ``dcr_share``: size-adjusted share of synthetic rows closer to a training than to a
  holdout patient (0.5 = no closer than new patients);
- ``exact_match_rate``: share of synthetic rows that copy a training row;
- ``fit_s``: wall time of ``fit``.

Writes ``runs.csv`` (one row per generator, table and seed), ``summary.csv`` and
``summary.md`` (mean over seeds), ``target.md`` (which of the course's target criteria,
:data:`TARGET`, each generator meets on each table) and three figures (:mod:`.generator_plots`:
``privacy_utility.png``, ``fidelity.png``, ``fit_time.png``) into ``--out``;
``--replot`` redraws the figures and ``target.md`` from ``--out``'s ``runs.csv`` without
running a generator.
With the optional extra (``pip install -e .[peers]``) SDV's GaussianCopula, CTGAN and
TVAE join the table (:mod:`course_utils.generators.peers`); without it the output says
how to add them.
A generator that fails on a table (e.g. SMOTE on missing values) is recorded with its
error and skipped, never stopping the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..html_report import DCR_SHARE_MAX, DETECTION_MAX, MARGIN

DATASETS = ("whas500", "stroke", "veterans")
TARGETS = {"whas500": "fstat", "stroke": "Clotbuster given", "veterans": "status"}
SURVIVAL = {"whas500": ("lenfol", "fstat"), "veterans": ("survival_days", "status")}
FIT_SECONDS_MAX = 10
METRICS = ("quality", "quality_holdout", "detection_auc", "detection_auc_holdout", "tstr_auc",
           "trtr_auc", "tstr_cindex", "trtr_cindex", "dcr_share", "exact_match_rate", "fit_s")


def load_split(name: str, split_seed: int | None = None):
    """``(train, holdout, metadata, target)`` of one course table, split as every lesson splits
    (``split_seed=None``: the course's seed; another seed gives another 70/30 split)."""
    from .. import data
    from ..config import SEED

    loaders = {"whas500": data.load_whas500, "stroke": data.load_stroke, "veterans": data.load_veterans}
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(loaders)}")
    df, meta = loaders[name](return_metadata=True)
    train, holdout = data.train_holdout_split(df, stratify=TARGETS[name],
                                              random_state=SEED if split_seed is None else split_seed)
    return train, holdout, meta, TARGETS[name]


def score(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, meta: Any,
          target: str, seed: int, survival: tuple[str, str] | None = None) -> dict[str, float]:
    """The metrics of the module docstring for one synthetic table (``survival``: the
    ``(duration, event)`` pair of a survival table, for the C-index columns)."""
    from ..evaluation import quality_score, tstr
    from ..evaluation.detection import detection_auc
    from ..evaluation.privacy import dcr, exact_match_rate
    from ..evaluation.survival import survival_tstr

    res = tstr(train, synthetic, holdout, target, metadata=meta, n_bootstrap=0, random_state=seed)
    auc = res[res["metric"] == "auc"].set_index("trained_on")["value"]
    extra = {}
    if survival is not None:
        try:
            cox = survival_tstr(train, synthetic, holdout, *survival, metadata=meta)
            extra = {"tstr_cindex": float(cox.loc["TSTR", "c_index"]), "trtr_cindex": float(cox.loc["TRTR", "c_index"])}
        except Exception:  # e.g. synthetic rows without one event: no Cox model, the other scores stand
            extra = {"tstr_cindex": float("nan"), "trtr_cindex": float("nan")}
    return {
        "quality": quality_score(train, synthetic.iloc[: len(holdout)], meta)["overall"],
        "detection_auc": detection_auc(train, synthetic, "gbm", meta, random_state=seed),
        "tstr_auc": float(auc["synthetic"]),
        "trtr_auc": float(auc["real"]),
        "dcr_share": dcr(train, synthetic, holdout, meta).share_closer_to_train,
        "exact_match_rate": exact_match_rate(train, synthetic, holdout, meta)["synthetic"],
        **extra,
    }


def references(train: pd.DataFrame, holdout: pd.DataFrame, meta: Any, seed: int) -> dict[str, float]:
    """The real holdout scored as if it were synthetic: the ceiling of every fidelity number."""
    from ..evaluation import quality_score
    from ..evaluation.detection import detection_auc

    return {"quality_holdout": quality_score(train, holdout, meta)["overall"],
            "detection_auc_holdout": detection_auc(train, holdout, "gbm", meta, random_state=seed)}


def fit_and_score(entry: Any, dataset: str, train: pd.DataFrame, holdout: pd.DataFrame, meta: Any,
                  target: str, seed: int, fast: bool = False) -> dict[str, Any]:
    """One generator (a registry entry) fitted on ``train`` with ``seed`` and scored against
    ``holdout``: ``fit_s`` and the :func:`score` metrics, or an ``error`` (a generator that
    fails on a table must not stop a benchmark)."""
    survival = SURVIVAL.get(dataset)
    row: dict[str, Any] = {}
    try:
        gen = entry.make(seed, fast=fast, target=target, survival=survival)
        start = time.perf_counter()
        gen.fit(train, meta)
        row["fit_s"] = time.perf_counter() - start
        synthetic = gen.sample(len(train), random_state=seed)
        row.update(score(train, synthetic, holdout, meta, target, seed, survival))
    except Exception as exc:  # e.g. SMOTE on missing values, or rows of one outcome class
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return row


def run_benchmark(datasets=DATASETS, seeds=(0, 1, 2), fast: bool = False, only=None,
                  progress: bool = True) -> pd.DataFrame:
    """One row per (dataset, generator, seed) with :data:`METRICS`, or an ``error``."""
    from tqdm.auto import tqdm

    from ..generators import registry

    # --only may name any registered generator, also one left out of the default table
    entries = registry(benchmark_only=True) if only is None else [e for e in registry() if e.name in only]
    if only is not None and len(entries) != len(set(only)):
        known = [e.name for e in registry()]
        raise ValueError(f"unknown generator(s) in --only: {sorted(set(only) - set(known))}")
    rows = []
    bar = tqdm(total=len(datasets) * len(entries) * len(seeds), desc="generators", disable=not progress)
    for name in datasets:
        train, holdout, meta, target = load_split(name)
        for seed in seeds:
            ref = references(train, holdout, meta, seed)
            for entry in entries:
                rows.append({"dataset": name, "generator": entry.name, "seed": seed, **ref,
                             **fit_and_score(entry, name, train, holdout, meta, target, seed, fast)})
                bar.set_postfix_str(f"{name} {entry.name}")
                bar.update()
    bar.close()
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean of every metric over seeds, per dataset and generator."""
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    cols = [m for m in METRICS if m in ok.columns]
    return ok.groupby(["dataset", "generator"], sort=False)[cols].mean().reset_index()


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table: the header, the rule under it, one line per row."""
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (the README shows it)."""
    shown = summary.rename(columns={"quality_holdout": "quality (holdout)",
                                    "detection_auc_holdout": "detection (holdout)"})
    rows = [[("-" if np.isnan(v) else f"{v:.3f}") if isinstance(v, float) else str(v) for v in r]
            for r in shown.itertuples(index=False)]
    return "\n".join(markdown_table(list(shown.columns), rows)) + "\n"


# The course's target for one generator at its registered settings (mean over seeds): each
# criterion is (text, the columns it reads, the real reference that must exist for it to apply,
# the test), with the thresholds of the release rules (:mod:`course_utils.html_report`). "Within
# 0.02" of the real reference is read as "at most 0.02 below it": a score above the holdout's is no
# loss (the DCR share and the exact copies say whether it comes from copying). The C-index applies
# to the survival tables only: on veterans the AUC for ``status`` rests on 3 holdout survivors, and
# the real rows predict it at about chance over other splits (``benchmark splits``), so without it
# a generator that keeps no relation at all could meet the utility criterion there.
TARGET = {
    "quality": ("quality within 0.02 of the holdout's", ("quality", "quality_holdout"), None,
                lambda r: r["quality"] >= r["quality_holdout"] - MARGIN),
    "detection": ("GBM detection AUC <= 0.60", ("detection_auc",), None,
                  lambda r: r["detection_auc"] <= DETECTION_MAX),
    "tstr": ("TSTR AUC within 0.02 of TRTR", ("tstr_auc", "trtr_auc"), None,
             lambda r: r["tstr_auc"] >= r["trtr_auc"] - MARGIN),
    "cindex": ("Cox C-index TSTR within 0.02 of TRTR (survival tables)", ("tstr_cindex", "trtr_cindex"),
               "trtr_cindex", lambda r: r["tstr_cindex"] >= r["trtr_cindex"] - MARGIN),
    "dcr": ("DCR share <= 0.55", ("dcr_share",), None, lambda r: r["dcr_share"] <= DCR_SHARE_MAX),
    "copies": ("no exact copies", ("exact_match_rate",), None, lambda r: r["exact_match_rate"] == 0),
    "fit_time": ("fit under 10 s", ("fit_s",), None, lambda r: r["fit_s"] < FIT_SECONDS_MAX),
}
def target_check(summary: pd.DataFrame) -> pd.DataFrame:
    """Which of the course's :data:`TARGET` criteria each generator meets on each table.

    One row per (dataset, generator) of ``summary`` (a :func:`summarise` table): a column per
    criterion holding ``True``, ``False`` or ``None`` (does not apply: the C-index on a table
    without a survival pair), and ``all`` (every criterion that applies). A missing score (a
    run that failed) meets nothing.
    """
    out = summary[["dataset", "generator"]].copy()
    for key, (_, columns, reference, test) in TARGET.items():
        values: list[bool | None] = []
        for _, r in summary.iterrows():
            if reference is not None and not (reference in r and np.isfinite(r[reference])):
                values.append(None)
            else:
                values.append(all(c in r and np.isfinite(r[c]) for c in columns) and bool(test(r)))
        out[key] = pd.Series(values, index=out.index, dtype=object)
    out["all"] = [all(v is not False for v in row) for row in out[list(TARGET)].itertuples(index=False)]
    return out


def target_markdown(summary: pd.DataFrame) -> str:
    """The :func:`target_check` as Markdown: a table of yes / no / n/a, then the generators that
    meet every criterion on every table in ``summary`` (or a line saying none does)."""
    check = target_check(summary)
    legend = "; ".join(f"{key}: {text}" for key, (text, *_) in TARGET.items())
    word = {True: "yes", False: "no", None: "n/a"}
    rows = [[r.dataset, r.generator, *(word[getattr(r, k)] for k in [*TARGET, "all"])]
            for r in check.itertuples(index=False)]
    table = markdown_table(["dataset", "generator", *TARGET, "all"], rows)
    every = check.groupby("generator", sort=False)["all"].all()
    tables = ", ".join(dict.fromkeys(check["dataset"]))
    verdict = (f"Every criterion on every table ({tables}): {', '.join(every[every].index)}."
               if every.any() else f"No generator meets every criterion on every table ({tables}).")
    return "\n".join([f"Target ({legend}).", "", *table, "", verdict]) + "\n"


def peers_note() -> str | None:
    """What to do when SDV's generators are not in the table (``None`` when they are)."""
    from ..generators import registry

    if registry(family="peer library"):
        return None
    return ("SDV's GaussianCopula, CTGAN and TVAE are not in this table: install the optional "
            "extra (pip install -e .[peers]) and run the same command to add them")


def combine_runs(old: pd.DataFrame, new: pd.DataFrame,
                 keys: tuple[str, ...] = ("dataset", "generator", "seed")) -> pd.DataFrame:
    """``old`` runs with ``new`` added; a run whose ``keys`` are in both keeps the new one, in
    the old one's place (so that a table run again keeps its order in the summary)."""
    keys = list(keys)
    if old.empty:
        return new.reset_index(drop=True)
    both = pd.concat([old, new], ignore_index=True)
    newest = ~both.duplicated(keys, keep="last")
    first_seen = both.groupby(keys, sort=False).ngroup()
    return (both[newest].assign(_order=first_seen[newest]).sort_values("_order", kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils benchmark generators [options]``."""
    from .generator_plots import replot, write_plots

    p = argparse.ArgumentParser(prog="python -m course_utils benchmark generators")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--only", default=None, help="comma-separated generator names")
    p.add_argument("--fast", action="store_true", help="test settings (a smoke run)")
    p.add_argument("--quick", action="store_true", help="the same as --fast --seeds 0")
    p.add_argument("--out", default="benchmarks/results/generators")
    p.add_argument("--replot", action="store_true",
                   help="only redraw the figures and OUT/target.md from OUT/runs.csv; run no generator")
    p.add_argument("--append", action="store_true",
                   help="add these runs to OUT/runs.csv (a run of the same generator, table and "
                        "seed is replaced) and summarise them all, e.g. to add seeds later")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        try:
            paths = replot(out)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        target = out / "target.md"
        target.write_text(target_markdown(summarise(pd.read_csv(out / "runs.csv"))), encoding="utf-8")
        for path in [*paths, target]:
            print(f"wrote {path}")
        return 0
    seeds = (0,) if args.quick else tuple(int(s) for s in args.seeds.split(","))
    datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    only = None if args.only is None else [s.strip() for s in args.only.split(",")]
    runs = run_benchmark(datasets, seeds, fast=args.fast or args.quick, only=only)
    out.mkdir(parents=True, exist_ok=True)
    if args.append and (out / "runs.csv").exists():
        runs = combine_runs(pd.read_csv(out / "runs.csv"), runs)
    summary = summarise(runs)
    runs.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(markdown(summary), encoding="utf-8")
    (out / "target.md").write_text(target_markdown(summary), encoding="utf-8")
    note = peers_note()
    (out / "settings.json").write_text(json.dumps({"datasets": list(dict.fromkeys(runs["dataset"])),
                                                   "seeds": sorted(int(x) for x in set(runs["seed"])),
                                                   "fast": bool(args.fast or args.quick),
                                                   "generators": sorted(set(runs["generator"])),
                                                   "peers": note or "included"},
                                                  indent=2) + "\n", encoding="utf-8")
    write_plots(summary, out)
    print(markdown(summary))
    errors = runs[runs["error"].notna()] if "error" in runs.columns else runs.iloc[:0]
    for r in errors.itertuples():
        print(f"skipped {r.generator} on {r.dataset} (seed {r.seed}): {r.error}")
    if note is not None:
        print(f"note: {note}")
    print(f"results written to {out}/")
    return 0


def run(quick: bool = False) -> dict[str, Any]:
    """The JSON-benchmark entry point: a quick smoke run on WHAS500, returned as records."""
    runs = run_benchmark(("whas500",), (0,), fast=True, progress=False) if quick else run_benchmark()
    summary = summarise(runs)
    return {"summary": summary.to_dict(orient="records"),
            "errors": runs.get("error", pd.Series(dtype=object)).dropna().tolist(),
            "nan_metrics": int(np.isnan(summary.select_dtypes("number").to_numpy()).sum())}
