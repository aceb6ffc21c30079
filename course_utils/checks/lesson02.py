"""Checks for lesson 02 (SMOTE), used by ``solutions/02_smote.ipynb``.

The exercise works on the stroke thrombolysis table split as
``train_holdout_split(df, test_size=0.25, stratify="Clotbuster given", random_state=SEED)``;
checks that need the data rebuild that split themselves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED
from . import CheckFailed, register, require_callable

TEST_SIZE = 0.25
METRICS = ("accuracy", "roc_auc", "sensitivity", "specificity")


@lru_cache(maxsize=1)
def exercise_split() -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The exercise's train and holdout parts of the stroke table, and its metadata."""
    from ..data import STROKE_TARGET, load_stroke, train_holdout_split

    df, meta = load_stroke(return_metadata=True)
    train, holdout = train_holdout_split(df, test_size=TEST_SIZE, stratify=STROKE_TARGET, random_state=SEED)
    return train, holdout, meta


def make_model():
    """The exercise's classifier: standardised features, then logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def holdout_metrics(model: Any, holdout: pd.DataFrame, target: str) -> dict[str, float]:
    """Accuracy, ROC AUC, sensitivity and specificity of a fitted model on ``holdout``."""
    from sklearn.metrics import roc_auc_score

    y = holdout[target].to_numpy()
    p = model.predict_proba(holdout.drop(columns=target))[:, 1]
    pred = (p >= 0.5).astype(int)
    return {
        "accuracy": float((pred == y).mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "sensitivity": float(pred[y == 1].mean()),
        "specificity": float(1 - pred[y == 0].mean()),
    }


# -- 1. one SMOTE step -----------------------------------------------------------------------
def _step_inputs(seed: int | None) -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(0 if seed is None else seed)
    return [(rng.normal(size=4) * 10, rng.normal(size=4) * 10, float(rng.random())) for _ in range(5)]


def _step_export(func: Any, cases: list) -> list[dict[str, Any]]:
    require_callable(func, "smote_point")
    out = []
    for row, nb, f in cases:
        r, n = np.array(row, dtype=float), np.array(nb, dtype=float)
        got = func(r, n, f)
        out.append({"got": got, "changed": not (np.array_equal(r, row) and np.array_equal(n, nb))})
    return out


@register("02.smote_step", target="smote_point", points=1, inputs=_step_inputs, export=_step_export,
          hint="Step 4: new = row + fraction * (neighbour - row); fraction 0 gives the row, 1 the neighbour.")
def smote_step(observed: list[dict[str, Any]], cases: list) -> None:
    """``smote_point(row, neighbour, fraction)`` returns row + fraction * (neighbour - row)."""
    for (row, nb, f), obs in zip(cases, observed, strict=True):
        got = np.asarray(obs["got"], dtype=float)
        if got.shape != row.shape:
            raise CheckFailed(f"expected a point of shape {row.shape}, found shape {got.shape}")
        if obs["changed"]:
            raise CheckFailed("smote_point changed its inputs; return a new array instead")
        want = row + f * (nb - row)
        if not np.allclose(got, want):
            raise CheckFailed(f"for fraction {f:.2f} expected {np.round(want, 3)}, found {np.round(got, 3)}")


# -- 2. imbalanced-learn's totals -----------------------------------------------------------
@register("02.totals", target="totals", points=1,
          hint="imbalanced-learn wants the TOTAL per class after resampling: real rows + new rows.")
def totals(obj: Any) -> None:
    """``totals`` asks imbalanced-learn for real + 2 x real rows per class of the exercise's train."""
    from ..data import STROKE_TARGET

    train, _, _ = exercise_split()
    counts = train[STROKE_TARGET].value_counts()
    if not isinstance(obj, dict):
        raise CheckFailed(f"expected a dict {{class: total}}, found {type(obj).__name__}")
    want = {int(c): int(3 * n) for c, n in counts.items()}
    got = {int(k): int(v) for k, v in obj.items()}
    if set(got) != set(want):
        raise CheckFailed(f"expected one entry per class {sorted(want)}, found classes {sorted(got)}")
    for c in want:
        if got[c] == 2 * counts[c]:
            raise CheckFailed(f"class {c}: {got[c]} is the number of NEW rows; imbalanced-learn counts "
                              "the real rows too")
        if got[c] != want[c]:
            raise CheckFailed(f"class {c}: expected a total of {want[c]}, found {got[c]}")


# -- 3. one-hot repair -----------------------------------------------------------------------
def _repair_inputs(seed: int | None) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1 if seed is None else seed)
    cols = [f"Hosp_{i}" for i in range(1, 8)]
    raw = rng.dirichlet(np.full(7, 0.3), size=200) * rng.uniform(0.5, 1.2, size=(200, 1))
    return pd.DataFrame(raw, columns=cols, index=rng.permutation(np.arange(500, 700))), raw


