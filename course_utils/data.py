"""The course's data sets, checksum-verified, with typed columns and metadata.

- :func:`load_stroke` -- 1,862 emergency stroke admissions from seven hospitals and
  whether the patient received thrombolysis (``Clotbuster given``).
- :func:`load_whas500` -- 500 heart-attack admissions from the Worcester Heart Attack
  Study with follow-up survival.
- :func:`load_veterans` -- 137 patients of a lung-cancer trial; small, good for quick tries.
- :func:`load_csv` -- your own file, with object columns turned into categoricals.
- :func:`simulate_heart_cohort` -- a simulated mixed-type cohort of any size, to
  exercise metrics and benchmarks (not real patients).

Each loader accepts ``return_metadata=True`` and then also returns the
:class:`~course_utils.schema.Metadata` the course uses for that table.

The stroke table keeps its one-hot groups (hospital, onset-time type, antiplatelet,
anticoagulant, severity group, stroke type) as 0/1 columns, as published, and declares
each group in the metadata; generators repair a group so each row has exactly one 1.
Column names are kept exactly as in the source, typos included (``2+ comorbidotes``,
``Co-mordity``, ``No stroke symtpoms``), so that the course's tables match other
material built on the same file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from . import config
from .config import make_rng
from .schema import Metadata, infer_metadata

CHECKSUMS: dict[str, str] = {
    "hsma_stroke.csv": "8d77c2b035c92919df78aeb951b00a2ffd498354153cdbd1f023aa11f507bbdf",
    "whas500.csv": "25897ee127500fa3bb4d96f366c18e9c6ede162c0f245e43e1bc41cf23103141",
    "veterans.csv": "6891795a7f800baf35a70f2a7c33a83cbed61adbb06471f759ffbca1b97210fa",
}

STROKE_TARGET = "Clotbuster given"
WHAS500_TARGET = "fstat"
VETERANS_TARGET = "status"

STROKE_GROUPS: dict[str, list[str]] = {
    "Hospital": [f"Hosp_{i}" for i in range(1, 8)],
    "Onset Time Known Type": [
        "Onset Time Known Type_BE",
        "Onset Time Known Type_NK",
        "Onset Time Known Type_P",
    ],
    "Antiplatelet": ["Antiplatelet_0", "Antiplatelet_1", "Antiplatelet_NK"],
    "Anticoag before stroke": [
        "Anticoag before stroke_0",
        "Anticoag before stroke_1",
        "Anticoag before stroke_NK",
    ],
    "Stroke severity group": [
        "Stroke severity group_1. No stroke symtpoms",
        "Stroke severity group_2. Minor",
        "Stroke severity group_3. Moderate",
        "Stroke severity group_4. Moderate to severe",
        "Stroke severity group_5. Severe",
    ],
    "Stroke Type": ["Stroke Type_I", "Stroke Type_PIH"],
}

# Clinical ranges of the stroke scores, wider than what this sample happens to show.
_STROKE_BOUNDS = {"S2RankinBeforeStroke": (0, 5), "S2NihssArrival": (0, 42)}

WHAS500_LABELS: dict[str, list[str]] = {
    "gender": ["male", "female"],  # code 0, 1
    "miord": ["first", "recurrent"],
    "mitype": ["non Q-wave", "Q-wave"],
}

VETERANS_LEVELS: dict[str, list[str]] = {
    "Celltype": ["squamous", "smallcell", "adeno", "large"],
    "Prior_therapy": ["no", "yes"],
    "Treatment": ["standard", "test"],
}


def sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_path(filename: str) -> Path:
    """Path of a shipped data file, after checking that it exists and is unaltered."""
    if filename not in CHECKSUMS:
        raise ValueError(f"unknown course data file {filename!r}; known: {sorted(CHECKSUMS)}")
    path = Path(config.DATA_DIR) / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"course data file {filename!r} is missing from {path.parent}. "
            f"Restore it with `git checkout -- data/{filename}` (or re-clone the course), "
            "or point COURSE_DATA_DIR at the folder that holds it."
        )
    digest = sha256(path)
    if digest != CHECKSUMS[filename]:
        raise ValueError(_altered_message(path, filename, digest))
    return path


def _restore_command(filename: str) -> str:
    # A plain `git checkout -- data/X` leaves a file that git considers unchanged as it
    # is, and converts line endings again where core.autocrlf is set: delete the file
    # first and restore it from the last commit with conversion switched off.
    return f"delete data/{filename}, then run `git -c core.autocrlf=false checkout HEAD -- data/{filename}`"


def _altered_message(path: Path, filename: str, digest: str) -> str:
    expected = CHECKSUMS[filename]
    raw = path.read_bytes()
    if b"\r\n" in raw and hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest() == expected:
        return (
            f"course data file {path} has Windows line endings (CRLF): git converted it when "
            "the course was cloned with core.autocrlf=true, so its checksum no longer matches. "
            f"The values are intact, but the course needs the exact bytes. To fix it, "
            f"{_restore_command(filename)}; or clone the course again with "
            "`git clone -c core.autocrlf=false <repository>`."
        )
    return (
        f"course data file {path} has been altered (sha256 {digest[:12]}..., expected "
        f"{expected[:12]}...). To restore it, {_restore_command(filename)} "
        "(or clone the course again); save your own edits under another name and read them "
        "with load_csv()."
    )


def load_stroke(return_metadata: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, Metadata]:
    """Stroke thrombolysis data: 1,862 rows x 51 integer columns; target ``Clotbuster given``.

    All columns are integers: 0/1 flags, one-hot groups (see ``STROKE_GROUPS``), age in
    years, modified Rankin score before the stroke (0-5), NIHSS total on arrival (0-42)
    and its item scores.
    """
    df = pd.read_csv(data_path("hsma_stroke.csv")).astype("int64")
    if not return_metadata:
        return df
    meta = infer_metadata(df, one_hot_groups=STROKE_GROUPS)
    for name, bounds in _STROKE_BOUNDS.items():
        meta = meta.update_column(name, bounds=bounds)
    return df, meta


def load_whas500(return_metadata: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, Metadata]:
    """Worcester Heart Attack Study, 500 rows x 16 columns; outcome ``fstat`` (1 = died).

    ``gender``, ``miord`` and ``mitype`` are categoricals with readable labels; the
    other 0/1 flags stay integers; ``bmi`` is continuous; the rest are integers.
    """
    df = pd.read_csv(data_path("whas500.csv"))
    for col, labels in WHAS500_LABELS.items():
        df[col] = pd.Categorical.from_codes(df[col].astype(int), categories=labels)
    df["bmi"] = df["bmi"].astype(float)
    if not return_metadata:
        return df
    return df, infer_metadata(df)


def load_veterans(return_metadata: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, Metadata]:
    """Veterans' lung cancer trial, 137 rows x 8 columns; outcome ``status`` (1 = died)."""
    df = pd.read_csv(data_path("veterans.csv"))
    for col, levels in VETERANS_LEVELS.items():
        df[col] = pd.Categorical(df[col], categories=levels)
    if not return_metadata:
        return df
    return df, infer_metadata(df)


