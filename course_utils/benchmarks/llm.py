"""Benchmark of language-model synthesis: ``python -m course_utils benchmark llm``.

Data: the WHAS500 training split of the course (70% train, stratified on ``fstat``,
seed :data:`course_utils.config.SEED`); the 30% holdout is used only for TSTR, DCR and
membership inference.

Protocol, per seed in :data:`SEEDS`:

- :class:`~course_utils.generators.llm.LanguageModelSynthesizer` at the lesson's full
  settings (the class defaults, ``epochs=EPOCHS``), fitted once with checkpoints after
  the epochs in :data:`CHECKPOINTS`, on the CPU with :data:`TORCH_THREADS` torch threads
  (the target is "2 CPU cores"; see the comment at :data:`TORCH_THREADS`); recorded: ``train_s`` (wall) and ``train_cpu_s`` (CPU
  time of the process: on a machine shared with other work the wall time overstates
  the cost);
- per checkpoint: 1,000 sentences generated without guidance, parsed strictly:
  ``validity_unguided`` and the rejections by reason; 1,000 guided sentences:
  ``validity_guided``; the time of ``sample(1000)`` (draws until 1,000 valid rows,
  unguided; wall and CPU), and on a training-size sample (seed ``1000 * seed``):
  ``fidelity`` (quality score), ``tstr_gap`` (TRTR - TSTR ROC AUC for ``fstat``),
  ``dcr_share`` (size-adjusted, 0.5 = no leaning towards training rows) and
  ``mia_auc`` (distance attack of :func:`~course_utils.evaluation.privacy.membership_inference`);
- the references :class:`~course_utils.generators.CARTSynthesizer` with
  ``min_samples_leaf`` 1 and 10, and the real holdout scored as if it were synthetic.

The recommended checkpoint is chosen on the means over seeds by lesson 09's rule: the
best fidelity among checkpoints with DCR share and MIA AUC at most 0.55 and a TSTR gap at
most 0.05 (none qualifying is reported as such).

Targets (:data:`TARGETS`; ``verdict`` lists each with the figure behind it): training
under 5 minutes; at least 95% of sentences valid without guided decoding and 100% with
it (at the last checkpoint); 1,000 rows sampled in under 60 s; at the recommended
checkpoint DCR share <= 0.55, MIA AUC <= 0.55 and TSTR within 0.05 of TRTR.
``quick=True``: seed 0, 10 epochs, a smoke run.

Seeds can be measured apart and summarised together (the machine may not have the time
for three in one go)::

    python -m course_utils benchmark llm --seeds 0 --out /tmp/llm_0.json
    python -m course_utils benchmark llm --seeds 1 --out /tmp/llm_1.json
    python -m course_utils benchmark llm --combine /tmp/llm_0.json /tmp/llm_1.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED

SEEDS = (0, 1, 2)
EPOCHS = 125
CHECKPOINTS = (5, 20, 40, 80, 110, 125)
# Networks this small gain little from a second thread per operation, and on a machine that
# also runs other work the idle thread spin-waits: measured here, 27 s of CPU per epoch with two
# threads against 4.4 s with one. One thread is the cheaper way to use a 2-core laptop.
TORCH_THREADS = 1
N_TEXT = 1000
TARGETS = {"train_s": 300.0, "validity_unguided": 0.95, "validity_guided": 1.0, "sample_1000_s": 60.0,
           "dcr_share": 0.55, "mia_auc": 0.55, "tstr_gap": 0.05}


def _scores(train: pd.DataFrame, rows: pd.DataFrame, holdout: pd.DataFrame, meta: Any) -> dict[str, float]:
    from ..data import WHAS500_TARGET
    from ..evaluation import quality_score, tstr
    from ..evaluation.privacy import dcr, membership_inference

    t = tstr(train, rows, holdout, target=WHAS500_TARGET, metadata=meta, n_bootstrap=0, random_state=0)
    auc = t[t["metric"] == "auc"].set_index("trained_on")["value"]
    return {"fidelity": float(quality_score(train, rows, meta)["overall"]),
            "trtr_auc": float(auc["real"]), "tstr_auc": float(auc["synthetic"]),
            "tstr_gap": float(auc["real"] - auc["synthetic"]),
            "dcr_share": float(dcr(train, rows, holdout, meta).share_closer_to_train),
            "mia_auc": float(membership_inference(train, rows, holdout, meta)["distance_auc"])}


def _timed(func: Any) -> tuple[Any, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    out = func()
    return out, time.perf_counter() - start, time.process_time() - cpu


def recommend(table: pd.DataFrame, max_dcr: float = 0.55, max_mia: float = 0.55,
              max_tstr_gap: float = 0.05) -> int | None:
    """Lesson 09's rule: the epoch with the best fidelity within the three limits (earlier on a tie), or None."""
    ok = table[(table["dcr_share"] <= max_dcr) & (table["mia_auc"] <= max_mia) & (table["tstr_gap"] <= max_tstr_gap)]
    if ok.empty:
        return None
    return int(ok.sort_values(["fidelity", "epoch"], ascending=[False, True])["epoch"].iloc[0])


