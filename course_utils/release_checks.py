"""Reading a practitioner's CSV safely, with errors that name the file, the column and the fix.

Used by ``python -m course_utils synthesize`` and ``python -m course_utils evaluate``
(:mod:`course_utils.release`). Nothing here writes a file: :func:`safe_output` only
decides whether a path may be written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from .schema import KINDS, ColumnSpec, Metadata, infer_metadata

_DELIMITERS = (";", "\t", "|")


def read_table(path: str | Path, *, sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV for synthesis: text columns become categoricals; clear errors for common slips.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an empty file,
    text that is not in ``encoding`` (with the fix), and a file that reads as one column
    whose header holds another delimiter (with the ``--sep`` to use).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, sep=sep, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: the text is not valid {encoding} (byte {exc.start}: {exc.reason}); "
            "if the file was saved by Excel on Windows, try --encoding latin-1 (or cp1252)"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc}); check the delimiter (--sep)") from None
    if df.shape[1] == 1:
        header = str(df.columns[0])
        for d in _DELIMITERS:
            if d in header:
                shown = "\\t" if d == "\t" else d
                raise ValueError(
                    f"{path}: read as one column named {header[:60]!r}, which contains {shown!r}: "
                    f"the file is probably {shown!r}-separated; pass --sep '{shown}'"
                )
    if len(df) == 0:
        raise ValueError(f"{path}: the file has a header but no rows")
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].astype("category")
    return df


def identifier_columns(df: pd.DataFrame) -> list[str]:
    """Columns that look like record identifiers: a distinct value on every row, not decimals.

    A generator copies such a column's values or invents new ones; either way it carries
    no information worth synthesising and may carry a real patient's identifier.
    """
    if len(df) < 20:
        return []
    out = []
    for col in df.columns:
        s = df[col].dropna()
        if len(s) != len(df) or s.nunique() != len(df):
            continue
        if pd.api.types.is_float_dtype(s) and not (s == s.round()).all():
            continue  # a measurement that happens to be unique, not an identifier
        out.append(str(col))
    return out


def check_for_synthesis(df: pd.DataFrame, path: str | Path, target: str | None = None,
                        drop: Sequence[str] = ()) -> pd.DataFrame:
    """Drop ``drop`` and refuse what no generator should learn from, naming column and fix."""
    path = Path(path)
    missing = [c for c in drop if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: --drop names column(s) {missing} that the file does not have; "
                         f"columns are {list(df.columns)}")
    df = df.drop(columns=list(drop))
    if target is not None:
        if target not in df.columns:
            raise ValueError(f"{path}: target column {target!r} is not in the file; columns are {list(df.columns)}")
        classes = df[target].dropna().unique()
        if len(classes) < 2:
            raise ValueError(
                f"{path}: target column {target!r} has a single class ({classes[0]} only); utility "
                "needs at least two: choose another target or leave --target out"
            )
    ids = identifier_columns(df)
    if ids:
        raise ValueError(
            f"{path}: column {ids[0]!r} has a different value on every row, like a patient or record "
            f"identifier; a synthetic table must not carry it: drop it with --drop {ids[0]}"
        )
    for col in df.columns:
        n = df[col].nunique(dropna=True)
        if n == 0:
            raise ValueError(f"{path}: column {col!r} is empty (every value missing): drop it with --drop {col}")
        if n == 1 and not df[col].isna().any():
            raise ValueError(
                f"{path}: column {col!r} has one value on every row ({df[col].iloc[0]}); it "
                f"carries no information to synthesise: drop it with --drop {col} and add it back"
            )
    return df


_METADATA_KEYS = ("overrides", "one_hot_groups")
_METADATA_EXAMPLE = ('e.g. {"overrides": {"stage": "categorical"}} in JSON, or in YAML:\n'
                     '  overrides:\n    stage: categorical')


def read_metadata_file(path: str | Path) -> dict[str, Any]:
    """The parsed content of a metadata file: JSON (``.json``) or YAML (``.yaml``/``.yml``).

    YAML is read with ``yaml.safe_load`` (plain data only: no Python objects are built).
    Errors name the file, the line and the fix; the content is checked by
    :func:`load_metadata`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ValueError(f"{path}: a metadata file must end in .json, .yaml or .yml, got "
                         f"{suffix or 'no extension'!r}; rename it to say which format it holds")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such metadata file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: the metadata file is not UTF-8 text; save it as UTF-8") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML ({where}{problem}); check the indentation and "
                         "that every 'key: value' has a space after the colon") from None


