"""Encoding and decoding of the object tree of a generator file (see :mod:`course_utils.persistence`).

:class:`Encoder` turns a generator into JSON nodes plus numpy arrays; :class:`Decoder`
rebuilds it from them and refuses every type that is not on the lists below, in
:mod:`course_utils.persistence_tables` (numpy and pandas) and in
:mod:`course_utils.persistence_models` (scikit-learn and torch).
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from . import persistence_tables as tables
from .persistence_tables import ARRAY_KINDS

# The course's own helper classes a file may hold: rebuilt by cls.__new__ and their
# attributes. The module names are fixed here; a file only picks an entry by its key.
# Every registered generator class is allowed as well (see allowed_classes).
COURSE_CLASSES: dict[str, str] = {
    "course_utils.schema:ColumnSpec": "course_utils.schema",
    "course_utils.schema:Metadata": "course_utils.schema",
    "course_utils.transform:Span": "course_utils.transform",
    "course_utils.transform:_Scaler": "course_utils.transform",
    "course_utils.transform:TabularTransformer": "course_utils.transform",
    "course_utils.generators.copula:_Marginal": "course_utils.generators.copula",
    "course_utils.generators.cart_plan:Variable": "course_utils.generators.cart_plan",
    "course_utils.generators.cart_models:LeafSampler": "course_utils.generators.cart_models",
    "course_utils.generators.cart_models:LinearDesign": "course_utils.generators.cart_models",
    "course_utils.generators.cart_models:NormModel": "course_utils.generators.cart_models",
    "course_utils.generators.cart_models:LogRegModel": "course_utils.generators.cart_models",
    "course_utils.generators.survival_tree:SurvivalTreeSampler": "course_utils.generators.survival_tree",
    "course_utils.encoding:ColumnCode": "course_utils.encoding",
    "course_utils.encoding:TableEncoding": "course_utils.encoding",
    "course_utils.evaluation.distances:MixedEncoder": "course_utils.evaluation.distances",
    "course_utils.generators.closeness_guard:ClosenessGuard": "course_utils.generators.closeness_guard",
    "course_utils.generators.guarded:GuardedSynthesizer": "course_utils.generators.guarded",
    "course_utils.generators.neural:MarginalCalibrator": "course_utils.generators.neural",
    "course_utils.generators.dp_domain:Variable": "course_utils.generators.dp_domain",
    "course_utils.generators.dp_domain:PublicDomain": "course_utils.generators.dp_domain",
    "course_utils.generators.text_rows:Field": "course_utils.generators.text_rows",
    "course_utils.generators.text_rows:ParseReport": "course_utils.generators.text_rows",
    "course_utils.generators.text_rows:RowFormat": "course_utils.generators.text_rows",
    "course_utils.generators.text_rows:RowTokenizer": "course_utils.generators.text_rows",
    "course_utils.generators.text_grammar:RowGrammar": "course_utils.generators.text_grammar",
}

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def class_key(cls: type) -> str:
    """The name under which a class is written to a file: ``module:qualname``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def allowed_classes() -> dict[str, str]:
    """:data:`COURSE_CLASSES`, every rule of :data:`course_utils.constraints.RULES` and every
    registered generator class, ``key -> module``.

    The generator registry names each class by module and name, so its keys are known
    without importing anything; a file still only picks an entry by its key. Rules come
    from the one list that also reads them back from metadata files, so a new rule can
    be saved without a second list to keep in step.
    """
    from .constraints import RULES
    from .generators.registry import registry

    allowed = dict(COURSE_CLASSES)
    allowed.update({class_key(rule): rule.__module__ for rule in RULES.values()})
    for entry in registry():
        module = f"course_utils.generators{entry.module}" if entry.module.startswith(".") else entry.module
        if module.startswith("course_utils."):
            allowed[f"{module}:{entry.name}"] = module
    return allowed


def course_class(key: str) -> type:
    """The course class a file names, if :func:`allowed_classes` has it (else ``ValueError``)."""
    allowed = allowed_classes()
    if key not in allowed:
        raise ValueError(f"type {key!r} is not on the list of types a generator file may hold")
    module = importlib.import_module(allowed[key])
    return getattr(module, key.split(":", 1)[1])


