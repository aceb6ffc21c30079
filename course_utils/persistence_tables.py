"""Numpy scalars and dtypes, and pandas tables, in generator files (see :mod:`course_utils.persistence`).

A pandas column is stored as its dtype and its values: category codes (with the
categories in a ``catdtype`` node) for a categorical column, a numpy array for a
numeric, boolean or date/time column, plain values for an ``object`` column. Indexes
are stored the same way (a ``RangeIndex`` by its start, stop and step), and a
``DataFrame`` as its column index, row index and one such column per column.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .persistence_codec import Decoder, Encoder

EXT_DTYPES = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
              "Float32", "Float64", "boolean", "string")
SCALAR_DTYPE = re.compile(
    r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[mM]8\[(Y|M|W|D|h|m|s|ms|us|ns)\]|U)$"
)
ARRAY_KINDS = "biufcmMUS"


# -- encoding ------------------------------------------------------------------------------
def encode_dtype(enc: Encoder, dtype: Any, path: str) -> dict[str, Any]:
    """The node of a numpy dtype (no structured dtypes), a ``CategoricalDtype`` or a listed pandas dtype."""
    if isinstance(dtype, pd.CategoricalDtype):
        return {"t": "catdtype", "categories": enc.encode(dtype.categories, f"{path}.categories"),
                "ordered": bool(dtype.ordered)}
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O" or (dtype.kind in ARRAY_KINDS and dtype.fields is None):
            return {"t": "dtype", "v": "object" if dtype.kind == "O" else dtype.str}
    elif str(dtype) in EXT_DTYPES:
        return {"t": "extdtype", "v": str(dtype)}
    raise TypeError(f"cannot save {path}: dtype {dtype} is not supported")


def encode_pandas(enc: Encoder, obj: Any, path: str) -> dict[str, Any] | None:
    """The node of a pandas value (``NaT``, ``NA``, timestamp, index, series, frame), or None for others."""
    if obj is pd.NaT:
        return {"t": "nat"}
    if obj is pd.NA:
        return {"t": "na"}
    if isinstance(obj, pd.Timestamp):
        if obj.tz is not None:
            raise TypeError(f"cannot save {path}: time-zone aware timestamps are not supported")
        return {"t": "timestamp", "v": int(obj.as_unit("ns").value), "unit": obj.unit}
    if isinstance(obj, pd.Timedelta):
        return {"t": "timedelta", "v": int(obj.as_unit("ns").value), "unit": obj.unit}
    if type(obj) is pd.RangeIndex:
        return {"t": "rangeindex", "start": obj.start, "stop": obj.stop, "step": obj.step,
                "name": enc.encode(obj.name, f"{path}.name")}
    if isinstance(obj, pd.MultiIndex) or (isinstance(obj, pd.Index) and type(obj) not in (
            pd.Index, pd.CategoricalIndex, pd.DatetimeIndex)):
        raise TypeError(f"cannot save {path}: a {type(obj).__name__} is not supported")
    if isinstance(obj, pd.Index | pd.Series):
        node = {"t": "index" if isinstance(obj, pd.Index) else "series",
                "name": enc.encode(obj.name, f"{path}.name")}
        node.update(_encode_values(enc, obj, path))
        if isinstance(obj, pd.Series):
            node["index"] = enc.encode(obj.index, f"{path}.index")
        return node
    if isinstance(obj, pd.DataFrame):
        # decoding follows the same order: a later "ref" always points backwards
        node = {"t": "frame", "columns": enc.encode(obj.columns, f"{path}.columns"),
                "index": enc.encode(obj.index, f"{path}.index")}
        node["data"] = [_encode_values(enc, obj.iloc[:, j], f"{path}[{c!r}]")
                        for j, c in enumerate(obj.columns)]
        return node
    return None


def _encode_values(enc: Encoder, obj: pd.Index | pd.Series, path: str) -> dict[str, Any]:
    """A column's values and dtype (category codes for a categorical column)."""
    dtype = obj.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = np.asarray(obj.array.codes if isinstance(obj, pd.Series) else obj.codes)
    elif isinstance(dtype, np.dtype):
        values = obj.to_numpy()
    else:
        values = obj.to_numpy(dtype=object)
    return {"dtype": enc.encode(dtype, f"{path}.dtype"),
            "values": enc.encode(values, f"{path}.values")}


def encode_scalar(x: np.generic, path: str) -> dict[str, Any]:
    """The node of a numpy scalar: its dtype and its value in JSON (dates as integer ticks)."""
    dtype = x.dtype
    if dtype.kind == "U":
        return {"t": "np", "d": "U", "v": str(x)}
    if not SCALAR_DTYPE.match(dtype.str):
        raise TypeError(f"cannot save {path}: numpy scalar of dtype {dtype}")
    if dtype.kind in "mM":
        value: Any = int(np.asarray(x).view("int64"))
    elif dtype.kind == "c":
        value = [_encode_float(float(x.real)), _encode_float(float(x.imag))]
    elif dtype.kind == "f":
        value = _encode_float(float(x))
    else:
        value = x.item()
    return {"t": "np", "d": dtype.str, "v": value}


def _encode_float(v: float) -> Any:
    return v if math.isfinite(v) else {"t": "float", "v": repr(v)}