def load_metadata(df: pd.DataFrame, path: str | Path | None) -> Metadata:
    """Inferred metadata, changed by an optional JSON or YAML file.

    The file holds ``{"overrides": {column: kind or {field: value}}, "one_hot_groups":
    {group: [columns]}}`` (both keys optional), the arguments of
    :func:`course_utils.schema.infer_metadata`; the same in YAML::

        overrides:
          stage: categorical
          age: {bounds: [18, 110]}
        one_hot_groups:
          Hospital: [Hosp_1, Hosp_2]

    Every error names the file, the key and the fix: an unknown top-level key, a
    column that is not in the table, a field a column does not have, a bad kind.
    """
    if path is None:
        return infer_metadata(df)
    path = Path(path)
    spec = read_metadata_file(path)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a mapping with the keys 'overrides' and/or "
                         f"'one_hot_groups', found {type(spec).__name__}; {_METADATA_EXAMPLE}")
    unknown = [str(k) for k in spec if k not in _METADATA_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; the keys are 'overrides' and "
                         f"'one_hot_groups'; {_METADATA_EXAMPLE}")
    overrides = _checked_overrides(df, path, spec.get("overrides"))
    groups = spec.get("one_hot_groups")
    if groups is not None:
        if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
            raise ValueError(f"{path}: 'one_hot_groups' must map a group name to a list of its 0/1 "
                             "columns, e.g. {\"Hospital\": [\"Hosp_1\", \"Hosp_2\"]}")
        for group, members in groups.items():
            absent = [str(c) for c in members if c not in df.columns]
            if absent:
                raise ValueError(f"{path}: one_hot_groups.{group} names column(s) {absent} that the "
                                 f"table does not have; columns are {list(map(str, df.columns))}")
    try:
        return infer_metadata(df, overrides=overrides, one_hot_groups=groups)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _checked_overrides(df: pd.DataFrame, path: Path, overrides: Any) -> dict[str, Any] | None:
    """``overrides`` checked key by key, so an error names the column, the field and the fix."""
    if overrides is None:
        return None
    if not isinstance(overrides, dict):
        raise ValueError(f"{path}: 'overrides' must map a column to a kind or to its fields, "
                         f"found {type(overrides).__name__}; {_METADATA_EXAMPLE}")
    allowed = [f.name for f in fields(ColumnSpec) if f.name not in ("name", "group")]
    for col, change in overrides.items():
        if col not in df.columns:
            raise ValueError(f"{path}: overrides.{col}: the table has no column {col!r}; "
                             f"columns are {list(map(str, df.columns))}")
        if isinstance(change, str):
            change = {"kind": change}
        if not isinstance(change, dict):
            raise ValueError(f"{path}: overrides.{col}: expected a kind ({', '.join(KINDS)}) or a "
                             f"mapping of fields ({', '.join(allowed)}), found {change!r}")
        bad = [str(k) for k in change if k not in allowed]
        if bad:
            raise ValueError(f"{path}: overrides.{col}: unknown field(s) {bad}; the fields are "
                             f"{', '.join(allowed)}")
        if "kind" in change and change["kind"] not in KINDS:
            raise ValueError(f"{path}: overrides.{col}.kind: unknown kind {change['kind']!r}; use "
                             f"one of {', '.join(KINDS)}")
    return overrides


def align_columns(df: pd.DataFrame, like: pd.DataFrame, path: str | Path, what: str) -> pd.DataFrame:
    """``df`` with the columns and dtypes of ``like``; a clear error for missing or extra columns."""
    missing = [c for c in like.columns if c not in df.columns]
    extra = [c for c in df.columns if c not in like.columns]
    if missing or extra:
        raise ValueError(f"{path}: the {what} must have the training table's columns; "
                         f"missing {missing}, not in the training table {extra}")
    out = df[list(like.columns)].copy()
    for col in like.columns:
        if isinstance(like[col].dtype, pd.CategoricalDtype):
            cats = list(like[col].cat.categories)
            extra_levels = sorted(set(out[col].dropna().astype(str)) - set(map(str, cats)))
            out[col] = pd.Categorical(out[col].astype(object).where(out[col].notna(), None),
                                      categories=cats + extra_levels)
        elif pd.api.types.is_numeric_dtype(like[col].dtype):
            converted = pd.to_numeric(out[col], errors="coerce")
            bad = converted.isna() & out[col].notna()
            if bad.any():
                raise ValueError(f"{path}: column {col!r} of the {what} should hold numbers, found "
                                 f"{out[col][bad].iloc[0]!r}")
            out[col] = converted
    return out


def safe_output(path: str | Path, inputs: Sequence[str | Path], force: bool = False) -> Path:
    """Check that ``path`` may be written: never an input file, never an existing file without ``force``."""
    path = Path(path)
    for src in inputs:
        if Path(src).exists() and path.exists() and path.resolve() == Path(src).resolve():
            raise ValueError(f"{path} is one of the input files; choose another output name")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; choose another name or pass --force to replace it")
    if path.exists() and path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file name")
    return path