def _repair_export(func: Any, inputs: tuple) -> dict[str, Any]:
    require_callable(func, "repair_group")
    block = inputs[0]
    given = block.copy()
    got = func(given)
    return {"got": got, "changed": not given.equals(block)}


@register("02.onehot_repair", target="repair_group", points=1, inputs=_repair_inputs, export=_repair_export,
          hint="Per row, put the 1 in the column with the largest value (argmax) and 0 elsewhere.")
def onehot_repair(observed: dict[str, Any], inputs: tuple) -> None:
    """``repair_group(block)`` puts a single 1 at each row's argmax, same columns and index."""
    block, raw = inputs
    got = observed["got"]
    if not isinstance(got, pd.DataFrame):
        raise CheckFailed(f"expected a DataFrame, found {type(got).__name__}")
    if observed["changed"]:
        raise CheckFailed("repair_group changed the block it was given; return a new frame")
    if list(got.columns) != list(block.columns) or not got.index.equals(block.index):
        raise CheckFailed("return the same columns and the same index (row labels) as the input")
    values = got.to_numpy(dtype=float)
    if not np.isin(values, (0, 1)).all():
        raise CheckFailed("every value should be 0 or 1")
    sums = values.sum(axis=1)
    if not (sums == 1).all():
        raise CheckFailed(f"{int((sums != 1).sum())} of {len(sums)} rows do not have exactly one 1")
    if not (values.argmax(axis=1) == raw.argmax(axis=1)).all():
        raise CheckFailed("the 1 should sit in the column with the largest raw value")


