"""Masked clinical modelling (MCM): one network that fills in any hidden cells of a patient row (lesson 08).

Masked language models learn words by hiding some and predicting them from the rest.
MCM does the same with the cells of a clinical table: during training a random share
of each row's features is hidden and the network learns to predict them from the
visible ones. One trained network then serves three uses:

- **partial synthesis** (:meth:`MCMSynthesizer.regenerate`, ``mask_ratio=0.25``):
  hide a quarter of each real row and let the model regenerate it; the other three
  quarters are still the real patient's values, so the result suits only open data
  or a trusted research environment;
- **full synthesis** (``sample(n)``): start from a fully hidden row and reveal a few
  features at a time, in a random order, each drawn from the model's predicted
  distribution given what is already generated (iterative unmasking);
- **targeted augmentation** (``sample(n, conditions={"gender": "male", "afb": 1})``):
  the conditioned features start visible and the rest is generated around them.

The model: the encoded row with hidden cells *removed* (set to 0) plus one 0/1
"visible" indicator per feature goes through an attention filter (a linear layer and a
softmax over the visible features only; hidden features get weight 0, and a fully
hidden row gets all-zero weights instead of the 0/0 of a plain softmax) that re-weights
the visible features, then through an MLP. The output is a distribution per feature:
logits for categories and flags (cross-entropy), a mean and a log-variance for numbers
(Gaussian negative log-likelihood), so regenerated values are drawn, not averaged. The
loss counts hidden features only.

The original MCM code multiplied the network's *output* by the mask but fed the true
values of the hidden cells into the network; a "regenerated" value could then copy the
real one. Here hidden cells never reach the network (``hide_input=False`` rebuilds the
leak, for the lesson's leak test only).

The network, the masks and the loss live in :mod:`.mcm_network` (re-exported here).
Numbers are encoded by the course's :class:`~course_utils.transform.TabularTransformer`:
Box-Cox then min-max for skewed columns (as the MCM study did), min-max for the others,
one-hot blocks for categories.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ..transform import TabularTransformer
from .base import Synthesizer
from .mcm_network import (
    LOG_VAR_RANGE,
    MaskedFilterNet,
    feature_of_cells,
    masked_loss,
    random_hidden,
)
from .neural import make_generator, resolve_device, seeded, torch_seed, train_epochs

__all__ = ["MCMSynthesizer", "MaskedFilterNet", "feature_of_cells", "masked_loss", "random_hidden"]

SKEW_THRESHOLD = 0.5
"""Numeric columns whose absolute skewness exceeds this get Box-Cox before min-max."""


class MCMSynthesizer(Synthesizer):
    """Masked clinical modelling: partial synthesis, full synthesis and targeted augmentation.

    Args:
        hidden: sizes of the MLP's hidden layers.
        epochs: passes over the training table (each pass draws new masks).
        batch_size: rows per optimisation step.
        learning_rate: Adam's step size.
        weight_decay: Adam's L2 penalty.
        dropout: dropout in the MLP (keeps it from memorising training rows).
        features_per_step: features revealed per step of iterative unmasking (fewer:
            each feature conditions on more generated ones; more: faster).
        continuous: ``"auto"`` (Box-Cox then min-max for columns whose absolute
            skewness exceeds :data:`SKEW_THRESHOLD`, min-max for the rest), or any
            ``continuous`` argument of :class:`~course_utils.transform.TabularTransformer`.
        hide_input: ``True`` removes hidden cells from the input (the fix); ``False``
            feeds their true values in, as the original code did (lesson 08's leak
            test only: the "regenerated" values can then copy the real ones).
        device: ``None``/``"auto"`` (GPU when one is found), ``"cpu"`` or ``"cuda"``.
            The fitted model moves to the CPU.
        random_state: seed.
        verbose: progress bar with the current losses.

    Fitted attributes: ``transformer_``, ``model_``, ``features_`` (feature names, in
    the encoded order), ``loss_history_`` (one dict per epoch), ``n_epochs_``,
    ``fit_time_``, ``device_``.
    """

    supports_conditions = True

    def __init__(
        self,
        hidden: Sequence[int] = (128, 128),
        epochs: int = 300,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        dropout: float = 0.1,
        features_per_step: int = 2,
        continuous: str | dict[str, str] = "auto",
        hide_input: bool = True,
        device: str | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ):
        super().__init__(random_state=random_state, verbose=verbose)
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.features_per_step = features_per_step
        self.continuous = continuous
        self.hide_input = hide_input
        self.device = device

    # -- fitting ----------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("epochs", "batch_size", "features_per_step"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.hidden, Sequence) or isinstance(self.hidden, str):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (128, 128); got {self.hidden!r}")
        if not (isinstance(self.learning_rate, int | float) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")

    def _scaling(self, df: pd.DataFrame) -> str | dict[str, str]:
        if self.continuous != "auto":
            return self.continuous
        methods = {}
        for name, spec in self.metadata_.columns.items():
            if spec.kind in ("continuous", "integer", "datetime"):
                x = pd.to_numeric(df[name], errors="coerce") if spec.kind != "datetime" else None
                skewed = x is not None and x.notna().sum() > 2 and abs(float(x.skew())) > SKEW_THRESHOLD
                methods[name] = "boxcox" if skewed else "minmax"
        return methods

    def _fit(self, df: pd.DataFrame) -> None:
        self._check_params()
        start = time.perf_counter()
        self.transformer_ = TabularTransformer(continuous=self._scaling(df)).fit(df, self.metadata_)
        layout = self.transformer_.layout_
        self.features_, cell_feature = feature_of_cells(layout)
        n_numeric = sum(s.kind == "numeric" for s in layout)
        dev = resolve_device(self.device)
        self.device_ = str(dev)
        seed = torch_seed(self._rng)
        X = self.transformer_.transform_tensor(df).to(dev)
        with seeded(seed, dev):
            g = make_generator(seed, dev)
            model = MaskedFilterNet(cell_feature, n_numeric, [int(h) for h in self.hidden],
                                    float(self.dropout), bool(self.hide_input)).to(dev)
            model.init_output_bias(X, layout)
            opt = torch.optim.Adam(model.parameters(), lr=float(self.learning_rate),
                                   weight_decay=float(self.weight_decay))
            n_features = len(self.features_)

            def step(batch: torch.Tensor) -> dict[str, float]:
                hidden = random_hidden(len(batch), n_features, g, dev)
                out, _ = model(batch, ~hidden)
                loss, parts = masked_loss(out, batch, hidden, layout, model.cell_feature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return parts

            model.train()
            self.loss_history_ = train_epochs(step, X, epochs=int(self.epochs), batch_size=int(self.batch_size),
                                              generator=g, verbose=bool(self.verbose), desc="MCM")
        model.eval()
        self.model_ = model.cpu()
        self.n_epochs_ = len(self.loss_history_)
        self.fit_time_ = time.perf_counter() - start

    # -- filling hidden features ------------------------------------------------------
    def _hidden_array(self, hidden: Any, n: int) -> torch.Tensor:
        if isinstance(hidden, pd.DataFrame):
            unknown = [c for c in hidden.columns if c not in self.features_]
            if unknown:
                raise ValueError(f"hidden names unknown feature(s) {unknown}; features are {self.features_}")
            hidden = hidden.reindex(columns=self.features_, fill_value=False).to_numpy()
        arr = np.asarray(hidden)
        if arr.shape != (n, len(self.features_)):
            raise ValueError(f"hidden must have shape ({n}, {len(self.features_)}) (rows x features), got {arr.shape}")
        if arr.dtype != bool:
            raise TypeError(f"hidden must be True/False (True = hidden), got {arr.dtype}")
        return torch.as_tensor(arr)

    def _encode(self, df: pd.DataFrame) -> torch.Tensor:
        missing = [c for c in self.columns_ if c not in df.columns]
        if missing:
            raise ValueError(f"the table lacks column(s) {missing}")
        return self.transformer_.transform_tensor(df[self.columns_].reset_index(drop=True))

    def masked_outputs(self, df: pd.DataFrame, hidden: Any) -> np.ndarray:
        """The network's raw output for the rows of ``df`` with the ``hidden`` features hidden.

        ``hidden``: a bool array or DataFrame ``(n_rows, n_features)`` (columns
        ``features_``; True = hidden). Output columns: a logit or mean per encoded cell,
        then a log-variance per numeric column. The leak test compares these outputs
        before and after changing hidden cells' true values.
        """
        self._check_fitted()
        X = self._encode(df)
        h = self._hidden_array(hidden, len(X))
        with torch.no_grad():
            out, _ = self.model_(X, ~h)
        return out.numpy()

    def attention_weights(self, df: pd.DataFrame, hidden: Any) -> pd.DataFrame:
        """The attention filter's weight of each feature per row (0 for hidden features)."""
        self._check_fitted()
        X = self._encode(df)
        h = self._hidden_array(hidden, len(X))
        with torch.no_grad():
            _, w = self.model_(X, ~h)
        return pd.DataFrame(w.numpy(), columns=self.features_, index=df.index)

    def _draw_features(self, out: torch.Tensor, X: torch.Tensor, reveal: torch.Tensor,
                       g: torch.Generator) -> None:
        """Write draws from the predicted distributions into ``X`` where ``reveal`` (rows x features)."""
        layout = self.transformer_.layout_
        cell_feature = self.model_.cell_feature
        d = X.shape[1]
        j_numeric = 0
        for span in layout:
            rows = reveal[:, int(cell_feature[span.start])]
            if span.kind == "numeric":
                lv = out[:, d + j_numeric].clamp(*LOG_VAR_RANGE)
                j_numeric += 1
            if not rows.any():
                continue
            block = out[rows, span.start : span.end]
            if span.kind == "onehot":
                pick = torch.multinomial(torch.softmax(block, dim=1), 1, generator=g).squeeze(1)
                X[rows, span.start : span.end] = F.one_hot(pick, span.width).to(X.dtype)
            elif span.kind in ("binary", "missing"):
                u = torch.rand(int(rows.sum()), generator=g)
                X[rows, span.start] = (u < torch.sigmoid(block[:, 0])).to(X.dtype)
            else:
                noise = torch.randn(int(rows.sum()), generator=g)
                value = block[:, 0] + torch.exp(0.5 * lv[rows]) * noise
                X[rows, span.start] = value.clamp(0.0, 1.0) if self._bounded(span.column) else value

    def _bounded(self, column: str) -> bool:
        return self.transformer_.scalers_[column].method in ("minmax", "boxcox")

    def _complete(self, X: torch.Tensor, hidden: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Iterative unmasking: reveal ``features_per_step`` hidden features per row per step, in random order."""
        X = X.clone()
        hidden = hidden.clone()
        if self.hide_input:
            X[hidden[:, self.model_.cell_feature]] = 0.0  # nothing of a hidden cell survives
        keys = torch.rand(hidden.shape, generator=g).masked_fill(~hidden, float("inf"))
        rank = keys.argsort(dim=1).argsort(dim=1)  # a row's hidden features come first, shuffled
        k = int(self.features_per_step)
        n_steps = -(-int(hidden.sum(dim=1).max()) // k) if hidden.any() else 0
        with torch.no_grad():
            for s in range(n_steps):
                out, _ = self.model_(X, ~hidden)
                reveal = hidden & (rank >= s * k) & (rank < (s + 1) * k)
                self._draw_features(out, X, reveal, g)
                hidden = hidden & ~reveal
        return X

    def _feature_columns(self, feature: str) -> list[str]:
        groups = self.metadata_.one_hot_groups
        return list(groups[feature]) if feature in groups else [feature]

    def _decode(self, X: torch.Tensor) -> pd.DataFrame:
        return self.transformer_.inverse_transform(X.numpy())

    def _condition_cells(self, n: int, conditions: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded rows holding the conditioned values, and the hidden mask with them visible."""
        dummy = self.transformer_.inverse_transform(np.zeros((1, self.transformer_.output_dim_)))
        for col, value in conditions.items():
            group = self.metadata_[col].group
            if group is not None and value != 1:
                raise ValueError(f"condition {col!r}={value!r}: a one-hot group ({group!r}) is held by the "
                                 "member that is 1; condition on that member instead")
            if group is not None:
                dummy[list(self.metadata_.one_hot_groups[group])] = 0
            if self.metadata_[col].kind == "categorical":
                dummy[col] = pd.Categorical([value], categories=self.metadata_[col].categories)
            else:
                dummy[col] = value
        row = self.transformer_.transform_tensor(dummy)
        X = row.repeat(n, 1)
        hidden = torch.ones((n, len(self.features_)), dtype=torch.bool)
        for col in conditions:
            feature = self.metadata_[col].group or col
            hidden[:, self.features_.index(feature)] = False
        return X, hidden

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        g = make_generator(torch_seed(rng))
        if conditions:
            X, hidden = self._condition_cells(n, conditions)
        else:
            X = torch.zeros((n, self.transformer_.output_dim_))
            hidden = torch.ones((n, len(self.features_)), dtype=torch.bool)
        return self._decode(self._complete(X, hidden, g))

    def regenerate(self, df: pd.DataFrame, mask_ratio: float = 0.25, keep: Sequence[str] = (),
                   random_state: int | np.random.Generator | None = None,
                   return_mask: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """Partial synthesis: hide ``mask_ratio`` of each row's features and draw them again.

        Each row hides ``round(mask_ratio * n)`` of its ``n`` eligible features (at least
        one when ``mask_ratio > 0``), chosen at random; features in ``keep`` stay as they
        are. The hidden ones are generated by iterative unmasking given the visible
        ones. ``mask_ratio=1`` with no ``keep`` is full synthesis seeded by nothing of the
        row. With ``return_mask=True`` also returns the bool mask (True = regenerated).
        """
        self._check_fitted()
        if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, int | float) or not 0 <= mask_ratio <= 1:
            raise ValueError(f"mask_ratio must be a share between 0 and 1, got {mask_ratio!r}")
        keep = list(keep)
        unknown = [c for c in keep if c not in self.features_]
        if unknown:
            raise ValueError(f"keep names unknown feature(s) {unknown}; features are {self.features_}")
        from ..config import check_random_state

        rng = self._rng if random_state is None else check_random_state(random_state)
        X = self._encode(df)
        n, n_f = len(X), len(self.features_)
        eligible = np.array([f not in keep for f in self.features_])
        m = int(round(mask_ratio * eligible.sum()))
        if mask_ratio > 0:
            m = max(m, 1)
        keys = rng.random((n, n_f))
        keys[:, ~eligible] = np.inf
        hidden_np = keys.argsort(axis=1).argsort(axis=1) < m
        hidden_np &= eligible[None, :]
        g = make_generator(torch_seed(rng))
        decoded = self._decode(self._complete(X, torch.as_tensor(hidden_np), g))
        # visible cells are copied from the input, not decoded (no float32 round trip)
        out = df[self.columns_].reset_index(drop=True).copy()
        for j, feature in enumerate(self.features_):
            rows = hidden_np[:, j]
            for col in self._feature_columns(feature):
                out.loc[rows, col] = decoded.loc[rows, col]
        out.index = df.index
        if return_mask:
            return out, pd.DataFrame(hidden_np, columns=self.features_, index=df.index)
        return out
