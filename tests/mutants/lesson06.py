"""Right answers and plausible wrong answers for the checks of lesson 06 (VAE)."""

from __future__ import annotations

from collections.abc import Callable

import torch


# -- 06.reparameterize -------------------------------------------------------------------
def _reparam_right(mu, log_var, eps):
    return mu + torch.exp(0.5 * log_var) * eps


def _reparam_variance(mu, log_var, eps):
    return mu + torch.exp(log_var) * eps  # scales by the variance, not the sd


def _reparam_log_var(mu, log_var, eps):
    return mu + log_var * eps  # forgets the exponential


def _reparam_no_noise(mu, log_var, eps):
    return mu + eps  # ignores the spread


def _reparam_detached(mu, log_var, eps):
    with torch.no_grad():
        return mu + torch.exp(0.5 * log_var) * eps  # right numbers, no gradient


# -- 06.softmax_blocks ------------------------------------------------------------------
def _blocks(kind_fn):
    def softmax_blocks(logits, layout):
        parts = []
        for span in layout:
            parts.append(kind_fn(logits[:, span.start:span.end], span.kind))
        return torch.cat(parts, dim=1)

    return softmax_blocks


def _right_kind(block, kind):
    if kind == "onehot":
        return torch.softmax(block, dim=1)
    if kind in ("binary", "missing"):
        return torch.sigmoid(block)
    return block


def _softmax_whole_row(logits, layout):
    return torch.softmax(logits, dim=1)


def _softmax_dim0(block, kind):
    return torch.softmax(block, dim=0) if kind == "onehot" else _right_kind(block, kind)


def _binary_raw(block, kind):
    return torch.softmax(block, dim=1) if kind == "onehot" else block


def _sigmoid_numeric(block, kind):
    return torch.sigmoid(block) if kind == "numeric" else _right_kind(block, kind)


def _missing_forgotten(block, kind):
    return block if kind == "missing" else _right_kind(block, kind)


# -- 06.kl_term ---------------------------------------------------------------------------
def _kl_right(mu, log_var):
    return (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).sum(dim=1).mean()


def _kl_no_half(mu, log_var):
    return (mu**2 + log_var.exp() - 1 - log_var).sum(dim=1).mean()


def _kl_mean_all(mu, log_var):
    return (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).mean()


def _kl_sum_all(mu, log_var):
    return (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).sum()


def _kl_sign(mu, log_var):
    return (0.5 * (mu**2 + log_var.exp() - 1 + log_var)).sum(dim=1).mean()


def _kl_per_row(mu, log_var):
    return (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).sum(dim=1)  # not reduced to a number


RIGHT: dict[str, Callable[[], object]] = {
    "06.reparameterize": lambda: _reparam_right,
    "06.softmax_blocks": lambda: _blocks(_right_kind),
    "06.kl_term": lambda: _kl_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "06.reparameterize": [
        lambda: _reparam_variance,
        lambda: _reparam_log_var,
        lambda: _reparam_no_noise,
        lambda: _reparam_detached,
    ],
    "06.softmax_blocks": [
        lambda: _softmax_whole_row,
        lambda: _blocks(_softmax_dim0),
        lambda: _blocks(_binary_raw),
        lambda: _blocks(_sigmoid_numeric),
        lambda: _blocks(_missing_forgotten),
    ],
    "06.kl_term": [
        lambda: _kl_no_half,
        lambda: _kl_mean_all,
        lambda: _kl_sum_all,
        lambda: _kl_sign,
        lambda: _kl_per_row,
    ],
}
