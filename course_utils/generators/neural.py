"""Small torch helpers shared by the deep generators (VAE, GAN).

Everything a neural generator of mixed clinical tables needs besides its own model:

- :func:`resolve_device`: CPU by default, a GPU when :func:`course_utils.config.device`
  finds one.
- Reproducibility without touching global state: :func:`torch_seed` draws a seed from
  the generator's NumPy random stream, :func:`seeded` seeds torch inside a
  ``torch.random.fork_rng`` block (weight initialisation, dropout) and restores the
  caller's random state afterwards, :func:`make_generator` gives a seeded
  ``torch.Generator`` for shuffling and sampling noise.
- :func:`build_mlp`: a multilayer perceptron from a list of layer sizes.
- :func:`activate` and :func:`reconstruction_loss`: one activation and one loss per
  column kind, following a :class:`~course_utils.transform.TabularTransformer`'s
  ``layout_`` (softmax + cross-entropy per one-hot block, sigmoid + binary
  cross-entropy per binary or missing indicator, identity + squared error (or a
  Gaussian negative log-likelihood) per numeric column).
- :class:`MarginalCalibrator`: after training, a monotone map per numeric column that
  gives the generated values the training marginal (quantile mapping);
  :func:`frequency_offsets` does the same for the levels of discrete columns.
- :func:`batch_indices`, :func:`train_epochs` and :class:`EarlyStopping` (defined in
  :mod:`.training`, importable from here): the training loop with a ``tqdm`` progress bar showing the current losses, a per-epoch loss
  history for plotting, and optional early stopping on a validation loss.

Typical use inside a generator's ``_fit``::

    seed = torch_seed(self._rng)
    dev = resolve_device(self.device)
    with seeded(seed, dev):
        model = build_mlp(d_in, [128, 128], d_out).to(dev)
        gen = make_generator(seed, dev)
        history = train_epochs(step, X, epochs=self.epochs, batch_size=self.batch_size,
                               generator=gen, verbose=self.verbose, desc="VAE")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.nn import functional as F

from ..config import device as _config_device
from .training import EarlyStopping, batch_indices, train_epochs  # noqa: F401  (part of this module's API)

__all__ = [
    "EarlyStopping",
    "MarginalCalibrator",
    "frequency_offsets",
    "activate",
    "batch_indices",
    "build_mlp",
    "make_generator",
    "numeric_missing_mask",
    "reconstruction_loss",
    "resolve_device",
    "seeded",
    "torch_seed",
    "train_epochs",
]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


# -- devices and seeds ----------------------------------------------------------------
def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to use: ``None`` or ``"auto"`` asks :func:`course_utils.config.device`.

    That gives ``cuda`` when a GPU is visible and ``cpu`` otherwise (the environment
    variable ``COURSE_DEVICE=cpu`` forces the CPU). Any other value is passed to
    ``torch.device`` (``"cpu"``, ``"cuda:0"``).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return _config_device()
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be None, 'auto', a string or a torch.device, got {type(device).__name__}")
    return _config_device(device)


def torch_seed(rng: np.random.Generator) -> int:
    """Draw a seed for torch from a NumPy generator (so one ``random_state`` drives both)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    return int(rng.integers(0, 2**62))


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``.

    Pass it to ``torch.randn(..., generator=g)`` and ``torch.randperm(..., generator=g)``
    so that shuffling and sampling noise depend on the seed and on nothing else.
    """
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed))
    return g


@contextmanager
def seeded(seed: int, device: str | torch.device | None = "cpu") -> Iterator[None]:
    """Seed torch's global random state for the duration of a ``with`` block only.

    Weight initialisation and dropout draw from torch's global generator; seeding it
    inside ``torch.random.fork_rng`` makes a fit reproducible without changing the
    random state of the learner's own code around it.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    cuda_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(int(seed))
        yield


