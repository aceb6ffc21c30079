"""A table turned into small integer codes using public knowledge only (lesson 10).

Differentially private generators must not learn the *shape* of the data for free:
the smallest and largest age in a table are themselves facts about two patients, and
so is the existence of a rare category. :class:`PublicDomain` therefore builds its
codes from what the user declares, never from the rows:

- a categorical column: one code per category of the metadata (the data dictionary);
- a binary column: codes 0 and 1; a declared one-hot group: one code per member;
- a numeric column: ``n_bins`` equal-width bins between the public ``bounds``; an
  integer column with at most ``n_bins`` possible values keeps one code per value;
  values outside the bounds are clipped into the end bins;
- a nullable column: one more code, "missing".

``encode`` maps a table to an ``(n_rows, n_variables)`` integer array; ``decode``
maps codes back to a table (a numeric value drawn uniformly inside its bin).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..schema import Metadata

__all__ = ["PublicDomain", "STROKE_PUBLIC_BOUNDS", "Variable", "WHAS500_PUBLIC_BOUNDS", "WHAS500_PUBLIC_PLAN",
           "numeric_columns", "public_bounds"]

WHAS500_PUBLIC_BOUNDS: dict[str, tuple[float, float]] = {
    "age": (18, 105),        # adults admitted with a heart attack
    "bmi": (10, 60),         # kg/m2, the range of adult body-mass index charts
    "diasbp": (0, 200),      # mmHg, physiological limits of a recorded blood pressure
    "sysbp": (40, 300),
    "hr": (20, 250),         # beats per minute
    "los": (0, 60),          # days in hospital, the study's recording range
    "lenfol": (0, 2400),     # days of follow-up: admissions 1997-2001, follow-up to end 2002
}
"""Ranges of the WHAS500 numeric columns from clinical and study-design knowledge, not from the rows."""

WHAS500_PUBLIC_PLAN: dict[tuple[str, str], float] = {
    ("fstat", "lenfol"): 4.0,  # follow-up ends early for a patient who dies: the strongest link
    ("fstat", "age"): 2.0,     # the first risk factor in every post-infarction score
    ("fstat", "chf"): 1.0,     # heart failure at admission
    ("fstat", "bmi"): 1.0,
    ("fstat", "hr"): 1.0,      # heart rate on admission
}
"""A clinician's short list of what drives death after a heart attack, for ``MSTSynthesizer(tree=...)``.