def _checkpoint_rows(gen: Any, seed: int, train: pd.DataFrame, holdout: pd.DataFrame, meta: Any) -> list[dict]:
    rows = []
    for epoch in sorted(gen.checkpoints_):
        m = gen.at_epoch(epoch)
        texts, text_s, _ = _timed(lambda m=m: m.generate_text(N_TEXT, random_state=seed))
        _, free = m.parse(texts)
        m.guided = True
        _, guided = m.parse(m.generate_text(N_TEXT, random_state=seed))
        m.guided = free.validity_rate < 0.2  # an early checkpoint may need guidance to give rows at all
        record = {"seed": seed, "epoch": epoch, "validity_unguided": free.validity_rate,
                  "rejected_unguided": dict(free.reasons), "validity_guided": guided.validity_rate,
                  "text_1000_s": text_s, "metrics_decoding": "guided" if m.guided else "unguided"}
        if not m.guided:
            _, record["sample_1000_s"], record["sample_1000_cpu_s"] = _timed(
                lambda m=m: m.sample(1000, random_state=seed))
        record.update(_scores(train, m.sample(len(train), random_state=1000 * seed), holdout, meta))
        rows.append(record)
        print(f"seed {seed} epoch {epoch}: " + ", ".join(
            f"{k}={v:.3f}" for k, v in record.items() if isinstance(v, float)), flush=True)
    return rows


def measure(quick: bool = False, seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Train and score per seed; the raw records (``fits``, ``checkpoints``, ``references``), no summary."""
    import torch

    from ..data import WHAS500_TARGET, load_whas500, train_holdout_split
    from ..generators import CARTSynthesizer
    from ..generators.llm import LanguageModelSynthesizer

    seeds = tuple(seeds) if seeds is not None else ((0,) if quick else SEEDS)
    epochs, checkpoints = (10, (5, 10)) if quick else (EPOCHS, CHECKPOINTS)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        df, meta = load_whas500(return_metadata=True)
        train, holdout = train_holdout_split(df, stratify=WHAS500_TARGET, random_state=SEED)
        train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
        fits, rows, refs = [], [], []
        for seed in seeds:
            gen = LanguageModelSynthesizer(epochs=epochs, checkpoint_epochs=checkpoints, random_state=seed,
                                           verbose=False, device="cpu")
            _, wall, cpu = _timed(lambda gen=gen: gen.fit(train, meta))
            fits.append({"seed": seed, "train_s": wall, "train_cpu_s": cpu,
                         "final_loss": gen.loss_history_[-1]["loss"]})
            print(f"seed {seed}: trained {epochs} epochs in {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
            rows += _checkpoint_rows(gen, seed, train, holdout, meta)
            for leaf in (1, 10):
                cart = CARTSynthesizer(min_samples_leaf=leaf, random_state=seed).fit(train, meta)
                refs.append({"generator": f"CART leaf {leaf}", "seed": seed,
                             **_scores(train, cart.sample(len(train), random_state=1000 * seed), holdout, meta)})
        # the holdout scored as if it were synthetic: the ceiling of fidelity and TSTR (its DCR share and
        # MIA AUC against itself would mean nothing)
        reference = {k: v for k, v in _scores(train, holdout, holdout, meta).items()
                     if k in ("fidelity", "trtr_auc", "tstr_auc", "tstr_gap")}
    finally:
        torch.set_num_threads(threads_before)
    params = {k: v for k, v in gen.get_params().items()
              if k not in ("checkpoint_epochs", "checkpoint_dir", "random_state", "verbose", "device")}
    return {"quick": quick, "seeds": list(seeds),
            "settings": {"epochs": epochs, "checkpoints": list(checkpoints), "torch_threads": TORCH_THREADS,
                         "model": params},
            "fits": fits, "checkpoints": rows, "references": refs + [{"generator": "holdout (ceiling)", **reference}],
            "load_average_at_end": list(os.getloadavg())}


def summarise(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's result from one or more :func:`measure` outputs (e.g. one per seed, run apart)."""
    if len({json.dumps(p["settings"], sort_keys=True, default=str) for p in parts}) != 1:
        raise ValueError("the parts were measured with different settings; they cannot be combined")
    fits = [f for p in parts for f in p["fits"]]
    rows = [r for p in parts for r in p["checkpoints"]]
    refs = [r for p in parts for r in p["references"] if r["generator"] != "holdout (ceiling)"]
    reference = next(r for r in parts[0]["references"] if r["generator"] == "holdout (ceiling)")
    table = pd.DataFrame(rows)
    numeric = [c for c in table.columns if c not in ("seed", "epoch", "rejected_unguided", "metrics_decoding")]
    per_epoch = table.groupby("epoch")[numeric].mean().reset_index()
    best = recommend(per_epoch)
    last = per_epoch.iloc[-1]
    at = per_epoch.set_index("epoch").loc[best] if best is not None else None
    fit_table = pd.DataFrame(fits)
    sample_s = float(per_epoch.set_index("epoch").loc[best if best is not None else int(last["epoch"]),
                                                      "sample_1000_s"]) if "sample_1000_s" in per_epoch else float("nan")
    checks = {
        "train_s": (float(fit_table["train_s"].max()), float(fit_table["train_s"].max()) <= TARGETS["train_s"]),
        "train_cpu_s": (float(fit_table["train_cpu_s"].max()),
                        float(fit_table["train_cpu_s"].max()) <= TARGETS["train_s"]),
        "validity_unguided": (float(last["validity_unguided"]),
                              float(last["validity_unguided"]) >= TARGETS["validity_unguided"]),
        "validity_guided": (float(last["validity_guided"]), float(last["validity_guided"]) >= 1.0),
        "sample_1000_s": (sample_s, sample_s <= TARGETS["sample_1000_s"]),
    }
    for key in ("dcr_share", "mia_auc", "tstr_gap"):
        value = float(at[key]) if at is not None else float("nan")
        checks[key] = (value, at is not None and value <= TARGETS[key])
    ref_table = pd.DataFrame(refs)
    ref_means = ref_table.groupby("generator").mean(numeric_only=True).drop(columns="seed").reset_index()
    return {
        "benchmark": "llm",
        "quick": parts[0]["quick"],
        "seeds": [s for p in parts for s in p["seeds"]],
        "settings": parts[0]["settings"],
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "load_average_at_end": [p["load_average_at_end"] for p in parts]},
        "fits": fits,
        "checkpoints": rows,
        "per_epoch_mean": per_epoch.to_dict("records"),
        "references": refs + [{"generator": "holdout (ceiling)", **{k: v for k, v in reference.items()
                                                                      if k != "generator"}}],
        "references_mean": ref_means.to_dict("records"),
        "recommended_epoch": best,
        "targets": TARGETS,
        "verdict": {k: {"value": v, "met": bool(ok)} for k, (v, ok) in checks.items()},
        "notes": "wall times depend on what else runs on the machine; CPU times are the process's "
                 "user + system time (one torch thread: CPU time is the cost on a free core). "
                 "train_cpu_s is checked against the same 300 s as the wall time.",
        "numpy": np.__version__,
    }


