"""Answers by value: write a learner's answers to one safe file, read them back.

The grader never trusts the learner's kernel with a verdict. The kernel only writes
the *values* of its answers to one file; the grader reads the file in its own process
and runs the checks there. The file is a NumPy ``.npz`` archive written and read with
``allow_pickle=False``: arrays are stored as arrays, everything else as one JSON
manifest (stored in the archive as bytes) whose tagged entries point at the arrays.

What travels: ``None``, booleans, numbers, text; lists, tuples, sets and dicts of them;
NumPy arrays and scalars (numbers, text, dates); torch tensors (as arrays, with their
``requires_grad`` flag); pandas DataFrames, Series and indexes (numeric, boolean,
datetime, categorical with its categories, text); :class:`~course_utils.schema.Metadata`
and :class:`~course_utils.transform.Span`. Anything else becomes an
:class:`Unsupported` marker that the checks treat as a wrong answer. Reading is capped
in size and nesting depth, and a file that does not follow this format raises
:class:`AnswerFormatError`, never runs code.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_BYTES = 50 * 2**20
"""Largest answers file the grader reads (50 MiB)."""
MAX_DEPTH = 24
"""Deepest nesting of lists, dicts and tables an answer may have."""
MANIFEST = "__manifest__"
_SAFE_KINDS = "biufcMmU"  # bool, int, uint, float, complex, datetime, timedelta, text


class AnswerFormatError(ValueError):
    """The answers file is not in the format this module writes (or is too large)."""


@dataclass(frozen=True)
class Unsupported:
    """Stands for a value the exchange format cannot carry (``type_name`` says what it was)."""

    type_name: str
    reason: str = ""

    def __repr__(self) -> str:
        return f"<unsupported type {self.type_name}{': ' + self.reason if self.reason else ''}>"


@dataclass(frozen=True)
class Raised:
    """What calling a learner's function raised while its answer was exported.

    ``kind`` is ``"not answered"`` (NotImplementedError), ``"failed"`` (the export found
    the answer wrong, e.g. not callable) or ``"error"`` (any other exception).
    """

    kind: str
    message: str


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.nbytes = 0

    def array(self, arr: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        self.nbytes += arr.nbytes
        return key


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _unsupported(obj: Any, reason: str = "") -> dict[str, Any]:
    return {"$": "unsupported", "type": _type_name(obj), "reason": reason}


def _encode_array(arr: np.ndarray, w: _Writer, depth: int) -> dict[str, Any]:
    if arr.dtype.kind in _SAFE_KINDS and not arr.dtype.hasobject:
        return {"$": "ndarray", "key": w.array(arr)}
    if arr.dtype.kind == "O" and arr.size <= 1_000_000:
        items = [_encode(x, w, depth + 1) for x in arr.reshape(-1)]
        return {"$": "objarray", "shape": list(arr.shape), "items": items}
    return _unsupported(arr, f"arrays of dtype {arr.dtype}")


def _encode_values(values: Any, w: _Writer, depth: int) -> dict[str, Any]:
    """One column of values (a Series' or an Index's), keeping its dtype."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        return {"$": "categorical", "codes": w.array(np.asarray(cat.codes)),
                "categories": _encode_index(cat.categories, w, depth + 1), "ordered": bool(cat.ordered)}
    if isinstance(dtype, np.dtype):
        if dtype.kind in _SAFE_KINDS and not dtype.hasobject:
            return {"$": "ndarray", "key": w.array(np.asarray(values))}
        if dtype.kind == "O":
            items = [_encode(x, w, depth + 1) for x in np.asarray(values, dtype=object)]
            return {"$": "objcol", "items": items}
        return _unsupported(values, f"columns of dtype {dtype}")
    name = str(dtype)
    if name in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
                "Float32", "Float64", "boolean"):
        arr = pd.array(values)
        mask = np.asarray(arr.isna())
        filler = False if name == "boolean" else 0
        raw = np.asarray(arr.fillna(filler).to_numpy(dtype=arr.dtype.numpy_dtype))
        return {"$": "masked", "dtype": name, "values": w.array(raw), "mask": w.array(mask)}
    if name in ("string", "str"):
        items = [None if pd.isna(x) else str(x) for x in values]
        return {"$": "objcol", "items": items, "dtype": "string"}
    return _unsupported(values, f"columns of dtype {name}")


