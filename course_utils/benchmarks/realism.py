"""Can a classifier tell synthetic rows from real ones, without and with the tables' rules?

``python -m course_utils benchmark realism [--only NAME,NAME] [--seeds 0,1,2]
[--datasets stroke,whas500,veterans,clinic] [--variants plain,rules,rules+guard] [--guard 1.0|match] [--nihss-total] [--fast]
[--append] [--out benchmarks/results/realism.json]``

For each generator (registry; default: the six of :data:`DEFAULT_ONLY`) and each
table, the protocol of ``benchmark generators`` (70/30 split, fit on the training part,
sample as many rows) is run three times (the ``variant`` column):

- ``plain``: the table's metadata without rules;
- ``rules``: the accepted rules of :func:`accepted_rules` in ``metadata.constraints``;
- ``rules+guard``: the same, with the generator wrapped in
  :class:`~course_utils.generators.guarded.GuardedSynthesizer` (closeness guard
  ``--guard``: a factor or ``match``, 1.0 unless told, learnt from the training rows), so that realism is judged next to a generator that
  keeps its distance from the training patients (CART, whose registered settings
  already guard, runs as it is).

Each run reports the GBM detection AUC (0.5 ideal; the real holdout's is given as the
reference), the quality score, the DCR share (0.5 = no closer to training than to new
patients, so a gain in realism is not bought with copying), on a table with a survival
pair the Kaplan-Meier distance to the training curve (``km_max_gap``; the holdout's is the
reference), the share of rows breaking a rule, and the rejection rates (rules; guard).
Precision (each column's decimals) is on in every run. The tables: the three course tables and ``clinic``, a constructed table
(:func:`clinic_table`) with a derived group, a threshold flag, an inequality, a survival
pair under administrative censoring and lab values at one and three decimals.
``--append`` adds the runs to those already in ``--out`` (a run of the same table,
generator, seed and variant is replaced), so that slow generators can be run apart.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATASETS = ("stroke", "whas500", "veterans", "clinic")
DEFAULT_ONLY = ("IndependentMarginals", "GaussianCopula", "GaussianCopulaMixture", "CARTSynthesizer",
                "VAESynthesizer", "GANSynthesizer")
VARIANTS = ("plain", "rules", "rules+guard")
SUFFIX = {"plain": "without", "rules": "with", "rules+guard": "guarded"}
RUN_KEYS = ("dataset", "generator", "seed", "variant")  # one run; --append replaces a run with the same keys
CLINIC_STUDY_DAYS = 1500
CLINIC_GRADES = ["mild", "moderate", "severe"]
NIHSS_TOTAL = "S2NihssArrival"  # the stroke table's NIHSS total; its items are the columns named after it


def clinic_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A constructed clinical table whose rules are known: every rule of :func:`clinic_rules` holds.

    ``old`` is ``age >= 75``; ``grade`` bins ``score`` at 5 and 15; ``diasbp < sysbp``;
    patients enrol over 1,000 days of a 1,500-day study, so ``time`` (days to the event
    or to censoring) is at most ``possible_fu``, the follow-up still possible at
    enrolment (administrative censoring); ``hb`` has one decimal and ``tsh`` three.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(35, 95, n)
    score = rng.integers(0, 31, n)
    sysbp = rng.integers(100, 200, n)
    diasbp = sysbp - rng.integers(20, 70, n)
    enrol = rng.integers(0, 1000, n)
    possible = CLINIC_STUDY_DAYS - enrol
    event_time = np.ceil(rng.exponential(300 + 10 * (95 - age)))
    dropout = np.ceil(rng.exponential(3000, n))
    time_ = np.minimum.reduce([event_time, dropout, possible]).astype(int)
    event = ((event_time <= dropout) & (event_time <= possible)).astype(int)
    return pd.DataFrame({
        "age": age,
        "old": (age >= 75).astype(int),
        "score": score,
        "grade": pd.Categorical(np.array(CLINIC_GRADES)[np.searchsorted([5, 15], score, side="right")],
                                categories=CLINIC_GRADES),
        "sysbp": sysbp,
        "diasbp": diasbp,
        "possible_fu": possible,
        "time": time_,
        "event": event,
        "hb": np.round(rng.normal(13.0, 1.5, n), 1),
        "tsh": np.round(rng.lognormal(0.5, 0.4, n), 3),
    })


def clinic_rules() -> list[Any]:
    """The rules :func:`clinic_table` was built with."""
    from ..constraints import Bins, Inequality, SurvivalPair, Threshold

    return [Threshold("old", "age", 75), Bins("score", [5, 15], CLINIC_GRADES, column="grade"),
            Inequality("diasbp", "sysbp"),
            SurvivalPair("time", "event", max_followup=CLINIC_STUDY_DAYS, followup="possible_fu")]


def nihss_total_rule(df: pd.DataFrame) -> Any:
    """The stroke table's NIHSS total: its 14 items plus item 1a (0-3), which the table does not hold."""
    from ..constraints import BoundedSum

    items = [c for c in df.columns if c.startswith(NIHSS_TOTAL) and c != NIHSS_TOTAL]
    return BoundedSum(NIHSS_TOTAL, items, 0, 3)