def run(quick: bool = False, seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Train the language model on WHAS500 with checkpoints, score each, compare with CART; return a dict."""
    return summarise([measure(quick, seeds)])


def _part_of(result: dict[str, Any]) -> dict[str, Any]:
    """The :func:`measure` output that a written result was summarised from."""
    loads = result["machine"]["load_average_at_end"]
    return {"quick": result["quick"], "seeds": result["seeds"], "settings": result["settings"],
            "fits": result["fits"], "checkpoints": result["checkpoints"], "references": result["references"],
            "load_average_at_end": loads[0] if len(loads) == 1 else loads}


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils benchmark llm [--quick] [--seeds 0,1,2] [--out FILE] [--combine FILE ...]``.

    ``--seeds 0 --out part0.json`` measures one seed into its own file (seeds can then be
    run one at a time, or on different machines); ``--combine part0.json part1.json ...``
    writes the summary of several such files to ``--out``.
    """
    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark llm")
    parser.add_argument("--quick", action="store_true", help="seed 0, 10 epochs: a smoke run")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/llm.json)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="FILE",
                        help="summarise the raw files of earlier --seeds runs instead of measuring")
    args = parser.parse_args(argv)
    command = " ".join(["python -m course_utils benchmark llm", *(argv if argv is not None else sys.argv[3:])])
    commands: list[str] = []
    if args.combine:
        written = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.combine]
        parts = [_part_of(w) for w in written]
        commands = [c for w in written for c in w.get("commands", [])]
    else:
        seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
        parts = [measure(args.quick, seeds)]
    result = {**summarise(parts), "commands": commands + [command]}  # what was run, in order
    default = Path("benchmarks") / "results" / f"llm{'-quick' if args.quick else ''}.json"
    out = Path(args.out) if args.out else default
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps(result["verdict"], indent=2, default=str))
    print(f"results written to {out}")
    return 0