def _encode_index(index: pd.Index, w: _Writer, depth: int) -> dict[str, Any]:
    if isinstance(index, pd.RangeIndex):
        return {"$": "range", "start": index.start, "stop": index.stop, "step": index.step,
                "name": _encode(index.name, w, depth + 1)}
    if isinstance(index, pd.MultiIndex):
        levels = [_encode_values(index.get_level_values(i), w, depth + 1) for i in range(index.nlevels)]
        return {"$": "multiindex", "levels": levels, "names": [_encode(n, w, depth + 1) for n in index.names]}
    return {"$": "index", "values": _encode_values(index, w, depth + 1), "name": _encode(index.name, w, depth + 1)}


def _encode(obj: Any, w: _Writer, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return _unsupported(obj, f"nested deeper than {MAX_DEPTH} levels")
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) < 2**63 else {"$": "bigint", "text": str(obj)}
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$": "float", "text": repr(obj)}
    if isinstance(obj, np.generic):
        arr = np.asarray(obj)
        if arr.dtype.kind in _SAFE_KINDS:
            return {"$": "npscalar", "key": w.array(arr.reshape(()))}
        return _unsupported(obj)
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, w, depth)
    if isinstance(obj, list | tuple | set | frozenset):
        if len(obj) > 1_000_000:
            return _unsupported(obj, "more than a million items")
        items = sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj
        kind = "list" if type(obj) is list else "tuple" if isinstance(obj, tuple) else "set"
        return {"$": kind, "items": [_encode(x, w, depth + 1) for x in items]}
    if isinstance(obj, dict):
        return {"$": "dict", "keys": [_encode(k, w, depth + 1) for k in obj],
                "values": [_encode(v, w, depth + 1) for v in obj.values()]}
    if isinstance(obj, pd.DataFrame):
        return {"$": "frame", "columns": _encode_index(obj.columns, w, depth + 1),
                "data": [_encode_values(obj.iloc[:, i], w, depth + 1) for i in range(obj.shape[1])],
                "index": _encode_index(obj.index, w, depth + 1)}
    if isinstance(obj, pd.Series):
        return {"$": "series", "values": _encode_values(obj, w, depth + 1),
                "index": _encode_index(obj.index, w, depth + 1), "name": _encode(obj.name, w, depth + 1)}
    if isinstance(obj, pd.Index):
        return {"$": "pdindex", "index": _encode_index(obj, w, depth + 1)}
    if isinstance(obj, pd.Timestamp) and obj.tz is None:
        return {"$": "timestamp", "text": obj.isoformat()}
    if isinstance(obj, Raised):
        return {"$": "raised", "kind": obj.kind, "message": obj.message[:500]}
    if isinstance(obj, Unsupported):
        return {"$": "unsupported", "type": obj.type_name, "reason": obj.reason}
    module = type(obj).__module__
    if module.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "requires_grad"):
        t = obj.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            t = t.float()
        return {"$": "tensor", "key": w.array(t.numpy()),
                "requires_grad": bool(obj.requires_grad)}
    from ..schema import Metadata
    from ..transform import Span

    if isinstance(obj, Metadata):
        try:
            return {"$": "metadata", "value": _encode(obj.to_dict(), w, depth + 1)}
        except Exception as exc:  # a learner's broken Metadata is reported, not raised
            return _unsupported(obj, f"to_dict() failed: {type(exc).__name__}")
    if isinstance(obj, Span):
        return {"$": "span", "value": _encode([obj.column, obj.start, obj.end, obj.kind,
                                               tuple(obj.columns), tuple(obj.levels)], w, depth + 1)}
    return _unsupported(obj)


def dumps(values: dict[str, Any], max_bytes: int = MAX_BYTES) -> bytes:
    """The ``.npz`` bytes that carry ``values`` (a dict keyed by text).

    A value whose arrays would push the file past ``max_bytes`` is replaced by an
    :class:`Unsupported` marker, so the others still travel.
    """
    w = _Writer()
    manifest: dict[str, Any] = {}
    for key, value in values.items():
        mark = len(w.arrays)
        before = w.nbytes
        try:
            encoded = _encode(value, w)
        except Exception as exc:  # a learner's object whose attributes raise
            encoded = _unsupported(value, f"reading it raised {type(exc).__name__}")
        if w.nbytes > max_bytes // 2 or len(json.dumps(encoded)) > max_bytes // 4:
            for k in list(w.arrays)[mark:]:
                del w.arrays[k]
            w.nbytes = before
            encoded = _unsupported(value, "larger than the grader accepts")
        manifest[str(key)] = encoded
    buf = io.BytesIO()
    text = json.dumps(manifest, allow_nan=False).encode("utf-8")
    np.savez(buf, allow_pickle=False, **{MANIFEST: np.frombuffer(text, dtype=np.uint8)}, **w.arrays)
    return buf.getvalue()