def load_table(name: str) -> tuple[pd.DataFrame, pd.DataFrame, Any, str]:
    """``(train, holdout, metadata, target)``: a course table, or the constructed ``clinic`` table."""
    from .generators import load_split

    if name != "clinic":
        return load_split(name)
    from ..config import SEED
    from ..data import train_holdout_split
    from ..schema import infer_metadata

    df = clinic_table()
    train, holdout = train_holdout_split(df, stratify="event", random_state=SEED)
    return train, holdout, infer_metadata(df), "event"


def accepted_rules(name: str, train: pd.DataFrame, meta: Any, nihss_total: bool = False) -> list[Any]:
    """The rules a clinician would accept for a table.

    Stroke: every derived column :func:`discover_constraints` proposes (sums,
    thresholds, severity bins; all true by definition), none of its chance
    inequalities; with ``nihss_total``, also :func:`nihss_total_rule` (a rule a stroke
    physician would accept, kept by rejection, which costs realism: see ``--nihss-total``).
    WHAS500: ``diasbp < sysbp`` and the survival pair ``(lenfol, fstat)`` bounded by the
    study's longest follow-up. Veterans: the survival
    pair ``(survival_days, status)`` bounded by the longest follow-up. Clinic: the rules
    it was built with (:func:`clinic_rules`).
    """
    from ..constraints import Inequality, SurvivalPair, discover_constraints

    if name == "stroke":
        derived = [c for c in discover_constraints(train, meta) if c.derived]
        return [*derived, nihss_total_rule(train)] if nihss_total else derived
    if name == "whas500":
        return [Inequality("diasbp", "sysbp"),
                SurvivalPair("lenfol", "fstat", max_followup=float(meta["lenfol"].bounds[1]))]
    if name == "veterans":
        return [SurvivalPair("survival_days", "status", max_followup=float(meta["survival_days"].bounds[1]))]
    if name == "clinic":
        return clinic_rules()
    return []


def one_run(entry: Any, train: pd.DataFrame, holdout: pd.DataFrame, meta: Any, target: str,
            seed: int, fast: bool, rules: list[Any], judged_by: list[Any], guard: float | str | None = None) -> dict[str, Any]:
    """Fit, sample and score one generator with ``rules`` (empty: none), counting rows that break
    ``judged_by``; with ``guard`` (a factor), the generator is wrapped in a closeness guard."""
    from ..constraints import rows_satisfying
    from ..evaluation import quality_score
    from ..evaluation.detection import detection_auc
    from ..evaluation.privacy import dcr
    from ..evaluation.survival_metrics import km_max_gap
    from ..generators import GuardedSynthesizer

    gen = entry.make(seed, fast=fast, target=target) if entry.target else entry.make(seed, fast=fast)
    if guard is not None and getattr(gen, "closeness_guard", None) is None:  # CART's settings guard already
        gen = GuardedSynthesizer(gen, closeness_guard=guard, random_state=seed)
    start = time.perf_counter()
    gen.fit(train, meta.with_constraints(rules) if rules else meta)
    synthetic = gen.sample(len(train), random_state=seed)
    pair = survival_pair(judged_by)
    survival = {} if pair is None else {"km_distance": km_max_gap(train, synthetic, pair.time, pair.event)}
    return {
        **survival,
        "fit_sample_s": time.perf_counter() - start,
        "detection_auc": detection_auc(train, synthetic, "gbm", meta, random_state=seed),
        "quality": quality_score(train, synthetic.iloc[: len(holdout)], meta)["overall"],
        "dcr_share": dcr(train, synthetic, holdout, meta).share_closer_to_train,
        "rows_breaking_a_rule": float(1 - rows_satisfying(synthetic, judged_by).mean()),
        # a wrapped generator keeps the rules itself: its rate (of the last batch the guard drew) is the one to read
        "rejection_rate": float(getattr(getattr(gen, "generator_", gen), "rejection_rate_", 0.0)),
        "guard_rejection_rate": float(getattr(gen, "closeness_rejection_rate_", 0.0)),
    }


def survival_pair(rules: list[Any]) -> Any:
    """The table's survival pair among ``rules``, or ``None``."""
    from ..constraints import SurvivalPair

    return next((r for r in rules if isinstance(r, SurvivalPair)), None)