# -- 4. the closeness filter -----------------------------------------------------------------
def closeness_case(seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small real table and synthetic rows near it, with labels unrelated to positions."""
    rng = np.random.default_rng(seed)
    real = pd.DataFrame({"Age": rng.integers(40, 95, 250), "S2NihssArrival": rng.integers(0, 30, 250),
                         "Male": rng.integers(0, 2, 250)})
    synth = real.sample(300, replace=True, random_state=seed).reset_index(drop=True).astype(float)
    # Continuous jitter makes ties impossible; 20 rows stay exact copies of real patients.
    moved = np.arange(300) >= 20
    synth.loc[moved, "Age"] += rng.uniform(-8, 8, moved.sum())
    synth.loc[moved, "S2NihssArrival"] = (synth.loc[moved, "S2NihssArrival"]
                                          + rng.uniform(-2, 2, moved.sum())).clip(0, 42)
    synth.index = pd.Index(rng.permutation(np.arange(2000, 2300)))
    return real, synth


_ORDERS = ("in the given order", "after shuffling")


def _closeness_inputs(seed: int | None) -> dict[str, Any]:
    real, synth = closeness_case()
    shuffled = synth.sample(frac=1.0, random_state=5 if seed is None else seed)
    return {"real": real, "orders": [synth, shuffled]}


def _closeness_export(func: Any, inputs: dict[str, Any]) -> list[Any]:
    require_callable(func, "drop_closest")
    return [func(inputs["real"].copy(), rows.copy(), 0.1) for rows in inputs["orders"]]


@register("02.closeness", target="drop_closest", points=2, inputs=_closeness_inputs, export=_closeness_export,
          hint="Drop exact copies, then the closest share; keep each distance with its own row "
               "(a Series indexed like the synthetic rows), never re-order and attach by position.")
def closeness(observed: list[Any], inputs: dict[str, Any]) -> None:
    """``drop_closest`` keeps the same rows as ``closeness_filter``, whatever the row order."""
    from ..evaluation.closeness import closeness_filter

    real, synth = closeness_case()
    want = set(closeness_filter(real, synth, share=0.1).index)
    for name, got in zip(_ORDERS, observed, strict=True):
        if not isinstance(got, pd.DataFrame):
            raise CheckFailed(f"expected the kept rows as a DataFrame, found {type(got).__name__}")
        kept = set(got.index)
        if not kept <= set(synth.index):
            raise CheckFailed("the kept rows must keep their original index labels")
        if len(kept) != len(want):
            raise CheckFailed(f"{name}: expected {len(want)} rows kept, found {len(kept)}")
        if kept != want:
            wrong = len(kept - want)
            raise CheckFailed(f"{name}: {wrong} of the kept rows should have been removed (and as many "
                              "removed rows kept); check how distances are attached to rows")


# -- 5. what synthesising before the split reports --------------------------------------------
LEAK_TOL = 0.003
"""ROC AUCs within this of the reference pass; the nearest wrong pipeline is 0.005 away."""


def _auc(fit: pd.DataFrame, test: pd.DataFrame) -> float:
    from sklearn.metrics import roc_auc_score

    from ..data import STROKE_TARGET

    model = make_model().fit(fit.drop(columns=STROKE_TARGET), fit[STROKE_TARGET])
    return float(roc_auc_score(test[STROKE_TARGET], model.predict_proba(test.drop(columns=STROKE_TARGET))[:, 1]))


@lru_cache(maxsize=1)
def leak_pipelines() -> dict[str, float]:
    """ROC AUC of the leaky pipeline, the honest one, and the wrong turns a learner may take."""
    from ..data import STROKE_TARGET, load_stroke, train_holdout_split
    from ..generators.smote import SMOTESynthesizer

    train, holdout, meta = exercise_split()
    df = load_stroke()

    def smote(table: pd.DataFrame) -> pd.DataFrame:
        gen = SMOTESynthesizer(target=STROKE_TARGET, mode="replace", random_state=SEED).fit(table, meta)
        return gen.sample(len(table))

    everyone, honest = smote(df), smote(train)
    fit, test = train_holdout_split(everyone, test_size=TEST_SIZE, stratify=STROKE_TARGET, random_state=SEED)
    fit_h, test_h = train_holdout_split(honest, test_size=TEST_SIZE, stratify=STROKE_TARGET, random_state=SEED)
    return {"leaky": _auc(fit, test), "honest": _auc(honest, holdout),
            "leaky on the real holdout": _auc(everyone, holdout),
            "honest on synthetic test rows": _auc(fit_h, test_h),
            "real-trained": _auc(train, holdout)}


@register("02.leak", target="leak", points=2,
          hint="'leaky': SMOTE on df, split the synthetic rows, train on one part and score on the "
               "other. 'honest': SMOTE on train only, train on those rows, score on the real holdout.")
def leak(obj: Any) -> None:
    """``leak``: ROC AUC reported by the synthesise-then-split pipeline and by the honest one."""
    if isinstance(obj, pd.Series):
        obj = obj.to_dict()
    if not isinstance(obj, dict) or set(obj) != {"leaky", "honest"}:
        raise CheckFailed(f"expected a dict with the keys 'leaky' and 'honest', found {obj!r}"[:300])
    found = {}
    for key, value in obj.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0 <= value <= 1:
            raise CheckFailed(f"{key!r}: expected a ROC AUC between 0 and 1, found {value!r}")
        found[key] = float(value)
    ref = leak_pipelines()
    if found["leaky"] < found["honest"] - LEAK_TOL and abs(found["leaky"] - ref["honest"]) <= LEAK_TOL:
        raise CheckFailed("the two numbers look swapped: the leaky pipeline reports the higher AUC")
    for key in ("leaky", "honest"):
        if abs(found[key] - ref[key]) <= LEAK_TOL:
            continue
        near = min(ref, key=lambda name: abs(ref[name] - found[key]))
        if near != key and abs(ref[near] - found[key]) <= LEAK_TOL:
            raise CheckFailed(f"{key!r} = {found[key]:.3f} is the AUC of another pipeline ({near}), "
                              f"not the {key} one: {_LEAK_STEPS[key]}")
        raise CheckFailed(f"{key!r} = {found[key]:.3f}, expected about {ref[key]:.3f}: {_LEAK_STEPS[key]}")


_LEAK_STEPS = {
    "leaky": "SMOTE (mode='replace', random_state=SEED) on df, sample len(df) rows, split them with "
             "train_holdout_split(..., test_size=0.25, stratify=STROKE_TARGET, random_state=SEED), "
             "fit make_model() on the first part and score the second, synthetic, part",
    "honest": "SMOTE on train only, sample len(train) rows, fit make_model() on them and score the "
              "real holdout",
}


# -- 6. real-trained vs synthetic-trained on the same holdout --------------------------------
@register("02.utility", target="results", points=2,
          hint="Train make_model() on train and on synthetic_train; score both on the SAME real holdout "
               "with predicted probabilities for ROC AUC.")
def utility(obj: Any) -> None:
    """``results``: real- and synthetic-trained metrics on the same real holdout."""
    from ..data import STROKE_TARGET

    train, holdout, _ = exercise_split()
    if not isinstance(obj, pd.DataFrame):
        raise CheckFailed(f"expected a DataFrame, found {type(obj).__name__}")
    missing = [r for r in ("real", "synthetic") if r not in obj.index]
    if missing:
        raise CheckFailed(f"expected rows 'real' and 'synthetic' in the index; missing {missing}")
    cols = [c for c in METRICS if c not in obj.columns]
    if cols:
        raise CheckFailed(f"expected columns {list(METRICS)}; missing {cols}")
    table = obj.loc[["real", "synthetic"], list(METRICS)].astype(float)
    if not ((table >= 0) & (table <= 1)).all().all():
        raise CheckFailed("every metric should lie between 0 and 1")
    model = make_model().fit(train.drop(columns=STROKE_TARGET), train[STROKE_TARGET])
    want = holdout_metrics(model, holdout, STROKE_TARGET)
    for m in METRICS:
        if abs(table.loc["real", m] - want[m]) > 0.01:
            raise CheckFailed(f"real-trained {m}: expected about {want[m]:.3f} on the holdout, "
                              f"found {table.loc['real', m]:.3f}")
    y = holdout[STROKE_TARGET]
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    syn = table.loc["synthetic"]
    implied = (syn["sensitivity"] * n1 + syn["specificity"] * n0) / (n0 + n1)
    if abs(implied - syn["accuracy"]) > 0.003:
        raise CheckFailed("synthetic row: accuracy does not match sensitivity and specificity on the "
                          "holdout's class counts (was it scored on another test set, or are "
                          "sensitivity and specificity swapped?)")
    if not (want["roc_auc"] - 0.10 <= syn["roc_auc"] <= want["roc_auc"] + 0.04):
        raise CheckFailed(f"synthetic-trained ROC AUC {syn['roc_auc']:.3f} is implausible next to the "
                          f"real-trained {want['roc_auc']:.3f}")


# -- 02.neighbours: SMOTE's neighbour search, written by the learner ------------------------
def _neighbour_inputs(seed: int | None) -> dict[str, Any]:
    """Two overlapping classes in 3 numbers (trusted); the minority label and k."""
    rng = np.random.default_rng(2 if seed is None else seed)
    X = np.vstack([rng.normal(0, 1, size=(40, 3)), rng.normal(0.8, 1, size=(14, 3))])
    y = np.r_[np.zeros(40, dtype=np.int64), np.ones(14, dtype=np.int64)]
    order = rng.permutation(len(y))  # the classes interleaved, as in a real table
    return {"X": X[order], "y": y[order], "label": 1, "k": 4}


def _neighbour_export(func: Any, inputs: dict[str, Any]) -> np.ndarray:
    from . import require_callable

    require_callable(func, "class_neighbours")
    X, y = np.asarray(inputs["X"]).copy(), np.asarray(inputs["y"]).copy()
    return np.asarray(func(X, y, inputs["label"], inputs["k"]))


def reference_neighbours(X: np.ndarray, y: np.ndarray, label: Any, k: int) -> list[set[int]]:
    """For each row of class ``label`` (in table order), the indices of its k nearest others of that class."""
    from sklearn.neighbors import NearestNeighbors

    rows = np.flatnonzero(y == label)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(X[rows]).kneighbors(X[rows])[1][:, 1:]
    return [set(rows[i].tolist()) for i in idx]


@register("02.neighbours", target="class_neighbours", points=2, inputs=_neighbour_inputs,
          export=_neighbour_export,
          hint="Search only among the rows of the class (X[y == label]) with NearestNeighbors(n_neighbors=k + 1), "
               "drop the first column (each row is its own nearest neighbour), and map the positions back "
               "to row numbers of X.")
def neighbours(found: np.ndarray, inputs: dict[str, Any]) -> None:
    """``class_neighbours(X, y, label, k)``: each class row's k nearest other rows of the same class."""
    X, y, label, k = np.asarray(inputs["X"]), np.asarray(inputs["y"]), inputs["label"], int(inputs["k"])
    want = reference_neighbours(X, y, label, k)
    found = np.asarray(found)
    if found.shape != (len(want), k):
        raise CheckFailed(f"expected an array of shape ({len(want)}, {k}): one row per row of the class, "
                          f"k neighbour indices each; found {found.shape}")
    rows = np.flatnonzero(y == label)
    if any(int(r) in set(f.tolist()) for r, f in zip(rows, found, strict=True)):
        raise CheckFailed("a row is listed as its own neighbour: skip the first column of the search")
    if found.size and not np.isin(found, rows).all():
        if np.isin(found, np.arange(len(rows))).all():
            raise CheckFailed("the indices are positions within the class, not row numbers of X: map them "
                              "back with the class's row numbers")
        raise CheckFailed("some neighbours belong to the other class: search among the class's rows only")
    wrong = sum(set(f.tolist()) != w for f, w in zip(found, want, strict=True))
    if wrong:
        raise CheckFailed(f"{wrong} of {len(want)} rows have the wrong neighbours: use the Euclidean "
                          "distance on the values as given, k nearest")
