"""Plots for comparing real and synthetic tables, with matplotlib.

Every function returns the matplotlib ``Figure`` or ``Axes`` it drew on and never
calls ``plt.show()`` (a notebook shows the figure by itself; call ``plt.show()``
in a script). Pass ``ax=`` to draw into an existing axes.

- :func:`plot_marginals` -- one panel per column: histograms (numeric) or grouped bars
  (discrete), real vs synthetic.
- :func:`plot_correlation_difference` -- heatmap of |association(real) - association(synthetic)|.
- :func:`plot_dcr` -- distances to the closest training record, synthetic vs holdout.
- :func:`plot_privacy_utility` -- several generators on a privacy-utility plane.
- :func:`plot_loss` -- training curves from a ``{name: [values]}`` history.
- :func:`plot_kaplan_meier` -- Kaplan-Meier survival curves of several tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .evaluation.fidelity import _numeric, association_matrix, check_tables, column_types
from .schema import Metadata

REAL_COLOR = "#1f77b4"
SYNTH_COLOR = "#ff7f0e"
HOLDOUT_COLOR = "#2ca02c"


def plot_marginals(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: Sequence[str] | None = None,
    metadata: Metadata | None = None,
    ncols: int = 4,
    bins: int = 30,
    max_levels: int = 10,
    labels: tuple[str, str] = ("real", "synthetic"),
) -> Figure:
    """Real vs synthetic distribution of each column in a grid of small panels.

    Numeric columns get overlaid density histograms on shared bins; discrete columns
    (binary, categorical, integer with few levels: see
    :func:`~course_utils.evaluation.fidelity.column_types`) get grouped bars of the
    share of each level, missing values shown as a "missing" level. Returns the Figure.
    """
    real, synthetic = check_tables(real, synthetic, labels)
    columns = list(real.columns if columns is None else columns)
    unknown = [c for c in columns if c not in real.columns]
    if unknown:
        raise ValueError(f"column(s) {unknown} are not in the tables")
    if not columns:
        raise ValueError("no columns to plot")
    types = column_types(real, metadata, max_levels)
    ncols = max(1, min(ncols, len(columns)))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax, col in zip(axes.ravel(), columns, strict=False):
        if types[col] == "numeric":
            a, b = _numeric(real[col]), _numeric(synthetic[col])
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
            ax.hist(a, bins=edges, density=True, alpha=0.5, color=REAL_COLOR, label=labels[0])
            ax.hist(b, bins=edges, density=True, alpha=0.5, color=SYNTH_COLOR, label=labels[1])
        else:
            p = _levels_share(real[col])
            q = _levels_share(synthetic[col])
            levels = list(p.index) + [v for v in q.index if v not in p.index]
            try:
                levels = sorted(levels)
            except TypeError:
                levels = sorted(levels, key=str)
            x = np.arange(len(levels))
            ax.bar(x - 0.2, [p.get(v, 0.0) for v in levels], width=0.4, color=REAL_COLOR, label=labels[0])
            ax.bar(x + 0.2, [q.get(v, 0.0) for v in levels], width=0.4, color=SYNTH_COLOR, label=labels[1])
            ax.set_xticks(x)
            ax.set_xticklabels([str(v) for v in levels], rotation=45 if len(levels) > 3 else 0, fontsize=7)
        ax.set_title(str(col), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(columns) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _levels_share(s: pd.Series) -> pd.Series:
    values = s.astype(object)
    return values.where(values.notna(), "missing").value_counts(normalize=True)


def plot_correlation_difference(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata | None = None,
    ax: Axes | None = None,
    annotate: bool | None = None,
    vmax: float = 0.5,
) -> Axes:
    """Heatmap of the absolute difference of pairwise associations, real vs synthetic.

    Associations come from :func:`~course_utils.evaluation.fidelity.association_matrix`
    (Pearson for numeric pairs, Cramér's V for discrete pairs, correlation ratio for
    mixed pairs), both computed with the real table's column types. Dark cells are
    relationships the generator lost or invented. ``annotate`` writes the values
    (default: when there are at most 12 columns). Returns the Axes.
    """
    real, synthetic = check_tables(real, synthetic)
    types = column_types(real, metadata)
    diff = (association_matrix(real, types=types) - association_matrix(synthetic, types=types)).abs()
    if ax is None:
        n = len(diff)
        _, ax = plt.subplots(figsize=(max(4, 0.45 * n + 2), max(3.5, 0.45 * n + 1.5)))
    im = ax.imshow(diff.to_numpy(dtype=float), cmap="Reds", vmin=0, vmax=vmax)
    ax.set_xticks(range(len(diff)))
    ax.set_yticks(range(len(diff)))
    ax.set_xticklabels(diff.columns, rotation=90, fontsize=7)
    ax.set_yticklabels(diff.index, fontsize=7)
    if annotate or (annotate is None and len(diff) <= 12):
        for i in range(len(diff)):
            for j in range(len(diff)):
                v = diff.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
    ax.figure.colorbar(im, ax=ax, label="|association difference|")
    ax.set_title("Association difference, real vs synthetic")
    return ax


def plot_dcr(
    synthetic_to_train: Sequence[float] | np.ndarray,
    holdout_to_train: Sequence[float] | np.ndarray,
    ax: Axes | None = None,
    bins: int = 40,
    log: bool = False,
) -> Axes:
    """Histograms of the distance to the closest training record (DCR).

    Pass the two distance arrays from the privacy module (for example
    ``res = privacy.dcr(train, synthetic, holdout)`` then ``res.synthetic_to_train``
    and ``res.holdout_to_train``). A synthetic histogram piled up near zero, left of
    the holdout's, means synthetic rows sit closer to training patients than new
    patients do. Returns the Axes.
    """
    a = np.asarray(synthetic_to_train, dtype=float).ravel()
    b = np.asarray(holdout_to_train, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("plot_dcr needs two non-empty arrays of distances")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("plot_dcr: the distances contain missing values")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
    ax.hist(b, bins=edges, density=True, alpha=0.5, color=HOLDOUT_COLOR, label="holdout → train")
    ax.hist(a, bins=edges, density=True, alpha=0.5, color=SYNTH_COLOR, label="synthetic → train")
    for values, color in ((b, HOLDOUT_COLOR), (a, SYNTH_COLOR)):
        ax.axvline(np.median(values), color=color, linestyle="--", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("distance to closest training record")
    ax.set_ylabel("density")
    ax.legend()
    return ax


def plot_privacy_utility(
    results: pd.DataFrame,
    x: str = "privacy",
    y: str = "utility",
    label: str = "generator",
    ax: Axes | None = None,
    reference: Mapping[str, float] | None = None,
) -> Axes:
    """Scatter of several generators on a privacy (x) versus utility (y) plane.

    ``results`` has one row per generator with columns ``label``, ``x`` and ``y``
    (for example a DCR share or an MIA AUC against a TSTR AUC). ``reference`` may
    hold ``{"x": ..., "y": ...}`` values of the real holdout, drawn as dashed lines.
    Returns the Axes.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    missing = [c for c in (label, x, y) if c not in results.columns]
    if missing:
        raise ValueError(f"results has no column(s) {missing}; it has {list(results.columns)}")
    if results.empty:
        raise ValueError("results has no rows")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(results[x], results[y], s=50, zorder=3)
    for _, row in results.iterrows():
        ax.annotate(str(row[label]), (row[x], row[y]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if reference:
        if "x" in reference:
            ax.axvline(reference["x"], color="grey", linestyle="--", linewidth=1)
        if "y" in reference:
            ax.axhline(reference["y"], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    return ax


def plot_loss(
    history: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    logy: bool = False,
    xlabel: str = "epoch",
    **plot_kwargs: Any,
) -> Axes:
    """Training curves: one line per entry of ``history`` (``{"loss": [...], "val": [...]}``).

    Works with the ``history_`` attribute that the course's deep generators keep.
    Returns the Axes.
    """
    if not isinstance(history, Mapping) or not history:
        raise ValueError("history must be a non-empty dict of {name: list of values}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in history.items():
        v = np.asarray(values, dtype=float).ravel()
        if v.size == 0:
            raise ValueError(f"history entry {name!r} is empty")
        ax.plot(np.arange(1, v.size + 1), v, label=str(name), **plot_kwargs)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.legend()
    return ax


def plot_kaplan_meier(
    tables: Mapping[str, pd.DataFrame],
    duration: str = "lenfol",
    event: str = "fstat",
    ax: Axes | None = None,
    xlabel: str = "days of follow-up",
) -> Axes:
    """Kaplan-Meier survival curves of several tables on one axes (``{"real": df, "MCM": df}``).

    Each curve is the product-limit estimate of
    :func:`course_utils.evaluation.survival.kaplan_meier`, drawn as a step function;
    censored patients are marked with a small tick where they leave follow-up.
    Returns the Axes.
    """
    from .evaluation.survival import kaplan_meier

    if not isinstance(tables, Mapping) or not tables:
        raise ValueError("tables must be a non-empty dict of {label: DataFrame}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    colors = [REAL_COLOR, SYNTH_COLOR, HOLDOUT_COLOR, "#d62728", "#9467bd", "#8c564b"]
    for i, (label, df) in enumerate(tables.items()):
        for col in (duration, event):
            if col not in df.columns:
                raise ValueError(f"table {label!r} has no column {col!r}")
        curve = kaplan_meier(df[duration], df[event])
        times = np.concatenate([[0.0], curve["time"].to_numpy()])
        surv = np.concatenate([[1.0], curve["survival"].to_numpy()])
        color = colors[i % len(colors)]
        ax.step(times, surv, where="post", label=f"{label} (n={len(df)})", color=color)
        cens = curve[curve["censored"] > 0]
        ax.plot(cens["time"], cens["survival"], "|", color=color, markersize=5, alpha=0.6)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share still alive")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
