"""The network of masked clinical modelling: masks, attention filter over features, masked loss.

Used by :class:`~course_utils.generators.mcm.MCMSynthesizer` (lesson 08 writes the same
pieces in its own cells; a test checks that they agree):

- :func:`feature_of_cells`: which feature (table column or one-hot group) each encoded
  cell belongs to;
- :func:`random_hidden`: training masks, a share ``r ~ U(0, 1)`` of features hidden per row;
- :class:`MaskedFilterNet`: hidden cells zeroed, an attention filter that gives visible
  features a softmax weight and hidden ones none (a fully hidden row gets all-zero
  weights, not 0/0), then an MLP predicting every feature's distribution;
- :func:`masked_loss`: negative log-likelihood of the hidden features only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .neural import build_mlp, numeric_missing_mask

__all__ = ["LOG_VAR_RANGE", "MaskedFilterNet", "feature_of_cells", "masked_loss", "random_hidden"]

LOG_VAR_RANGE = (-9.0, 1.0)
"""Bounds of the predicted log-variance of numeric cells (keeps the likelihood finite)."""


def feature_of_cells(layout: Sequence[Any]) -> tuple[list[str], torch.Tensor]:
    """The features of a transformer ``layout_`` and, for each encoded cell, its feature's index.

    A feature is a table column (or a declared one-hot group); a nullable column's
    missing indicator belongs to its column, so hiding a feature hides both.
    """
    names: list[str] = []
    owner: list[int] = []
    for span in layout:
        if span.column not in names:
            names.append(span.column)
        owner += [names.index(span.column)] * span.width
    return names, torch.as_tensor(owner, dtype=torch.long)


def random_hidden(n_rows: int, n_features: int, generator: torch.Generator | None = None,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Training masks: each row hides each feature with its own probability ``r ~ U(0, 1)``.

    Drawing the share per row teaches the model every situation it meets later, from
    one hidden feature (partial synthesis) to all of them (the first step of full
    synthesis). At least one feature per row is hidden, so every row adds to the loss.
    Returns a bool tensor ``(n_rows, n_features)``, True = hidden.
    """
    ratio = torch.rand((n_rows, 1), generator=generator, device=device)
    hidden = torch.rand((n_rows, n_features), generator=generator, device=device) < ratio
    forced = torch.randint(0, n_features, (n_rows,), generator=generator, device=device)
    hidden[torch.arange(n_rows, device=device), forced] = True
    return hidden


class MaskedFilterNet(nn.Module):
    """Attention filter over features, then an MLP that predicts every feature's distribution.

    ``forward(x, visible)`` takes the encoded rows ``x`` ``(n, data_dim)`` and the 0/1
    visible indicators ``(n, n_features)``; returns ``(output, weights)``: ``output``
    has ``data_dim + n_numeric`` columns (a logit or mean per encoded cell, then one
    log-variance per numeric column) and ``weights`` the attention over features.
    """

    def __init__(self, cell_feature: torch.Tensor, n_numeric: int, hidden: Sequence[int],
                 dropout: float = 0.0, hide_input: bool = True):
        super().__init__()
        n_features = int(cell_feature.max()) + 1
        data_dim = len(cell_feature)
        self.register_buffer("cell_feature", cell_feature.clone())
        self.n_features = n_features
        self.hide_input = hide_input
        self.attention = nn.Linear(data_dim + n_features, n_features)
        self.mlp = build_mlp(data_dim + n_features, hidden, data_dim + n_numeric, dropout=dropout)

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        visible = visible.to(x.dtype)
        cell_visible = visible[:, self.cell_feature]
        # the fix of the original code's leak: hidden cells never enter the network
        x_in = x * cell_visible if self.hide_input else x
        scores = self.attention(torch.cat([x_in, visible], dim=1))
        # a finite fill keeps a fully hidden row's softmax defined; multiplying by
        # `visible` then gives hidden features exactly zero weight
        scores = scores.masked_fill(visible == 0, -1e9)
        weights = torch.softmax(scores, dim=1) * visible
        filtered = x_in * weights[:, self.cell_feature] * self.n_features
        return self.mlp(torch.cat([filtered, visible], dim=1)), weights

    @torch.no_grad()
    def init_output_bias(self, X: torch.Tensor, layout: Sequence[Any]) -> None:
        """Start at the training marginals: log-frequencies, log-odds, means and variances."""
        bias = self.mlp[-1].bias
        mean = X.mean(dim=0).clamp(1e-4, 1 - 1e-4)
        numeric = [s.start for s in layout if s.kind == "numeric"]
        for span in layout:
            if span.kind == "onehot":
                bias[span.start : span.end] = torch.log(mean[span.start : span.end])
            elif span.kind in ("binary", "missing"):
                bias[span.start] = torch.logit(mean[span.start])
            else:
                bias[span.start] = X[:, span.start].mean()
        for j, pos in enumerate(numeric):
            bias[X.shape[1] + j] = torch.log(X[:, pos].var().clamp_min(1e-4))


def masked_loss(output: torch.Tensor, x: torch.Tensor, hidden: torch.Tensor, layout: Sequence[Any],
                cell_feature: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative log-likelihood of the hidden features only, averaged over hidden features.

    One-hot blocks: cross-entropy; binary and missing indicators: binary cross-entropy;
    numbers: Gaussian negative log-likelihood with the predicted log-variance (a missing
    number's placeholder does not count). Visible features add nothing: the model is
    never rewarded for copying what it can see. Returns ``(loss, parts)`` with the
    per-kind means for the progress bar.
    """
    d = x.shape[1]
    hidden_f = hidden.to(x.dtype)
    terms: dict[str, torch.Tensor] = {}
    numeric = [s for s in layout if s.kind == "numeric"]
    present = numeric_missing_mask(x, layout)
    for span in layout:
        h = hidden_f[:, int(cell_feature[span.start])]
        if span.kind == "onehot":
            ce = -(x[:, span.slice] * F.log_softmax(output[:, span.slice], dim=1)).sum(dim=1)
            terms["onehot"] = terms.get("onehot", 0) + ce * h
        elif span.kind in ("binary", "missing"):
            bce = F.binary_cross_entropy_with_logits(output[:, span.start], x[:, span.start], reduction="none")
            terms[span.kind] = terms.get(span.kind, 0) + bce * h
    for j, span in enumerate(numeric):
        h = hidden_f[:, int(cell_feature[span.start])] * present[:, j]
        lv = output[:, d + j].clamp(*LOG_VAR_RANGE)
        nll = 0.5 * (lv + (x[:, span.start] - output[:, span.start]) ** 2 * torch.exp(-lv))
        terms["numeric"] = terms.get("numeric", 0) + nll * h
    n_hidden = hidden_f.sum().clamp_min(1.0)
    total = x.new_zeros(())
    parts: dict[str, float] = {}
    for kind, per_row in terms.items():
        value = per_row.sum() / n_hidden
        parts[kind] = float(value.detach())
        total = total + value
    parts["loss"] = float(total.detach())
    return total, parts