# -- decoding ------------------------------------------------------------------------------
def decode_scalar(node: dict[str, Any]) -> np.generic:
    """The numpy scalar of an ``np`` node (only the dtypes :data:`SCALAR_DTYPE` allows)."""
    d, v = node.get("d"), node.get("v")
    if d == "U" and type(v) is str:
        return np.str_(v)
    if type(d) is not str or not SCALAR_DTYPE.match(d) or d == "U":
        raise ValueError(f"numpy scalar of dtype {d!r} is not allowed")
    dtype = np.dtype(d)
    if dtype.kind in "mM":
        if type(v) is not int:
            raise ValueError("bad date/time scalar")
        return np.array(v, dtype="int64").view(dtype)[()]
    if dtype.kind == "c":
        if type(v) is not list or len(v) != 2:
            raise ValueError("bad complex scalar")
        return np.array(complex(_as_float(v[0]), _as_float(v[1])), dtype=dtype)[()]
    if dtype.kind == "f":
        return np.array(_as_float(v), dtype=dtype)[()]
    if type(v) not in (bool, int):
        raise ValueError("bad integer scalar")
    return np.array(v, dtype=dtype)[()]


def _as_float(v: Any) -> float:
    if type(v) in (int, float):
        return float(v)
    if type(v) is dict and v.get("t") == "float" and v.get("v") in ("nan", "inf", "-inf"):
        return float(v["v"])
    raise ValueError(f"bad number {v!r}")


def _decode_dtype(dec: Decoder, node: dict[str, Any]) -> Any:
    v = node.get("v")
    if v == "object":
        return np.dtype(object)
    if type(v) is not str or not (SCALAR_DTYPE.match(v) or re.match(r"^[<>|=]?[US]\d+$", v)):
        raise ValueError(f"dtype {v!r} is not allowed")
    return np.dtype(v)


def _decode_ext_dtype(dec: Decoder, node: dict[str, Any]) -> Any:
    if node.get("v") not in EXT_DTYPES:
        raise ValueError(f"dtype {node.get('v')!r} is not allowed")
    return pd.api.types.pandas_dtype(node["v"])


def _decode_cat_dtype(dec: Decoder, node: dict[str, Any]) -> pd.CategoricalDtype:
    categories = dec.decode(node.get("categories"))
    if not isinstance(categories, pd.Index) or type(node.get("ordered")) is not bool:
        raise ValueError("bad categorical dtype")
    return pd.CategoricalDtype(categories, ordered=node["ordered"])


def _decode_time(dec: Decoder, node: dict[str, Any]) -> Any:
    v, unit = node.get("v"), node.get("unit")
    if type(v) is not int or unit not in ("s", "ms", "us", "ns"):
        raise ValueError(f"bad {node['t']}")
    cls = pd.Timestamp if node["t"] == "timestamp" else pd.Timedelta
    return cls(v, unit="ns").as_unit(unit)


def _decode_range(dec: Decoder, node: dict[str, Any]) -> pd.RangeIndex:
    parts = [node.get(k) for k in ("start", "stop", "step")]
    if any(type(p) is not int for p in parts):
        raise ValueError("bad range index")
    return pd.RangeIndex(*parts, name=dec.decode(node.get("name")))


def _column(dec: Decoder, node: dict[str, Any]) -> tuple[Any, Any]:
    dtype = dec.decode(node.get("dtype"))
    values = dec.array(node.get("values"))
    if values.ndim != 1:
        raise ValueError("column values must be one-dimensional")
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(values, dtype=dtype), None
    if isinstance(dtype, np.dtype):
        return values.astype(dtype, copy=False), dtype
    return pd.array(values, dtype=dtype), None


def decode_index(dec: Decoder, node: dict[str, Any]) -> pd.Index:
    """A pandas ``Index`` (or ``CategoricalIndex``, ``DatetimeIndex``) from its node."""
    name = dec.decode(node.get("name"))
    values, dtype = _column(dec, node)
    return dec.register(node, pd.Index(values, dtype=dtype, name=name))


def decode_series(dec: Decoder, node: dict[str, Any]) -> pd.Series:
    """A pandas ``Series`` from its node: name, dtype, values, index."""
    name = dec.decode(node.get("name"))
    values, dtype = _column(dec, node)
    index = dec.decode(node.get("index"))
    if not isinstance(index, pd.Index):
        raise ValueError("bad series index")
    return dec.register(node, pd.Series(values, index=index, dtype=dtype, name=name))


def decode_frame(dec: Decoder, node: dict[str, Any]) -> pd.DataFrame:
    """A pandas ``DataFrame`` from its node: column index, row index, then each column."""
    columns, index = dec.decode(node.get("columns")), dec.decode(node.get("index"))
    data = node.get("data")
    if not isinstance(columns, pd.Index) or not isinstance(index, pd.Index) or type(data) is not list \
            or len(data) != len(columns):
        raise ValueError("bad data frame")
    parts = {}
    for j, col in enumerate(data):
        values, dtype = _column(dec, col)
        parts[j] = pd.Series(values, index=index, dtype=dtype)
    frame = pd.DataFrame(parts, index=index)
    frame.columns = columns
    return dec.register(node, frame)


SIMPLE = {
    "dtype": _decode_dtype, "extdtype": _decode_ext_dtype, "catdtype": _decode_cat_dtype,
    "timestamp": _decode_time, "timedelta": _decode_time, "rangeindex": _decode_range,
    "nat": lambda dec, node: pd.NaT, "na": lambda dec, node: pd.NA,
}

MEMOISED = {"index": decode_index, "series": decode_series, "frame": decode_frame}
