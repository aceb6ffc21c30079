"""Scikit-learn models and torch networks in generator files (see :mod:`course_utils.persistence`).

Node types added here:

- ``sklearn``: one of the estimators in :data:`SKLEARN_CLASSES`, rebuilt by
  ``cls.__new__`` and its attributes (hyper-parameters and fitted attributes).
- ``sktree``: a fitted scikit-learn ``Tree``: its sizes, one array per node field
  (``left_child``, ``right_child``, ``feature``, ``threshold``, ...) and the value
  array. Before the tree is built every internal node must have two children with a
  larger index inside the tree (so a walk from the root always ends in a leaf), a
  feature inside the input's columns, and the value array the shape the sizes say:
  the tree's compiled code indexes without bounds checks, so this is what keeps a
  crafted file from making it read outside its memory.
- ``tensor``: a torch tensor as a numpy array (on the CPU) and ``requires_grad``.
- ``device``: a torch device, by name.
- ``module``: a torch network. Standard layers (:data:`TORCH_LAYERS`) are rebuilt
  with their constructor arguments (first on the ``meta`` device, so the saved
  weights' shapes are checked before any memory is allocated), the course's own
  modules (:data:`COURSE_MODULES`) by ``cls.__new__`` and their public attributes;
  then the saved parameters and buffers are copied in and each layer's
  training/evaluation mode restored.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections import OrderedDict
from typing import Any

import numpy as np

from .persistence_codec import Decoder, Encoder, class_key, restore_object

SKLEARN_CLASSES: dict[str, tuple[str, str]] = {
    "sklearn.tree:DecisionTreeClassifier": ("sklearn.tree", "DecisionTreeClassifier"),
    "sklearn.tree:DecisionTreeRegressor": ("sklearn.tree", "DecisionTreeRegressor"),
    "sklearn.linear_model:LinearRegression": ("sklearn.linear_model", "LinearRegression"),
    "sklearn.linear_model:LogisticRegression": ("sklearn.linear_model", "LogisticRegression"),
}

# name -> the constructor arguments a saved layer needs
TORCH_LAYERS: dict[str, tuple[str, ...]] = {
    "Linear": ("in_features", "out_features", "bias"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "ReLU": ("inplace",),
    "LeakyReLU": ("negative_slope", "inplace"),
    "Tanh": (),
    "GELU": ("approximate",),
    "SiLU": ("inplace",),
    "Dropout": ("p", "inplace"),
    "Embedding": ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                  "scale_grad_by_freq", "sparse"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine"),
    "Sequential": (),
    "ModuleList": (),
}
_HAS_DEVICE_ARG = ("Linear", "BatchNorm1d", "Embedding", "LayerNorm")
_CONTAINERS = ("Sequential", "ModuleList")

COURSE_MODULES: dict[str, str] = {
    "course_utils.generators.vae:TabularVAE": "course_utils.generators.vae",
    "course_utils.generators.mcm_network:MaskedFilterNet": "course_utils.generators.mcm_network",
    "course_utils.generators.dp_vae:OneHotVAE": "course_utils.generators.dp_vae",
    "course_utils.generators.llm:CausalSelfAttention": "course_utils.generators.llm",
    "course_utils.generators.llm:Block": "course_utils.generators.llm",
    "course_utils.generators.llm:TinyGPT": "course_utils.generators.llm",
    "course_utils.generators.tiny_gpt:CausalSelfAttention": "course_utils.generators.tiny_gpt",
    "course_utils.generators.tiny_gpt:Block": "course_utils.generators.tiny_gpt",
    "course_utils.generators.tiny_gpt:TinyGPT": "course_utils.generators.tiny_gpt",
    "course_utils.generators.gan_training:_Residual": "course_utils.generators.gan_training",
}
_DEVICE = re.compile(r"^(cpu|cuda(:\d{1,3})?|mps|meta)$")


def _sklearn_class(key: str) -> type:
    if key not in SKLEARN_CLASSES:
        raise ValueError(f"scikit-learn type {key!r} is not on the list of types a generator file may hold")
    module, name = SKLEARN_CLASSES[key]
    return getattr(importlib.import_module(module), name)


def _course_module(key: str) -> type:
    if key not in COURSE_MODULES:
        raise ValueError(f"torch module {key!r} is not on the list of types a generator file may hold")
    return getattr(importlib.import_module(COURSE_MODULES[key]), key.split(":", 1)[1])


# -- encoding --------------------------------------------------------------------------------
def encode(enc: Encoder, obj: Any, path: str) -> dict[str, Any] | None:
    """The node of a scikit-learn or torch object, or None when ``obj`` is neither."""
    module = type(obj).__module__
    if module.startswith("sklearn."):
        return _encode_sklearn(enc, obj, path)
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(obj, torch.Tensor):
        if obj.layout != torch.strided or obj.is_quantized:
            raise TypeError(f"cannot save {path}: only dense tensors are supported")
        try:
            data = obj.detach().cpu().numpy()
        except TypeError as err:
            raise TypeError(f"cannot save {path}: {err}") from None
        return {"t": "tensor", "data": enc.encode(data.copy(), f"{path}.data"),
                "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, torch.device):
        return {"t": "device", "v": str(obj)}
    if isinstance(obj, torch.nn.Module):
        return _encode_module(enc, obj, path)
    return None


def _encode_sklearn(enc: Encoder, obj: Any, path: str) -> dict[str, Any] | None:
    from sklearn.tree._tree import NODE_DTYPE, Tree

    if type(obj) is Tree:
        state = obj.__getstate__()
        nodes = state["nodes"]
        if nodes.dtype != NODE_DTYPE:
            raise TypeError(f"cannot save {path}: unexpected tree node layout {nodes.dtype}")
        return {
            "t": "sktree", "n_features": int(obj.n_features), "n_outputs": int(obj.n_outputs),
            "n_classes": enc.encode(np.asarray(obj.n_classes, dtype=np.int64), f"{path}.n_classes"),
            "max_depth": int(state["max_depth"]), "node_count": int(state["node_count"]),
            "nodes": {f: enc.encode(np.ascontiguousarray(nodes[f]), f"{path}.nodes.{f}")
                      for f in NODE_DTYPE.names},
            "values": enc.encode(np.ascontiguousarray(state["values"]), f"{path}.values"),
        }
    for key in SKLEARN_CLASSES:
        if _sklearn_class(key) is type(obj):
            return {"t": "sklearn", "cls": key, "state": enc.encode_attributes(vars(obj), path)}
    return None


def _encode_module(enc: Encoder, m: Any, path: str) -> dict[str, Any]:
    import torch

    name = type(m).__name__
    node: dict[str, Any] = {"t": "module", "training": bool(m.training)}
    if name in TORCH_LAYERS and getattr(torch.nn, name) is type(m):
        node["cls"] = f"torch.nn.{name}"
        args = {a: getattr(m, a) for a in TORCH_LAYERS[name]}
        if name == "Linear":
            args["bias"] = m.bias is not None
        node["args"] = enc.encode_attributes(args, path)
    elif class_key(type(m)) in COURSE_MODULES:
        node["cls"] = class_key(type(m))
        public = {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}
        node["attrs"] = enc.encode_attributes(public, path)
    else:
        raise TypeError(f"cannot save {path}: torch module {class_key(type(m))} is not on the list of "
                        "layers a generator file may hold")
    if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks:
        raise TypeError(f"cannot save {path}: modules with hooks are not supported")
    node["params"] = [[k, None if p is None else enc.encode(p, f"{path}.{k}")] for k, p in m._parameters.items()]
    node["buffers"] = [[k, None if b is None else enc.encode(b, f"{path}.{k}")] for k, b in m._buffers.items()]
    node["children"] = [[k, enc.encode(c, f"{path}.{k}")] for k, c in m._modules.items()]
    return node


# -- decoding ---------------------------------------------------------------------------------
def _int(node: dict[str, Any], key: str, low: int = 0) -> int:
    v = node.get(key)
    if type(v) is not int or v < low:
        raise ValueError(f"bad {key} {v!r}")
    return v


def _decode_sklearn(dec: Decoder, node: dict[str, Any]) -> Any:
    obj = restore_object(dec, node, _sklearn_class(node.get("cls")))
    if "tree_" in obj.__dict__:
        _check_tree_estimator(obj)
    return obj


def _check_tree_estimator(est: Any) -> None:
    from sklearn.tree._tree import Tree

    tree = est.tree_
    if type(tree) is not Tree:
        raise ValueError("tree_ is not a tree")
    if est.n_features_in_ != tree.n_features or est.n_outputs_ != tree.n_outputs:
        raise ValueError("the tree's sizes do not match its estimator's")
    if hasattr(est, "classes_"):
        if tree.n_outputs != 1 or int(est.n_classes_) != len(est.classes_) \
                or int(est.n_classes_) != int(tree.n_classes[0]):
            raise ValueError("the tree's classes do not match its estimator's")


def _decode_tree(dec: Decoder, node: dict[str, Any]) -> Any:
    from sklearn.tree._tree import NODE_DTYPE, Tree

    n_features, n_outputs = _int(node, "n_features", 1), _int(node, "n_outputs", 1)
    node_count, max_depth = _int(node, "node_count", 1), _int(node, "max_depth")
    n_classes = dec.array(node.get("n_classes"))
    if n_classes.shape != (n_outputs,) or n_classes.dtype.kind not in "iu" or (n_classes < 1).any():
        raise ValueError("tree: bad n_classes")
    fields = node.get("nodes")
    if type(fields) is not dict or sorted(fields) != sorted(NODE_DTYPE.names):
        raise ValueError("tree: bad node fields")
    nodes = np.zeros(node_count, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names:
        arr = dec.array(fields[name])
        want = NODE_DTYPE.fields[name][0]
        if arr.shape != (node_count,) or arr.dtype.kind != want.kind:
            raise ValueError(f"tree: node field {name} has shape {arr.shape} and dtype {arr.dtype}")
        nodes[name] = arr
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    idx = np.arange(node_count)
    leaf = left == -1
    inner = ~leaf
    if not np.array_equal(right == -1, leaf):
        raise ValueError("tree: a node has one child")
    # children after their parent: every walk from the root moves forward and ends in a leaf
    if ((left[inner] <= idx[inner]) | (left[inner] >= node_count)
            | (right[inner] <= idx[inner]) | (right[inner] >= node_count)).any():
        raise ValueError("tree: child index out of range")
    if ((feature[inner] < 0) | (feature[inner] >= n_features)).any():
        raise ValueError("tree: feature index out of range")
    depth = np.zeros(node_count, dtype=np.int64)
    for i in np.flatnonzero(inner):
        depth[left[i]] = depth[right[i]] = depth[i] + 1
    if int(depth.max()) != max_depth:
        raise ValueError("tree: max_depth does not match the nodes")
    values = dec.array(node.get("values"))
    if values.shape != (node_count, n_outputs, int(n_classes.max())) or values.dtype != np.float64:
        raise ValueError(f"tree: value array has shape {values.shape} and dtype {values.dtype}")
    tree = Tree(n_features, n_classes.astype(np.intp), n_outputs)
    tree.__setstate__({"max_depth": max_depth, "node_count": node_count, "nodes": nodes,
                       "values": np.ascontiguousarray(values)})
    return dec.register(node, tree)


def _decode_tensor(dec: Decoder, node: dict[str, Any]) -> Any:
    import torch

    arr = dec.array(node.get("data"))
    if arr.dtype.kind not in "biufc" or type(node.get("requires_grad")) is not bool:
        raise ValueError(f"tensor of dtype {arr.dtype}")
    t = torch.from_numpy(np.array(arr, copy=True))
    if node["requires_grad"]:
        t.requires_grad_(True)
    return dec.register(node, t)


def _decode_device(dec: Decoder, node: dict[str, Any]) -> Any:
    import torch

    if type(node.get("v")) is not str or not _DEVICE.match(node["v"]):
        raise ValueError(f"bad device {node.get('v')!r}")
    return dec.register(node, torch.device(node["v"]))


def _named(dec: Decoder, pairs: Any, what: str) -> list[tuple[str, Any]]:
    if type(pairs) is not list:
        raise ValueError(f"bad module {what}")
    out = []
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or not pair[0] \
                or "." in pair[0] or pair[0].startswith("_"):
            raise ValueError(f"bad module {what}")
        out.append((pair[0], None if pair[1] is None else dec.decode(pair[1])))
    return out


def _decode_module(dec: Decoder, node: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    key = node.get("cls")
    layer = type(key) is str and key.startswith("torch.nn.") and key[9:] in TORCH_LAYERS
    # the same order as encoding: a "ref" always points backwards
    settings = dec.decode(node.get("args" if layer else "attrs"))
    params = _named(dec, node.get("params"), "parameters")
    buffers = _named(dec, node.get("buffers"), "buffers")
    children = _named(dec, node.get("children"), "children")
    if not all(isinstance(c, nn.Module) for _, c in children) or not all(
            v is None or isinstance(v, torch.Tensor) for _, v in params + buffers):
        raise ValueError("bad module contents")
    if layer:
        m = _build_layer(key[9:], settings, children, params, buffers)
    else:
        cls = _course_module(key)
        m = cls.__new__(cls)
        nn.Module.__init__(m)
        attrs = settings
        if type(attrs) is not dict or not all(type(k) is str and not k.startswith("_") for k in attrs):
            raise ValueError(f"bad attributes for {key}")
        for k, v in attrs.items():
            setattr(m, k, v)
        for k, c in children:
            m.add_module(k, c)
        for k, p in params:
            m.register_parameter(k, None if p is None else nn.Parameter(p.detach(), requires_grad=p.requires_grad))
        for k, b in buffers:
            m.register_buffer(k, b)
    if type(node.get("training")) is not bool:
        raise ValueError("bad module training flag")
    m.training = node["training"]  # each layer keeps its own mode: no recursive train()/eval()
    return dec.register(node, m)


def _build_layer(name: str, args: Any, children: list, params: list, buffers: list) -> Any:
    import torch
    from torch import nn

    def plain(v: Any) -> bool:  # LayerNorm's normalized_shape is a tuple of ints
        return v is None or type(v) in (bool, int, float, str) or (
            type(v) is tuple and len(v) <= 8 and all(type(x) is int and 0 < x < 2**31 for x in v))

    if type(args) is not dict or sorted(args) != sorted(TORCH_LAYERS[name]) or not all(
            plain(v) for v in args.values()):
        raise ValueError(f"bad arguments for torch.nn.{name}")
    cls = getattr(nn, name)
    if name in _CONTAINERS:
        if params or buffers:
            raise ValueError(f"a {name} holds no parameters of its own")
        if name == "ModuleList":
            if [k for k, _ in children] != [str(i) for i in range(len(children))]:
                raise ValueError("a ModuleList's children are numbered 0, 1, ...")
            return nn.ModuleList([c for _, c in children])
        return nn.Sequential(OrderedDict(children))
    if children:
        raise ValueError(f"torch.nn.{name} has no sub-modules")
    if name in _HAS_DEVICE_ARG:
        m = cls(**args, device="meta")  # sizes only: the saved weights are checked before allocating
    else:
        m = cls(**args)
    for kind, saved, own in (("parameter", params, m._parameters), ("buffer", buffers, m._buffers)):
        if [k for k, _ in saved] != list(own):
            raise ValueError(f"torch.nn.{name}: {kind}s {[k for k, _ in saved]} instead of {list(own)}")
        for k, t in saved:
            ref = own[k]
            if (ref is None) != (t is None) or (t is not None and (t.shape != ref.shape or t.dtype != ref.dtype)):
                raise ValueError(f"torch.nn.{name}.{k}: saved tensor does not fit the layer")
    if name in _HAS_DEVICE_ARG:
        m = m.to_empty(device="cpu")
    with torch.no_grad():
        for k, t in params:
            if t is not None:
                m._parameters[k].copy_(t)
                m._parameters[k].requires_grad_(t.requires_grad)
        for k, t in buffers:
            if t is not None:
                m._buffers[k].copy_(t)
    return m


DECODERS = {
    "sklearn": _decode_sklearn, "sktree": _decode_tree, "tensor": _decode_tensor,
    "device": _decode_device, "module": _decode_module,
}
