"""Shared fixtures: small course tables, and one torch thread per test worker."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from course_utils.config import configure_threads  # noqa: E402

configure_threads()


@pytest.fixture(scope="session")
def veterans() -> pd.DataFrame:
    from course_utils.data import load_veterans

    return load_veterans()


@pytest.fixture(scope="session")
def whas500() -> pd.DataFrame:
    from course_utils.data import load_whas500

    return load_whas500()


@pytest.fixture(scope="session")
def whas500_split(whas500):
    """``(train, holdout, metadata)`` of WHAS500, split as every lesson splits it."""
    from course_utils.config import SEED
    from course_utils.data import train_holdout_split
    from course_utils.schema import infer_metadata

    train, holdout = train_holdout_split(whas500, stratify="fstat", random_state=SEED)
    return train, holdout, infer_metadata(whas500)


@pytest.fixture(scope="session")
def stroke():
    from course_utils.data import load_stroke

    return load_stroke(return_metadata=True)


@pytest.fixture(scope="session")
def mixed_table():
    """``mixed_table(n, seed)``: the simulated mixed-type heart cohort of n rows (cached per size and seed).

    :func:`course_utils.data.simulate_heart_cohort`: numeric, integer, binary and
    categorical columns, missing values and built-in dependencies between columns.
    """
    from course_utils.data import simulate_heart_cohort

    cache: dict[tuple[int, int], pd.DataFrame] = {}

    def make(n: int, seed: int = 0) -> pd.DataFrame:
        if (n, seed) not in cache:
            cache[(n, seed)] = simulate_heart_cohort(n, seed)
        return cache[(n, seed)].copy()

    return make


def with_missing(df: pd.DataFrame, columns: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """A copy of ``df`` with a share of values blanked in each named column."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for col, share in columns.items():
        mask = rng.random(len(out)) < share
        if pd.api.types.is_integer_dtype(out[col].dtype):
            out[col] = out[col].astype(float)
        out.loc[mask, col] = np.nan
    return out