def write(path: str | Path, values: dict[str, Any]) -> None:
    """Write ``values`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(dumps(values))
    tmp.replace(path)


# -- reading ---------------------------------------------------------------------------------
class _Reader:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def array(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise AnswerFormatError(f"the manifest names an array {key!r} that the file lacks")
        return self.arrays[key]


def _need(d: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    value = d.get(name)
    if not isinstance(value, kind):
        raise AnswerFormatError(f"entry {d.get('$')!r} lacks a valid {name!r}")
    return value


def _decode_values(d: Any, r: _Reader, depth: int) -> Any:
    if not isinstance(d, dict):
        raise AnswerFormatError("a column is not described by a tagged entry")
    tag = d.get("$")
    if tag == "categorical":
        categories = _decode_index(d.get("categories"), r, depth + 1)
        codes = r.array(d.get("codes"))
        return pd.Categorical.from_codes(codes, categories=categories, ordered=bool(d.get("ordered")))
    if tag == "ndarray":
        return r.array(d.get("key"))
    if tag == "objcol":
        items = [_decode(x, r, depth + 1) for x in _need(d, "items", list)]
        if d.get("dtype") == "string":
            return pd.array(items, dtype="string")
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out
    if tag == "masked":
        dtype = _need(d, "dtype", str)
        values, mask = r.array(d.get("values")), r.array(d.get("mask")).astype(bool)
        arr = pd.array(values, dtype=dtype)
        arr[mask] = pd.NA
        return arr
    raise AnswerFormatError(f"unknown column entry {tag!r}")


def _decode_index(d: Any, r: _Reader, depth: int) -> pd.Index:
    if not isinstance(d, dict):
        raise AnswerFormatError("an index is not described by a tagged entry")
    tag = d.get("$")
    if tag == "range":
        return pd.RangeIndex(int(_need(d, "start", int)), int(_need(d, "stop", int)), int(_need(d, "step", int)),
                             name=_decode(d.get("name"), r, depth + 1))
    if tag == "multiindex":
        levels = [_decode_values(x, r, depth + 1) for x in _need(d, "levels", list)]
        names = [_decode(x, r, depth + 1) for x in _need(d, "names", list)]
        return pd.MultiIndex.from_arrays(levels, names=names)
    if tag == "index":
        return pd.Index(_decode_values(d.get("values"), r, depth + 1), name=_decode(d.get("name"), r, depth + 1))
    raise AnswerFormatError(f"unknown index entry {tag!r}")


def _decode(d: Any, r: _Reader, depth: int = 0) -> Any:
    if depth > 4 * MAX_DEPTH:
        raise AnswerFormatError("the answer is nested too deeply")
    if d is None or isinstance(d, bool | int | float | str):
        return d
    if not isinstance(d, dict):
        raise AnswerFormatError(f"unexpected {type(d).__name__} in the manifest")
    tag = d.get("$")
    if tag in ("list", "tuple", "set"):
        items = [_decode(x, r, depth + 1) for x in _need(d, "items", list)]
        return items if tag == "list" else tuple(items) if tag == "tuple" else set(items)
    if tag == "dict":
        keys = [_decode(k, r, depth + 1) for k in _need(d, "keys", list)]
        values = [_decode(v, r, depth + 1) for v in _need(d, "values", list)]
        if len(keys) != len(values):
            raise AnswerFormatError("a dict has more keys than values")
        return dict(zip(keys, values, strict=True))
    if tag == "bigint":
        return int(_need(d, "text", str)[:5000])
    if tag == "float":
        return float(_need(d, "text", str))
    if tag == "npscalar":
        return r.array(d.get("key"))[()]
    if tag == "ndarray":
        return r.array(d.get("key"))
    if tag == "objarray":
        shape = tuple(int(s) for s in _need(d, "shape", list))
        items = [_decode(x, r, depth + 1) for x in _need(d, "items", list)]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)
    if tag == "frame":
        columns = _decode_index(d.get("columns"), r, depth + 1)
        data = [_decode_values(x, r, depth + 1) for x in _need(d, "data", list)]
        index = _decode_index(d.get("index"), r, depth + 1)
        if len(data) != len(columns):
            raise AnswerFormatError("a table has more column names than columns")
        frame = pd.DataFrame({i: pd.Series(v, index=index, copy=False) for i, v in enumerate(data)}, index=index)
        frame.columns = columns
        return frame
    if tag == "series":
        return pd.Series(_decode_values(d.get("values"), r, depth + 1), index=_decode_index(d.get("index"), r, depth + 1),
                         name=_decode(d.get("name"), r, depth + 1))
    if tag == "pdindex":
        return _decode_index(d.get("index"), r, depth + 1)
    if tag == "timestamp":
        return pd.Timestamp(_need(d, "text", str))
    if tag == "tensor":
        import torch

        tensor = torch.from_numpy(np.array(r.array(d.get("key"))))
        return tensor.requires_grad_(True) if d.get("requires_grad") and tensor.is_floating_point() else tensor
    if tag == "metadata":
        from ..schema import Metadata

        return Metadata.from_dict(_decode(d.get("value"), r, depth + 1))
    if tag == "span":
        from ..transform import Span

        column, start, end, kind, columns, levels = _decode(d.get("value"), r, depth + 1)
        return Span(str(column), int(start), int(end), str(kind), tuple(columns), tuple(levels))
    if tag == "raised":
        return Raised(str(d.get("kind", "error")), str(d.get("message", ""))[:500])
    if tag == "unsupported":
        return Unsupported(str(d.get("type", "?"))[:200], str(d.get("reason", ""))[:200])
    raise AnswerFormatError(f"unknown entry {tag!r}")


def _open(data: bytes, max_bytes: int) -> tuple[dict[str, Any], _Reader]:
    if len(data) > max_bytes:
        raise AnswerFormatError(f"the answers file is larger than {max_bytes // 2**20} MiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            # Only stored (uncompressed) members: their size on disk is their size in memory.
            if any(i.compress_type != zipfile.ZIP_STORED or i.file_size != i.compress_size for i in infos):
                raise AnswerFormatError("the answers file holds compressed members")
            if sum(i.file_size for i in infos) > max_bytes or len(infos) > 100_000:
                raise AnswerFormatError("the answers file is too large")
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
    except AnswerFormatError:
        raise
    except Exception as exc:  # a broken archive, a pickled array: never load, only refuse
        raise AnswerFormatError(f"the answers file is not a plain .npz archive ({type(exc).__name__})") from None
    raw = arrays.pop(MANIFEST, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise AnswerFormatError("the answers file has no manifest")
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise AnswerFormatError("the manifest is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise AnswerFormatError("the manifest is not a JSON object")
    return manifest, _Reader(arrays)


def decode_entry(encoded: Any, reader: Any) -> Any:
    """Rebuild one value; a malformed entry raises :class:`AnswerFormatError`."""
    try:
        return _decode(encoded, reader)
    except AnswerFormatError:
        raise
    except RecursionError:
        raise AnswerFormatError("the answer is nested too deeply") from None
    except Exception as exc:  # pandas/numpy refusing inconsistent parts
        raise AnswerFormatError(f"the value could not be rebuilt ({type(exc).__name__}: {exc})"[:300]) from None


def loads_lazy(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[dict[str, Any], Any]:
    """The manifest (key -> encoded entry) and a reader, to decode entries one by one."""
    return _open(data, max_bytes)


def loads(data: bytes, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Rebuild every value written by :func:`dumps` (raises :class:`AnswerFormatError`)."""
    manifest, reader = _open(data, max_bytes)
    return {k: decode_entry(v, reader) for k, v in manifest.items()}


def read(path: str | Path, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """:func:`loads` of a file, reading at most ``max_bytes`` + 1 bytes of it."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return loads(data, max_bytes)


def roundtrip(value: Any) -> Any:
    """``value`` after a trip through the file format (what the grader would see)."""
    return loads(dumps({"v": value}))["v"]


__all__ = ["AnswerFormatError", "MAX_BYTES", "Raised", "Unsupported", "dumps", "loads", "loads_lazy",
           "decode_entry", "read", "roundtrip", "write"]