def run_benchmark(datasets=DATASETS, seeds=(0,), fast: bool = False, only=DEFAULT_ONLY,
                  variants=VARIANTS, guard: float | str = 1.0, nihss_total: bool = False) -> pd.DataFrame:
    """One row per (dataset, generator, seed, variant), or an ``error``."""
    from ..evaluation.detection import detection_auc
    from ..evaluation.survival_metrics import km_max_gap
    from ..generators import registry

    if set(variants) - set(VARIANTS):
        raise ValueError(f"unknown variant(s) {sorted(set(variants) - set(VARIANTS))}; choose from {list(VARIANTS)}")
    entries = [e for e in registry() if e.name in only]
    unknown = set(only) - {e.name for e in entries}
    if unknown:
        raise ValueError(f"unknown generator(s) in --only: {sorted(unknown)}")
    rows = []
    for name in datasets:
        train, holdout, meta, target = load_table(name)
        rules = accepted_rules(name, train, meta, nihss_total)
        pair = survival_pair(rules)
        km_reference = {} if pair is None else {"km_distance_holdout": km_max_gap(train, holdout, pair.time, pair.event)}
        for seed in seeds:
            reference = detection_auc(train, holdout, "gbm", meta, random_state=seed)
            for entry in entries:
                for variant in variants:
                    row: dict[str, Any] = {"dataset": name, "generator": entry.name, "seed": seed,
                                           "variant": variant, "detection_auc_holdout": reference,
                                           **km_reference, "guard": guard if variant == "rules+guard" else None}
                    try:
                        row.update(one_run(entry, train, holdout, meta, target, seed, fast,
                                           [] if variant == "plain" else rules, rules,
                                           guard=guard if variant == "rules+guard" else None))
                    except Exception as exc:  # one failure must not stop the table
                        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    print(row, flush=True)
                    rows.append(row)
    return pd.DataFrame(rows)


def before_after(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds, one row per table and generator: each metric per variant
    (suffix ``_without``: no rules, ``_with``: rules, ``_guarded``: rules and the guard)."""
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    metrics = [m for m in ("detection_auc", "quality", "dcr_share", "km_distance", "rows_breaking_a_rule",
                           "rejection_rate", "guard_rejection_rate") if m in ok.columns]
    mean = ok.groupby(["dataset", "generator", "variant"], sort=False)[metrics].mean().unstack("variant")
    mean.columns = [f"{m}_{SUFFIX[v]}" for m, v in mean.columns]
    references = [m for m in ("detection_auc_holdout", "km_distance_holdout") if m in ok.columns]
    reference = ok.groupby(["dataset", "generator"], sort=False)[references].mean()
    return mean.join(reference).reset_index()


def _guard_setting(text: str) -> float | str:
    """``--guard``: ``"match"`` or a number, checked as the generators check it."""
    from ..generators.closeness_guard import MATCH, check_factor

    return check_factor(text if text == MATCH else float(text))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run, print the before/after table, write the JSON results."""
    from .generators import combine_runs

    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark realism")
    parser.add_argument("--only", default=",".join(DEFAULT_ONLY), help="generators, comma-separated")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="which of plain, rules, rules+guard to run")
    parser.add_argument("--guard", type=_guard_setting, default=1.0,
                        help="the closeness guard in rules+guard: a factor, or 'match'")
    parser.add_argument("--fast", action="store_true", help="the registry's test settings (short training)")
    parser.add_argument("--nihss-total", action="store_true",
                        help="stroke: also keep the NIHSS total within 0-3 of its items (by rejection)")
    parser.add_argument("--append", action="store_true",
                        help="add these runs to those in --out (same table, generator, seed and variant: replaced)")
    parser.add_argument("--out", default="benchmarks/results/realism.json")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    runs = run_benchmark(tuple(args.datasets.split(",")), seeds, args.fast, tuple(args.only.split(",")),
                         tuple(args.variants.split(",")), args.guard, args.nihss_total)
    out = Path(args.out)
    if args.append and out.exists():
        old = json.loads(out.read_text(encoding="utf-8"))
        if "variant" not in old.get("runs", [{}])[0]:
            raise SystemExit(f"{out} holds runs of an older format (no 'variant'); write to a new --out")
        runs = combine_runs(pd.DataFrame(old["runs"]), runs, RUN_KEYS)
    table = before_after(runs)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets = list(dict.fromkeys(runs["dataset"]))
    result = {"settings": {"seeds": sorted(int(s) for s in set(runs["seed"])), "fast": args.fast,
                           "datasets": datasets, "generators": list(dict.fromkeys(runs["generator"])),
                           "variants": list(VARIANTS)},
              "rules": {d: [str(c) for c in accepted_rules(d, *_split_meta(d), args.nihss_total)] for d in datasets},
              "before_after": table.to_dict(orient="records"),
              "runs": runs.to_dict(orient="records")}
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return 0


def _split_meta(name: str) -> tuple[pd.DataFrame, Any]:
    train, _, meta, _ = load_table(name)
    return train, meta