# -- encoding: Python objects -> JSON nodes + arrays ---------------------------------------
class Encoder:
    """Walks an object tree and writes the JSON nodes and arrays of the format.

    ``encode(obj, path)`` returns the node; ``path`` names where ``obj`` sits (for
    example ``CARTSynthesizer.models_['age']``) so that an unsupported value gives a
    ``TypeError`` that says which attribute holds it.
    """

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self._memo: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps memoised objects alive so their ids stay unique

    def encode(self, obj: Any, path: str) -> Any:
        """The JSON node of ``obj`` (see the module docstring for the node types)."""
        t = type(obj)
        if obj is None or t is bool or t is int or t is str:
            return obj
        if t is float:
            return obj if math.isfinite(obj) else {"t": "float", "v": repr(obj)}
        if id(obj) in self._memo:
            return {"t": "ref", "id": self._memo[id(obj)]}
        if isinstance(obj, np.generic):
            return tables.encode_scalar(obj, path)
        if t is tuple:
            return {"t": "tuple", "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        node_id = self._remember(obj)
        node = self._encode_memoised(obj, path)
        node["id"] = node_id
        return node

    def encode_attributes(self, attrs: dict[str, Any], path: str) -> dict[str, Any]:
        """A ``dict`` node of an object's attributes (paths read ``path.attribute``)."""
        attrs = dict(attrs)
        node_id = self._remember(attrs)
        items = [[k, self.encode(v, f"{path}.{k}")] for k, v in attrs.items()]
        return {"t": "dict", "items": items, "id": node_id}

    def _remember(self, obj: Any) -> int:
        self._memo[id(obj)] = len(self._memo)
        self._alive.append(obj)
        return self._memo[id(obj)]

    def _encode_memoised(self, obj: Any, path: str) -> dict[str, Any]:
        t = type(obj)
        if t is list:
            return {"t": "list", "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if t is dict or t is Counter:
            items = []
            for k, v in obj.items():
                if not (k is None or type(k) in (str, int, float, bool, tuple) or isinstance(k, np.generic)):
                    raise TypeError(f"cannot save {path}: dict key {k!r} of type {type(k).__name__}")
                items.append([self.encode(k, f"{path} key"), self.encode(v, f"{path}[{k!r}]")])
            return {"t": "counter" if t is Counter else "dict", "items": items}
        if isinstance(obj, np.ndarray):
            return self._encode_array(obj, path)
        if isinstance(obj, np.dtype | pd.api.extensions.ExtensionDtype):
            return tables.encode_dtype(self, obj, path)
        pandas = tables.encode_pandas(self, obj, path)
        if pandas is not None:
            return pandas
        if isinstance(obj, np.random.Generator):
            state = obj.bit_generator.state
            if state.get("bit_generator") not in _BIT_GENERATORS:
                raise TypeError(f"cannot save {path}: bit generator {state.get('bit_generator')!r}")
            return {"t": "rng", "state": self.encode(state, f"{path}.state")}
        key = class_key(t)
        if key in allowed_classes() and course_class(key) is t:
            return {"t": "object", "cls": key, "state": self.encode_attributes(vars(obj), path)}
        from . import persistence_models

        node = persistence_models.encode(self, obj, path)
        if node is not None:
            return node
        hint = "; register the generator, or add a helper class to COURSE_CLASSES in course_utils/persistence_codec.py" \
            if t.__module__.startswith("course_utils.") else ""
        raise TypeError(
            f"cannot save {path}: a {t.__module__}.{t.__qualname__} is not on the list of types a "
            "generator file may hold (numbers, text, numpy arrays, pandas tables, the course's "
            f"own classes, scikit-learn trees and linear models, torch layers and tensors){hint}"
        )

    def _encode_array(self, arr: np.ndarray, path: str) -> dict[str, Any]:
        if arr.dtype.hasobject:
            flat = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(arr.ravel(order="C"))]
            return {"t": "objarray", "shape": list(arr.shape), "items": flat}
        if arr.dtype.kind not in ARRAY_KINDS or arr.dtype.fields is not None:
            raise TypeError(f"cannot save {path}: arrays of dtype {arr.dtype} are not supported")
        self.arrays.append(arr if arr.flags.c_contiguous else arr.copy(order="C"))
        return {"t": "array", "file": f"arrays/{len(self.arrays) - 1}.npy"}



# -- decoding: JSON nodes + arrays -> Python objects ----------------------------------------
class Decoder:
    """Rebuilds the objects of a verified payload; only listed types come out."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self._objects: dict[int, Any] = {}

    def decode(self, node: Any) -> Any:
        """The object a node describes (``ValueError`` for anything not in the format)."""
        if node is None or type(node) in (bool, int, str):
            return node
        if type(node) is float:
            if not math.isfinite(node):
                raise ValueError("non-finite number written as a plain number")
            return node
        if type(node) is not dict or not isinstance(node.get("t"), str):
            raise ValueError(f"malformed node {str(node)[:80]!r}")
        kind = node["t"]
        if kind == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad float {node.get('v')!r}")
            return float(node["v"])
        if kind == "ref":
            if node.get("id") not in self._objects:
                raise ValueError(f"reference to unknown object {node.get('id')!r}")
            return self._objects[node["id"]]
        if kind == "np":
            return tables.decode_scalar(node)
        if kind == "tuple":
            return tuple(self.decode(v) for v in _items(node))
        if "id" not in node or type(node["id"]) is not int or node["id"] in self._objects:
            raise ValueError(f"node of type {kind!r} without a new id")
        if kind in tables.SIMPLE:
            return self.register(node, tables.SIMPLE[kind](self, node))
        builder = _MEMOISED.get(kind)
        if builder is None:
            from . import persistence_models

            builder = persistence_models.DECODERS.get(kind)
        if builder is None:
            raise ValueError(f"unknown node type {kind!r}")
        return builder(self, node)

    def register(self, node: dict[str, Any], obj: Any) -> Any:
        """Record ``obj`` under the node's id (for later ``ref`` nodes); returns it."""
        self._objects[node["id"]] = obj
        return obj

    def array(self, node: Any) -> np.ndarray:
        """An ``array`` or ``objarray`` node as a numpy array (``ValueError`` for anything else)."""
        out = self.decode(node)
        if not isinstance(out, np.ndarray):
            raise ValueError("expected an array")
        return out


def _items(node: dict[str, Any]) -> list[Any]:
    items = node.get("items")
    if type(items) is not list:
        raise ValueError(f"{node['t']} node without items")
    return items


def _decode_list(dec: Decoder, node: dict[str, Any]) -> list[Any]:
    out = dec.register(node, [])
    out.extend(dec.decode(v) for v in _items(node))
    return out


def _decode_dict(dec: Decoder, node: dict[str, Any]) -> dict[Any, Any]:
    out = dec.register(node, Counter() if node.get("t") == "counter" else {})
    for pair in _items(node):
        if type(pair) is not list or len(pair) != 2:
            raise ValueError("bad dict item")
        key = dec.decode(pair[0])
        if not (key is None or type(key) in (str, int, float, bool, tuple) or isinstance(key, np.generic)):
            raise ValueError(f"dict key of type {type(key).__name__} is not allowed")
        out[key] = dec.decode(pair[1])
    return out


def _decode_array(dec: Decoder, node: dict[str, Any]) -> np.ndarray:
    name = node.get("file")
    if name not in dec.arrays:
        raise ValueError(f"missing array {name!r}")
    return dec.register(node, dec.arrays[name])


def _decode_objarray(dec: Decoder, node: dict[str, Any]) -> np.ndarray:
    shape = node.get("shape")
    if type(shape) is not list or any(type(s) is not int or s < 0 for s in shape):
        raise ValueError("bad object array shape")
    items = [dec.decode(v) for v in _items(node)]
    if math.prod(shape) != len(items):
        raise ValueError("object array shape does not match its items")
    flat = np.empty(len(items), dtype=object)
    flat[:] = items
    return dec.register(node, flat.reshape(shape))


def _decode_rng(dec: Decoder, node: dict[str, Any]) -> np.random.Generator:
    state = dec.decode(node.get("state"))
    if type(state) is not dict or state.get("bit_generator") not in _BIT_GENERATORS:
        raise ValueError("bad random generator state")
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return dec.register(node, np.random.Generator(bit_generator))


def restore_object(dec: Decoder, node: dict[str, Any], cls: type) -> Any:
    """A ``cls`` made without ``__init__``, its attributes the node's decoded ``state`` (str keys only)."""
    obj = dec.register(node, cls.__new__(cls))
    state = dec.decode(node.get("state"))
    if type(state) is not dict or not all(type(k) is str for k in state):
        raise ValueError(f"bad attributes for {node['cls']}")
    obj.__dict__.update(state)
    return obj


def _decode_object(dec: Decoder, node: dict[str, Any]) -> Any:
    return restore_object(dec, node, course_class(node.get("cls")))


_MEMOISED = {
    "list": _decode_list, "dict": _decode_dict, "counter": _decode_dict, "array": _decode_array, "objarray": _decode_objarray,
    "rng": _decode_rng, "object": _decode_object, **tables.MEMOISED,
}
