"""Checks of lesson 06, variational autoencoders (``solutions/06_vae.ipynb``).

The learner writes three small functions. Each check builds random inputs from a seed
(trusted code), the export calls the learner's function on them where it lives and
records what came out (values, and for ``reparameterize`` the gradients that reach
its inputs); the verdict compares that with the formula, within a float tolerance.
Nothing here depends on a trained network.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from . import CheckFailed, register, require_callable

_TOL = 1e-4


def _as_array(value: Any, what: str) -> np.ndarray:
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be a tensor of numbers, found {type(value).__name__}") from None


def _inputs(seed: int = 6):
    import torch

    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(5, 3, generator=g)
    log_var = torch.randn(5, 3, generator=g) * 0.8
    eps = torch.randn(5, 3, generator=g)
    return mu, log_var, eps


def _reparam_inputs(seed: int | None):
    return _inputs(6 if seed is None else seed)


def _reparam_export(func: Any, inputs) -> dict[str, Any]:
    import torch

    require_callable(func, "reparameterize")
    mu, log_var, eps = (t.detach().clone() for t in inputs)
    mu.requires_grad_(True)
    log_var.requires_grad_(True)
    z = func(mu, log_var, eps)
    out = {"z": z, "tensor": isinstance(z, torch.Tensor),
           "requires_grad": bool(isinstance(z, torch.Tensor) and z.requires_grad),
           "mu_grad": None, "log_var_grad": None}
    if out["requires_grad"]:
        z.sum().backward()
        out["mu_grad"], out["log_var_grad"] = mu.grad, log_var.grad
    return out


@register("06.reparameterize", target="reparameterize", points=1, inputs=_reparam_inputs,
          export=_reparam_export,
          hint="z = mu + sigma * eps, and sigma = exp(0.5 * log_var): the log-variance is "
               "the log of sigma squared. Use torch operations so gradients reach mu and log_var.")
def reparameterize_check(observed: dict[str, Any], inputs) -> None:
    """``reparameterize(mu, log_var, eps)`` must return ``mu + exp(0.5 * log_var) * eps``, differentiably."""
    import torch

    mu, log_var, eps = inputs
    got = _as_array(observed["z"], "the returned z")
    expected = (mu + torch.exp(0.5 * log_var) * eps).detach().numpy()
    if got.shape != expected.shape:
        raise CheckFailed(f"z should have the shape of mu, {expected.shape}; found {got.shape}")
    if np.allclose(got, (mu + torch.exp(log_var) * eps).detach().numpy(), atol=_TOL):
        raise CheckFailed("z uses exp(log_var), the variance; the noise must be scaled by the "
                          "standard deviation exp(0.5 * log_var)")
    if not np.allclose(got, expected, atol=_TOL):
        err = float(np.abs(got - expected).max())
        raise CheckFailed(f"z differs from mu + exp(0.5 * log_var) * eps by up to {err:.3g}")
    if not (observed["tensor"] and observed["requires_grad"]):
        raise CheckFailed("z has the right values but no gradient reaches mu and log_var: "
                          "compute it with torch operations (no .numpy(), no torch.no_grad())")
    mu_grad, lv_grad = observed["mu_grad"], observed["log_var_grad"]
    if mu_grad is None or lv_grad is None or not np.any(_as_array(lv_grad, "the gradient") != 0):
        raise CheckFailed("gradients do not reach both mu and log_var through z")


@lru_cache(maxsize=1)
def _layout():
    from ..data import load_whas500
    from ..transform import TabularTransformer

    df = load_whas500().copy()
    df["bmi"] = df["bmi"].where(np.arange(len(df)) % 7 != 0)  # a missing indicator too
    return TabularTransformer().fit(df).layout_


def _blocks_inputs(seed: int | None):
    import torch

    layout = _layout()
    width = layout[-1].end
    g = torch.Generator().manual_seed(60 if seed is None else seed)
    return torch.randn(6, width, generator=g) * 2, list(layout)


def _blocks_export(func: Any, inputs) -> Any:
    require_callable(func, "softmax_blocks")
    logits, layout = inputs
    return func(logits.clone(), list(layout))


@register("06.softmax_blocks", target="softmax_blocks", points=1, inputs=_blocks_inputs, export=_blocks_export,
          hint="Loop over the layout: torch.softmax(block, dim=1) for each one-hot span, "
               "torch.sigmoid for binary and missing spans, numeric spans unchanged; then "
               "torch.cat the pieces along dim=1.")
def softmax_blocks_check(observed: Any, inputs) -> None:
    """``softmax_blocks(logits, layout)``: softmax per one-hot block, sigmoid for indicators."""
    logits, layout = inputs
    got = _as_array(observed, "the returned matrix")
    if got.shape != tuple(logits.shape):
        raise CheckFailed(f"the output should keep the shape of the logits, {tuple(logits.shape)}; found {got.shape}")
    x = logits.numpy()
    for span in layout:
        block, raw = got[:, span.start:span.end], x[:, span.start:span.end]
        if span.kind == "onehot":
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            expected = e / e.sum(axis=1, keepdims=True)
            if not np.allclose(block.sum(axis=1), 1.0, atol=_TOL):
                raise CheckFailed(f"the one-hot block {span.column!r} does not sum to 1 in each row: "
                                  "apply the softmax per block and along each row (dim=1)")
            if not np.allclose(block, expected, atol=_TOL):
                raise CheckFailed(f"the one-hot block {span.column!r} is not the softmax of its logits")
        elif span.kind in ("binary", "missing"):
            if not np.allclose(block, 1.0 / (1.0 + np.exp(-raw)), atol=_TOL):
                raise CheckFailed(f"the {span.kind} column {span.column!r} should go through a sigmoid "
                                  "(a probability between 0 and 1)")
        elif not np.allclose(block, raw, atol=_TOL):
            raise CheckFailed(f"the numeric column {span.column!r} should be passed through unchanged "
                              "(it is a normal score, not a probability)")


def _kl_inputs(seed: int | None):
    mu, log_var, _ = _inputs(7 if seed is None else seed)
    return mu, log_var


def _kl_export(func: Any, inputs) -> dict[str, Any]:
    import torch

    require_callable(func, "kl_term")
    mu, log_var = inputs
    return {"value": func(mu.clone(), log_var.clone()), "zero": func(torch.zeros(4, 3), torch.zeros(4, 3))}


@register("06.kl_term", target="kl_term", points=1, inputs=_kl_inputs, export=_kl_export,
          hint="Per row: 0.5 * sum over latent dimensions of (mu**2 + exp(log_var) - 1 - log_var); "
               "then the mean over rows.")
def kl_term_check(observed: dict[str, Any], inputs) -> None:
    """``kl_term(mu, log_var)``: KL to the standard normal, summed over dimensions, averaged over rows."""
    mu, log_var = inputs
    per_row = 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(dim=1)
    expected = float(per_row.mean())
    value = _as_array(observed["value"], "the KL term")
    if value.size != 1:
        raise CheckFailed(f"the KL term should be one number (a scalar), found shape {value.shape}")
    got = float(value.reshape(-1)[0])
    zero = _as_array(observed["zero"], "the KL term")
    if zero.size != 1 or abs(float(zero.reshape(-1)[0])) > _TOL:
        raise CheckFailed("the KL term should be 0 when every mu is 0 and every log_var is 0 "
                          "(the code distribution is then the standard normal itself)")
    if math.isclose(got, 2 * expected, rel_tol=1e-4):
        raise CheckFailed("the value is twice the KL divergence: the formula has a factor 0.5")
    if math.isclose(got, expected / mu.shape[1], rel_tol=1e-4):
        raise CheckFailed("sum over the latent dimensions, then average over rows (you averaged "
                          "over the dimensions too)")
    if math.isclose(got, expected * mu.shape[0], rel_tol=1e-4):
        raise CheckFailed("average over rows rather than summing them, so the term does not grow "
                          "with the batch size")
    if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=_TOL):
        raise CheckFailed(f"expected {expected:.4f} on the check's inputs, found {got:.4f}")