Public knowledge, like the bounds: the pairs to measure and the weights, doubling with
the rank on the list, that split the two-way budget between them.
"""

STROKE_PUBLIC_BOUNDS: dict[str, tuple[float, float]] = {
    "Age": (18, 100),
    "# Comorbidities": (0, 5),            # five comorbidity flags in the table
    "S2RankinBeforeStroke": (0, 5),       # modified Rankin scale before the stroke (6 = dead)
    "S2NihssArrival": (0, 42),            # NIHSS total
    "S2NihssArrivalLocQuestions": (0, 2), "S2NihssArrivalLocCommands": (0, 2),
    "S2NihssArrivalBestGaze": (0, 2), "S2NihssArrivalVisual": (0, 3),
    "S2NihssArrivalFacialPalsy": (0, 3), "S2NihssArrivalMotorArmLeft": (0, 4),
    "S2NihssArrivalMotorArmRight": (0, 4), "S2NihssArrivalMotorLegLeft": (0, 4),
    "S2NihssArrivalMotorLegRight": (0, 4), "S2NihssArrivalLimbAtaxia": (0, 2),
    "S2NihssArrivalSensory": (0, 2), "S2NihssArrivalBestLanguage": (0, 3),
    "S2NihssArrivalDysarthria": (0, 2), "S2NihssArrivalExtinctionInattention": (0, 2),
}
"""Ranges of the stroke table's scores from the scales' definitions (NIHSS items, Rankin)."""


@dataclass
class Variable:
    """One coded variable: a column, or a one-hot group of columns.

    ``levels`` are the category labels (categorical), the member columns (group), the
    values 0/1 (binary) or, for numeric columns, the bin edges in ``edges``.
    """

    name: str
    kind: str
    columns: list[str]
    levels: list[Any] = field(default_factory=list)
    edges: np.ndarray | None = None
    integer: bool = False
    nullable: bool = False

    @property
    def n_values(self) -> int:
        """Codes before the missing-value code."""
        return len(self.edges) - 1 if self.edges is not None else len(self.levels)

    @property
    def size(self) -> int:
        """Number of codes, the missing-value code included."""
        return self.n_values + int(self.nullable)


class PublicDomain:
    """Codes for every column from the metadata and public bounds (see the module docstring).

    Args:
        n_bins: bins per numeric column.
    """

    def __init__(self, n_bins: int = 8):
        if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 2:
            raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
        self.n_bins = int(n_bins)

    def fit(self, metadata: Metadata, bounds: Mapping[str, tuple[float, float]]) -> PublicDomain:
        """Build the variables from ``metadata`` and ``bounds`` (one pair per numeric column)."""
        self.variables_: list[Variable] = []
        done: set[str] = set()
        for name, spec in metadata.columns.items():
            if name in done:
                continue
            if spec.group is not None:
                members = list(metadata.one_hot_groups[spec.group])
                self.variables_.append(Variable(spec.group, "group", members, levels=members))
                done.update(members)
                continue
            done.add(name)
            if spec.kind == "categorical":
                var = Variable(name, "categorical", [name], levels=list(spec.categories or []))
            elif spec.kind == "binary":
                var = Variable(name, "binary", [name], levels=[0, 1])
            elif spec.kind in ("integer", "continuous"):
                if name not in bounds:
                    raise ValueError(f"column {name!r}: no public bounds given")
                var = Variable(name, spec.kind, [name], edges=self._edges(name, spec.kind, bounds[name]),
                               integer=spec.kind == "integer")
            else:
                raise ValueError(f"column {name!r}: {spec.kind} columns are not supported; "
                                 "convert them to numbers with public bounds first")
            var.nullable = bool(spec.nullable)
            self.variables_.append(var)
        self.sizes_ = np.array([v.size for v in self.variables_], dtype=int)
        return self

    def _edges(self, name: str, kind: str, pair: tuple[float, float]) -> np.ndarray:
        low, high = (float(b) for b in pair)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"column {name!r}: public bounds must be two finite numbers low < high, got {pair!r}")
        if kind == "integer":
            low, high = np.ceil(low), np.floor(high)
            # integer bins cover whole numbers: bin c holds edges[c] .. edges[c+1] - 1
            return np.unique(np.round(np.linspace(low, high + 1, min(self.n_bins, int(high - low) + 1) + 1)))
        return np.linspace(low, high, self.n_bins + 1)

    @property
    def names(self) -> list[str]:
        """Variable names (a one-hot group counts once, under its group name)."""
        return [v.name for v in self.variables_]

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """Integer codes of shape ``(n_rows, n_variables)``."""
        out = np.empty((len(df), len(self.variables_)), dtype=np.int64)
        for j, var in enumerate(self.variables_):
            if var.kind == "group":
                block = df[var.columns].to_numpy(dtype=float)
                code = np.argmax(block, axis=1)
                missing = np.zeros(len(df), dtype=bool)
            else:
                col = df[var.name]
                missing = col.isna().to_numpy()
                if var.edges is not None:
                    x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
                    code = np.searchsorted(var.edges, x, side="right") - 1
                    code = np.clip(code, 0, var.n_values - 1)
                else:
                    lookup = {level: i for i, level in enumerate(var.levels)}
                    vals = col.astype(object).to_numpy()
                    code = np.array([lookup.get(v, -1) if not m else 0 for v, m in zip(vals, missing, strict=True)])
                    if (code < 0).any():
                        bad = vals[code < 0][0]
                        raise ValueError(f"column {var.name!r}: value {bad!r} is not one of its declared levels {var.levels}")
            if missing.any():
                if not var.nullable:
                    raise ValueError(f"column {var.name!r} has missing values but is not declared nullable")
                code = np.where(missing, var.n_values, code)
            out[:, j] = code
        return out

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """A table from codes; numeric values are drawn uniformly inside their bin."""
        cols: dict[str, Any] = {}
        for j, var in enumerate(self.variables_):
            code = codes[:, j]
            missing = code >= var.n_values
            safe = np.where(missing, 0, code)
            if var.kind == "group":
                for i, member in enumerate(var.columns):
                    cols[member] = (safe == i).astype(int)
                continue
            if var.edges is not None:
                lo, hi = var.edges[safe], var.edges[safe + 1]
                if var.integer:
                    value = np.floor(lo + rng.random(len(code)) * (hi - lo))
                else:
                    value = lo + rng.random(len(code)) * (hi - lo)
                cols[var.name] = np.where(missing, np.nan, value)
            else:
                levels = np.array(var.levels, dtype=object)
                value = levels[safe]
                value[missing] = np.nan
                cols[var.name] = value
        return pd.DataFrame(cols)


def numeric_columns(metadata: Metadata) -> list[str]:
    """The integer and continuous columns that need bounds (one-hot members excluded)."""
    return [c for c in metadata.of_kind("integer", "continuous") if metadata[c].group is None]


def public_bounds(metadata: Metadata, df: pd.DataFrame, bounds: Any, who: str) -> dict[str, tuple[float, float]]:
    """Resolve ``bounds`` (a dict of public ranges, or ``"metadata"``) for every numeric column.

    ``None`` is refused with a message: a private generator does not read ranges from
    the data for free. ``"metadata"`` trusts the metadata's bounds as public, with a
    warning for each column whose bounds are exactly the data's minimum and maximum
    (what ``infer_metadata`` produces).
    """
    numeric = numeric_columns(metadata)
    if not numeric:
        return {}
    if bounds is None:
        raise ValueError(
            f"{who} will not read the ranges of {numeric} from the data: pass bounds={{column: "
            "(low, high)} from public knowledge, bounds='metadata' when the metadata's bounds are "
            "public" + (", or bounds='private' to spend budget on them" if who.startswith("MST") else ""))
    if isinstance(bounds, str) and bounds == "metadata":
        out = {}
        for c in numeric:
            b = metadata[c].bounds
            if b is None:
                raise ValueError(f"column {c!r}: the metadata has no bounds")
            x = df[c].dropna()
            if len(x) and float(x.min()) == float(b[0]) and float(x.max()) == float(b[1]):
                warnings.warn(f"column {c!r}: the metadata's bounds {tuple(b)} are exactly the training "
                              "minimum and maximum; if they were read from the data (infer_metadata) "
                              "they are not public and reveal two patients' values", UserWarning, stacklevel=5)
            out[c] = (float(b[0]), float(b[1]))
        return out
    if isinstance(bounds, Mapping):
        missing = [c for c in numeric if c not in bounds]
        if missing:
            raise ValueError(f"no public bounds for numeric column(s) {missing}")
        return {c: (float(bounds[c][0]), float(bounds[c][1])) for c in numeric}
    raise ValueError(f"{who}: bounds must be a dict of public ranges or 'metadata'"
                     + (", 'private'" if who.startswith("MST") else "") + f"; got {bounds!r}")


def check_private_fit(generator: Any, df: pd.DataFrame, metadata: Metadata | None) -> None:
    """What every DP generator checks before it reads a row: the table, epsilon, delta, public metadata."""
    from ..privacy_accounting import check_delta, check_epsilon
    from .base import check_table

    check_table(df)
    who = type(generator).__name__
    check_epsilon(generator.epsilon, who)
    check_delta(generator.delta, who)
    if metadata is None:
        raise ValueError(f"{who} needs metadata declared from public knowledge (column kinds, "
                         "categories, one-hot groups); infer_metadata(df) would read them from "
                         "the patients' rows")