# -- networks -------------------------------------------------------------------------
def build_mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Sequential:
    """A multilayer perceptron ``in_dim -> hidden[0] -> ... -> out_dim``.

    Each hidden layer is Linear, then BatchNorm1d (if ``batch_norm``), the activation
    (``relu``, ``leaky_relu`` (slope 0.2), ``tanh``, ``gelu`` or ``silu``) and Dropout
    (if ``dropout > 0``). The last layer is a plain Linear: activations that depend on
    the column kind come from :func:`activate`.
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    hidden = list(hidden)
    if any(isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1 for h in hidden):
        raise ValueError(f"hidden layer sizes must be positive integers, got {hidden!r}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(_ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    layers: list[nn.Module] = []
    width = int(in_dim)
    for h in hidden:
        layers.append(nn.Linear(width, int(h)))
        if batch_norm:
            layers.append(nn.BatchNorm1d(int(h)))
        layers.append(_ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, int(out_dim)))
    return nn.Sequential(*layers)


# -- activations and losses per column kind -------------------------------------------
def activate(
    logits: torch.Tensor,
    layout: Sequence[Any],
    tau: float | None = None,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Apply the activation of each span of a transformer ``layout_`` to raw output.

    One-hot blocks get a softmax (probabilities that sum to 1 per block), binary and
    missing indicators a sigmoid, numeric columns nothing. With ``tau`` set, one-hot
    blocks get a Gumbel-softmax at temperature ``tau`` instead (a differentiable
    *sample* of a level, what a GAN generator needs so its output looks like real
    one-hot rows); ``hard=True`` makes the forward value exactly one-hot while the
    gradient stays soft (straight-through). The Gumbel noise comes from ``generator``.
    """
    parts = []
    for span in layout:
        block = logits[:, span.start : span.end]
        if span.kind == "onehot":
            if tau is None:
                parts.append(torch.softmax(block, dim=1))
            else:
                u = torch.rand(block.shape, generator=generator, device=block.device, dtype=block.dtype)
                gumbel = -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
                y = torch.softmax((block + gumbel) / tau, dim=1)
                if hard:
                    one = torch.zeros_like(y).scatter_(1, y.argmax(dim=1, keepdim=True), 1.0)
                    y = one - y.detach() + y
                parts.append(y)
        elif span.kind in ("binary", "missing"):
            parts.append(torch.sigmoid(block))
        else:
            parts.append(block)
    return torch.cat(parts, dim=1)


def numeric_missing_mask(target: torch.Tensor, layout: Sequence[Any]) -> torch.Tensor:
    """0/1 weights for the numeric columns of ``target``: 0 where the value is missing.

    A missing numeric value is stored as the column's median plus a missing
    indicator of 1; training the decoder to reproduce that placeholder median would
    pull every value towards it, so the loss ignores it. Columns in layout order,
    shape ``(n_rows, n_numeric_spans)``.
    """
    indicator = {s.column: s.start for s in layout if s.kind == "missing"}
    cols = []
    for span in layout:
        if span.kind != "numeric":
            continue
        if span.column in indicator:
            cols.append(1.0 - target[:, indicator[span.column]])
        else:
            cols.append(torch.ones(len(target), device=target.device, dtype=target.dtype))
    if not cols:
        return torch.ones(len(target), 0, device=target.device, dtype=target.dtype)
    return torch.stack(cols, dim=1)


