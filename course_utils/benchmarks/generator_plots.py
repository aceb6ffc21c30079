"""The figures of the generators benchmark, drawn from its summary table (mean over seeds).

- ``privacy_utility.png``: DCR share against TSTR - TRTR, one panel per table;
- ``fidelity.png``: the quality score of each generator as a bar, the real holdout's
  score as a dashed line (the honest ceiling: a bar above it means copying);
- ``fit_time.png``: the wall time of one ``fit`` per generator, on a log scale
  (the generators span four orders of magnitude).

:func:`write_plots` draws all three; ``python -m course_utils benchmark generators
--replot --out FOLDER`` redraws them from ``FOLDER/runs.csv`` without running a generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PLOTS = ("privacy_utility.png", "fidelity.png", "fit_time.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _label(name: str) -> str:
    return name.replace("Synthesizer", "")


def _panels(summary: pd.DataFrame, height: float = 4.0):
    plt = _pyplot()
    tables = list(dict.fromkeys(summary["dataset"]))
    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), height), squeeze=False)
    return plt, fig, list(zip(axes[0], tables, strict=True))


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_privacy_utility(summary: pd.DataFrame, path: str | Path) -> Path:
    """Privacy (DCR share) against utility (TSTR - TRTR) per generator, one panel per table."""
    plt, fig, panels = _panels(summary)
    for ax, name in panels:
        part = summary[summary["dataset"] == name]
        ax.scatter(part["dcr_share"], part["tstr_auc"] - part["trtr_auc"])
        for r in part.itertuples():
            ax.annotate(_label(r.generator), (r.dcr_share, r.tstr_auc - r.trtr_auc), fontsize=7)
        ax.axvline(0.5, ls="--", c="grey")
        ax.axhline(0, ls="--", c="grey")
        ax.set_title(name)
        ax.set_xlabel("DCR share (0.5 = no closer than new patients)")
        ax.set_ylabel("TSTR - TRTR (0 = as useful as real)")
    return _save(plt, fig, Path(path))


def plot_fidelity(summary: pd.DataFrame, path: str | Path) -> Path:
    """Quality score per generator (bars) against the real holdout's (dashed line), per table."""
    plt, fig, panels = _panels(summary, height=4.5)
    for ax, name in panels:
        part = summary[summary["dataset"] == name]
        x = np.arange(len(part))
        ax.bar(x, part["quality"], color="tab:blue")
        ceiling = float(part["quality_holdout"].mean())
        ax.axhline(ceiling, ls="--", c="black", label=f"real holdout {ceiling:.3f}")
        low = float(np.nanmin(np.r_[part["quality"].to_numpy(dtype=float), ceiling]))
        ax.set_ylim(max(0.0, low - 0.05), 1.0)  # the differences that matter are a few hundredths
        ax.set_xticks(x, [_label(g) for g in part["generator"]], rotation=60, ha="right", fontsize=7)
        ax.set_title(name)
        ax.set_ylabel("quality score vs training table")
        ax.legend(fontsize=7, loc="best")
    return _save(plt, fig, Path(path))


def plot_fit_time(summary: pd.DataFrame, path: str | Path) -> Path:
    """Seconds per ``fit`` per generator, log scale, one panel per table."""
    plt, fig, panels = _panels(summary, height=4.5)
    for ax, name in panels:
        part = summary[summary["dataset"] == name]
        x = np.arange(len(part))
        # a fit faster than a millisecond would vanish below the log axis
        ax.bar(x, part["fit_s"].clip(lower=1e-3), color="tab:orange")
        ax.set_yscale("log")
        ax.axhline(10, ls="--", c="grey", label="10 s")
        ax.set_xticks(x, [_label(g) for g in part["generator"]], rotation=60, ha="right", fontsize=7)
        ax.set_title(name)
        ax.set_ylabel("fit time (s, log scale)")
        ax.legend(fontsize=7, loc="upper left")
    return _save(plt, fig, Path(path))


def write_plots(summary: pd.DataFrame, out: str | Path) -> list[Path]:
    """The three figures of :data:`PLOTS` in ``out``; nothing when the summary is empty."""
    out = Path(out)
    if not len(summary):
        return []
    out.mkdir(parents=True, exist_ok=True)
    return [plot_privacy_utility(summary, out / PLOTS[0]), plot_fidelity(summary, out / PLOTS[1]),
            plot_fit_time(summary, out / PLOTS[2])]


def replot(out: str | Path) -> list[Path]:
    """Redraw the figures of ``out`` from its ``runs.csv`` (no generator is run)."""
    from .generators import summarise

    runs_path = Path(out) / "runs.csv"
    if not runs_path.is_file():
        raise FileNotFoundError(f"{runs_path}: no such file; run the benchmark with --out {out} first")
    return write_plots(summarise(pd.read_csv(runs_path)), out)