def load_csv(
    path: str | Path,
    categorical: list[str] | None = None,
    return_metadata: bool = False,
    **read_csv_kwargs,
) -> pd.DataFrame | tuple[pd.DataFrame, Metadata]:
    """Read your own CSV: text columns (and those named in ``categorical``) become categoricals.

    The file is only read, never written. Raises a clear error for a missing or empty
    file, for a file that is not UTF-8 text (pass ``encoding="latin-1"`` or re-save it as
    UTF-8) and for a column named in ``categorical`` that the file lacks.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        df = pd.read_csv(path, **read_csv_kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: no header and no rows") from None
    except UnicodeDecodeError as err:
        raise ValueError(_encoding_message(path, err, read_csv_kwargs.get("encoding"))) from None
    if len(df) == 0:
        raise ValueError(f"{path} has a header but no rows")
    for col in categorical or []:
        if col not in df.columns:
            raise ValueError(f"column {col!r} named in categorical= is not in {path.name}")
    for col in df.columns:
        if col in (categorical or []) or df[col].dtype == object:
            df[col] = df[col].astype("category")
    if not return_metadata:
        return df
    return df, infer_metadata(df)


def _encoding_message(path: Path, err: UnicodeDecodeError, encoding: str | None) -> str:
    byte = err.object[err.start : err.start + 1].hex()
    used = encoding or "utf-8"
    return (
        f"{path} is not valid {used} text: byte 0x{byte} at position {err.start} cannot be "
        f"decoded as {err.encoding}. The file was probably saved in another encoding (Excel "
        "on Windows often writes cp1252 or latin-1). Read it with "
        f"load_csv({str(path)!r}, encoding=\"latin-1\") (or encoding=\"cp1252\"), or save it "
        "again as UTF-8 CSV."
    )


def train_holdout_split(
    df: pd.DataFrame,
    test_size: float = 0.3,
    stratify: str | None = None,
    random_state: int | None = config.SEED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a table into a training part (for the generator) and a holdout it never sees.

    Split before you synthesise: every evaluation compares synthetic rows with the
    holdout. ``stratify`` names a column whose class shares both parts keep. Both
    parts get a fresh 0..n-1 index.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) < 2:
        raise ValueError(f"need at least 2 rows to split, got {len(df)}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction between 0 and 1, got {test_size}")
    strat = None
    if stratify is not None:
        if stratify not in df.columns:
            raise ValueError(f"stratify column {stratify!r} is not in the table")
        strat = df[stratify]
        if strat.isna().any():
            raise ValueError(f"stratify column {stratify!r} has missing values")
        if strat.value_counts().min() < 2:
            raise ValueError(f"stratify column {stratify!r} has a class with fewer than 2 rows")
    train, holdout = train_test_split(df, test_size=test_size, stratify=strat, random_state=random_state)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def simulate_heart_cohort(n: int, random_state: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """A simulated mixed-type clinical table with 20 columns and ``n`` rows.

    Numeric: age, bmi (5% missing), sysbp, diasbp, hr, cholesterol, creatinine, egfr;
    integer with few levels: severity (0-5), los (days); binary: diabetes, smoker, chf,
    afib, death; categorical: sex, mitype, hospital, admission; and followup (days).
    The numbers are plausible, not real: they exist to exercise the metrics (the
    evaluation benchmark and the tests use them at any size).
    """
    rng = make_rng(random_state)
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")

    def logistic(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    age = np.clip(rng.normal(66, 12, n), 20, 100).round()
    sex = np.where(rng.random(n) < 0.4 + 0.004 * (age - 66), "female", "male")
    bmi = np.clip(rng.normal(27, 4.5, n) - 0.05 * (age - 66), 15, 50)
    sysbp = np.clip(110 + 0.5 * age + rng.normal(0, 15, n), 70, 240).round()
    diasbp = np.clip(0.45 * sysbp + 20 + rng.normal(0, 8, n), 35, 140).round()
    hr = np.clip(rng.normal(85, 15, n), 35, 180).round()
    diabetes = (rng.random(n) < logistic(-1.2 + 0.12 * (bmi - 27) + 0.02 * (age - 66))).astype(int)
    smoker = (rng.random(n) < logistic(-0.5 - 0.04 * (age - 66))).astype(int)
    chf = (rng.random(n) < logistic(-1.5 + 0.05 * (age - 66) + 0.6 * diabetes)).astype(int)
    afib = (rng.random(n) < logistic(-2.0 + 0.06 * (age - 66))).astype(int)
    score = 0.03 * (age - 66) + 0.8 * chf + 0.02 * (hr - 85) + rng.normal(0, 1, n)
    severity = np.digitize(score, [-1.2, -0.4, 0.3, 1.0, 1.8]).astype(int)
    mitype = np.where(rng.random(n) < logistic(-0.3 + 0.5 * (sex == "male") + 0.3 * severity - 0.6),
                      "STEMI", np.where(rng.random(n) < 0.7, "NSTEMI", "unclassified"))
    hospital = rng.choice(["A", "B", "C", "D", "E"], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    admission = np.where(rng.random(n) < logistic(0.5 + 0.4 * severity - 1.0), "emergency",
                         np.where(rng.random(n) < 0.5, "transfer", "elective"))
    cholesterol = np.clip(rng.normal(5.2, 1.1, n) + 0.2 * diabetes, 2, 11)
    creatinine = np.exp(rng.normal(4.4, 0.25, n) + 0.006 * (age - 66) + 0.15 * diabetes + 0.1 * chf)
    egfr = np.clip(175 * (creatinine / 88.4) ** -1.154 * age ** -0.203 * np.where(sex == "female", 0.742, 1.0)
                   * np.exp(rng.normal(0, 0.05, n)), 5, 150)
    los = np.clip(rng.poisson(np.exp(1.3 + 0.3 * chf + 0.15 * severity)), 0, 60)
    death = (rng.random(n) < logistic(-3.0 + 0.07 * (age - 66) + 0.9 * chf + 0.35 * severity + 0.5 * afib)).astype(int)
    followup = np.where(death == 1, rng.exponential(300, n), rng.uniform(300, 2400, n)).round().clip(1, 2400)
    bmi_missing = rng.random(n) < 0.05
    bmi = np.where(bmi_missing, np.nan, bmi.round(1))
    df = pd.DataFrame({
        "age": age.astype(int), "sex": pd.Categorical(sex, categories=["female", "male"]),
        "bmi": bmi, "sysbp": sysbp.astype(int), "diasbp": diasbp.astype(int), "hr": hr.astype(int),
        "diabetes": diabetes, "smoker": smoker, "chf": chf, "afib": afib, "severity": severity,
        "mitype": pd.Categorical(mitype, categories=["NSTEMI", "STEMI", "unclassified"]),
        "hospital": pd.Categorical(hospital, categories=list("ABCDE")),
        "admission": pd.Categorical(admission, categories=["elective", "emergency", "transfer"]),
        "cholesterol": cholesterol.round(2), "creatinine": creatinine.round(1), "egfr": egfr.round(1),
        "los": los.astype(int), "death": death, "followup": followup.astype(int),
    })
    return df