def reconstruction_loss(
    output: torch.Tensor,
    target: torch.Tensor,
    layout: Sequence[Any],
    numeric_log_var: torch.Tensor | None = None,
    weights: Mapping[str, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """How well raw model ``output`` (logits) reproduces ``target``, column kind by column kind.

    Both are ``(n_rows, output_dim_)`` tensors laid out as the transformer's ``layout_``;
    ``target`` is the encoded table (one-hot blocks, 0/1 indicators, scaled numbers).

    - one-hot block: cross-entropy of the block's softmax against the true level;
    - binary column and missing indicator: binary cross-entropy on the logit;
    - numeric column: squared error, or with ``numeric_log_var`` (one log-variance per
      numeric column, shape ``(n_numeric,)`` or ``(n_rows, n_numeric)``) the Gaussian
      negative log-likelihood ``0.5 * (log_var + (x - mu)**2 / exp(log_var))``, which
      lets the model learn how spread out each column is instead of pretending every
      column is predicted equally well. Missing values do not count
      (:func:`numeric_missing_mask`).

    Each row's losses are summed over its columns and averaged over rows (the usual
    scale of a VAE's reconstruction term). ``weights`` multiplies the terms of one kind
    (keys ``onehot``, ``binary``, ``missing``, ``numeric``).

    Returns ``(total, parts)``: ``total`` a scalar tensor to back-propagate, ``parts``
    the per-kind values as floats for the progress bar and the loss history.
    """
    if output.shape != target.shape:
        raise ValueError(f"output shape {tuple(output.shape)} differs from target shape {tuple(target.shape)}")
    weights = dict(weights or {})
    unknown = set(weights) - {"onehot", "binary", "missing", "numeric"}
    if unknown:
        raise ValueError(f"unknown loss weight(s) {sorted(unknown)}; use onehot, binary, missing, numeric")
    n = output.shape[0]
    terms: dict[str, torch.Tensor] = {}

    def add(kind: str, per_row: torch.Tensor) -> None:
        terms[kind] = terms.get(kind, 0) + per_row

    numeric_pos = [s.start for s in layout if s.kind == "numeric"]
    for span in layout:
        if span.kind == "onehot":
            block = output[:, span.start : span.end]
            add("onehot", -(target[:, span.start : span.end] * F.log_softmax(block, dim=1)).sum(dim=1))
        elif span.kind in ("binary", "missing"):
            add(span.kind, F.binary_cross_entropy_with_logits(
                output[:, span.start], target[:, span.start], reduction="none"))
    if numeric_pos:
        idx = torch.as_tensor(numeric_pos, device=output.device)
        mu, x = output[:, idx], target[:, idx]
        mask = numeric_missing_mask(target, layout)
        if numeric_log_var is None:
            err = (x - mu) ** 2
        else:
            lv = numeric_log_var
            if lv.dim() == 1 and lv.shape[0] == mu.shape[1]:
                lv = lv.unsqueeze(0).expand_as(mu)
            if lv.shape != mu.shape:
                raise ValueError(
                    f"numeric_log_var has shape {tuple(numeric_log_var.shape)}; expected "
                    f"({len(numeric_pos)},) or ({n}, {len(numeric_pos)})"
                )
            err = 0.5 * (lv + (x - mu) ** 2 * torch.exp(-lv))
        add("numeric", (err * mask).sum(dim=1))
    total = output.new_zeros(())
    parts: dict[str, float] = {}
    for kind, per_row in terms.items():
        value = per_row.mean()
        parts[kind] = float(value.detach())
        total = total + weights.get(kind, 1.0) * value
    return total, parts


# -- marginal calibration -------------------------------------------------------------
class MarginalCalibrator:
    """Quantile mapping: monotone per-column maps from a generator's output to the training marginals.

    A neural generator learns each column's distribution only approximately (a VAE's
    decoded values plus noise are slightly too narrow or too wide, a little skewed).
    ``fit(generated, real)`` stores ``n_quantiles`` quantiles of each column of a large
    draw from the trained generator and of the training rows (both in the encoded
    scale); ``transform`` sends a generated value at the generator's quantile ``u`` to
    the training table's quantile ``u``. The map is increasing, so every row keeps its
    rank in each column: the relationships between columns stay what the model learned,
    only the marginal shapes are corrected. Rows are not copied (values fall between
    training quantiles). ``NaN`` (a missing value's placeholder) is ignored in both.

    Fitted attributes: ``generated_quantiles_`` and ``real_quantiles_``, arrays of shape
    ``(n_quantiles, n_columns)``.
    """

    def __init__(self, n_quantiles: int = 1000):
        if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, int | np.integer) or n_quantiles < 2:
            raise ValueError(f"n_quantiles must be an integer >= 2, got {n_quantiles!r}")
        self.n_quantiles = int(n_quantiles)

    def fit(self, generated: np.ndarray, real: np.ndarray) -> MarginalCalibrator:
        """Learn the maps from ``generated`` (draws of the model) to ``real`` (training rows), column by column."""
        generated, real = np.asarray(generated, dtype=float), np.asarray(real, dtype=float)
        if generated.ndim != 2 or real.ndim != 2 or generated.shape[1] != real.shape[1]:
            raise ValueError(f"generated {generated.shape} and real {real.shape} must be 2-D with the same columns")
        probs = np.linspace(0.0, 1.0, self.n_quantiles)
        gen_q, real_q = [], []
        for j in range(generated.shape[1]):
            g, r = generated[:, j], real[:, j]
            g, r = g[np.isfinite(g)], r[np.isfinite(r)]
            if len(g) == 0 or len(r) == 0:  # nothing to map: identity
                gen_q.append(probs)
                real_q.append(probs)
                continue
            gen_q.append(np.quantile(g, probs))
            real_q.append(np.quantile(r, probs))
        self.generated_quantiles_ = np.stack(gen_q, axis=1)
        self.real_quantiles_ = np.stack(real_q, axis=1)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Map each column of ``X`` (generated values) onto the training marginal; returns a new array."""
        if not hasattr(self, "real_quantiles_"):
            raise NotFittedError("MarginalCalibrator is not fitted yet; call fit first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.real_quantiles_.shape[1]:
            raise ValueError(f"expected shape (n, {self.real_quantiles_.shape[1]}), got {X.shape}")
        out = np.empty_like(X)
        probs = np.linspace(0.0, 1.0, self.n_quantiles)
        for j in range(X.shape[1]):
            gq, rq = self.generated_quantiles_[:, j], self.real_quantiles_[:, j]
            # ties in the generated quantiles (a column the model outputs as a constant)
            # would make the map a step; average the probabilities of tied quantiles
            knots, inverse = np.unique(gq, return_inverse=True)
            if len(knots) == 1:
                out[:, j] = np.interp(0.5, probs, rq)
                continue
            u_knots = np.bincount(inverse, weights=probs) / np.bincount(inverse)
            u = np.interp(X[:, j], knots, u_knots)
            out[:, j] = np.interp(u, probs, rq)
        return out


def frequency_offsets(
    logits: torch.Tensor, target: torch.Tensor, layout: Sequence[Any], n_iter: int = 10
) -> torch.Tensor:
    """Offsets to add to raw ``logits`` so each discrete level's mean probability matches ``target``.

    ``logits`` is a large draw of a trained model's raw output (``(n_rows, output_dim_)``),
    ``target`` the training table's mean of each encoded column (level shares, 0/1
    rates). For a one-hot block the offset of a level grows by ``log(target / mean
    probability)``, for a binary or missing indicator by the difference of the log-odds,
    ``n_iter`` times (the shares interact through the softmax, so one step is not
    exact). Numeric columns get 0. Adding the same offset to every row keeps each row's
    ranking of levels: the model's dependence between columns is unchanged, only the
    overall frequencies are corrected.
    """
    if logits.shape[1] != target.shape[0]:
        raise ValueError(f"logits have {logits.shape[1]} columns, target {target.shape[0]}")
    eps = 1e-4
    offsets = torch.zeros(logits.shape[1], dtype=logits.dtype, device=logits.device)
    target = target.to(logits.dtype).clamp(eps, 1 - eps)
    with torch.no_grad():
        for _ in range(int(n_iter)):
            mean = activate(logits + offsets, layout).mean(dim=0).clamp(eps, 1 - eps)
            for span in layout:
                sl = slice(span.start, span.end)
                if span.kind == "onehot":
                    offsets[sl] += torch.log(target[sl] / mean[sl])
                elif span.kind in ("binary", "missing"):
                    offsets[sl] += torch.logit(target[sl]) - torch.logit(mean[sl])
    return offsets
