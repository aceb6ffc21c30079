"""Checks of lesson 07, generative adversarial networks (``solutions/07_gan.ipynb``).

The learner writes three small functions: the WGAN-GP critic loss, the condition
vectors of training-by-sampling, and a detector of collapsed columns. Each check builds
its inputs in trusted code (random parts from a seed), the export calls the learner's
function on them and records the outputs, and the verdict compares them with the
formula (float tolerance) or with facts that hold on every platform (shapes, counts,
sets of column names); nothing here depends on a trained network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import CheckFailed, register, require_callable

_TOL = 1e-4


# -- 07.critic_loss ----------------------------------------------------------------------
def _critic_weights(seed: int | None) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(7 if seed is None else seed)
    real = torch.randn(12, 3, generator=g) + 1.0
    fake = torch.randn(12, 3, generator=g)
    eps = torch.rand(12, 1, generator=g)
    w1 = torch.randn(3, 8, generator=g)
    w2 = torch.randn(8, 1, generator=g)
    return {"real": real, "fake": fake, "eps": eps, "w1": w1, "w2": w2}


def _critic(inputs: dict[str, Any]):
    import torch

    w1, w2 = inputs["w1"].detach(), inputs["w2"].detach()

    def critic(x):  # a fixed small non-linear critic: its gradient depends on x
        return torch.tanh(x @ w1) @ w2

    return critic


GP_WEIGHTS = (0.0, 10.0, 2.5)


def _critic_export(func: Any, inputs: dict[str, Any]) -> list[Any]:
    require_callable(func, "critic_loss_gp")
    critic = _critic(inputs)
    return [func(critic, inputs["real"].clone(), inputs["fake"].clone(), inputs["eps"].clone(), weight)
            for weight in GP_WEIGHTS]


def _reference_critic_loss(critic, real, fake, eps, gp_weight: float) -> float:
    import torch

    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    gp = ((grad.norm(2, dim=1) - 1) ** 2).mean()
    return float(critic(fake).mean() - critic(real).mean() + gp_weight * gp)


def _as_float(value: Any) -> float:
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"the loss should be a number (a scalar tensor), found {type(value).__name__}") from None
    if arr.size != 1:
        raise CheckFailed(f"the loss should be one number (a scalar), found shape {arr.shape}")
    return float(arr.reshape(()))


@register("07.critic_loss", target="critic_loss_gp", points=1, inputs=_critic_weights, export=_critic_export,
          hint="loss = mean(D(fake)) - mean(D(real)) + gp_weight * mean((||grad D(x_hat)|| - 1)^2), "
               "with x_hat = eps * real + (1 - eps) * fake, one gradient norm per row "
               "(torch.autograd.grad with create_graph=True, then .norm(2, dim=1)).")
def critic_loss_check(observed: list[Any], inputs: dict[str, Any]) -> None:
    """``critic_loss_gp(critic, real, fake, eps, gp_weight)`` must give the WGAN-GP critic loss."""
    critic, real, fake, eps = _critic(inputs), inputs["real"], inputs["fake"], inputs["eps"]
    plain = _as_float(observed[0])
    expected_plain = _reference_critic_loss(critic, real, fake, eps, 0.0)
    if abs(plain + expected_plain) < _TOL and abs(expected_plain) > 0.01:
        raise CheckFailed("the sign is reversed: the critic minimises mean(D(fake)) - mean(D(real)) "
                          "(it wants real rows to score high)")
    if abs(plain - expected_plain) > _TOL:
        raise CheckFailed(f"with gp_weight=0 the loss should be mean(D(fake)) - mean(D(real)) = "
                          f"{expected_plain:.4f}; found {plain:.4f}")
    for weight, value in zip(GP_WEIGHTS[1:], observed[1:], strict=True):
        got = _as_float(value)
        expected = _reference_critic_loss(critic, real, fake, eps, weight)
        if abs(got - expected) > _TOL * max(1.0, abs(expected)):
            raise CheckFailed(f"with gp_weight={weight} expected {expected:.4f}, found {got:.4f}: "
                              "check the interpolates, the per-row gradient norm and the (norm - 1)^2")


# -- 07.condition_vector ------------------------------------------------------------------
def _whas_columns() -> dict[str, pd.Series]:
    from ..data import load_whas500

    df = load_whas500()
    return {"sho": df["sho"], "miord": df["miord"].astype(str)}


_DRAWS = 20_000


def _condition_inputs(seed: int | None) -> dict[str, Any]:
    return {"columns": _whas_columns(), "n": _DRAWS, "random_state": 0 if seed is None else int(seed)}


def _condition_export(func: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    require_callable(func, "sample_conditions")
    return {name: func(column.copy(), inputs["n"], inputs["random_state"])
            for name, column in inputs["columns"].items()}


@register("07.condition_vector", target="sample_conditions", points=1, inputs=_condition_inputs,
          export=_condition_export,
          hint="Draw each level with probability log(1 + count) / sum(log(1 + counts)); the "
               "condition vector is the one-hot of the drawn level (levels in np.unique order); "
               "then pick, for each draw, a random row that has that level.")
def condition_vector_check(observed: dict[str, Any], inputs: dict[str, Any]) -> None:
    """``sample_conditions(column, n, random_state)`` -> ``(cond, rows)`` of training-by-sampling."""
    n = inputs["n"]
    for name, column in _whas_columns().items():
        out = observed.get(name) if isinstance(observed, dict) else None
        if not isinstance(out, tuple) or len(out) != 2:
            raise CheckFailed(f"expected a tuple (cond, rows), found {type(out).__name__}")
        cond, rows = np.asarray(out[0], dtype=float), np.asarray(out[1])
        levels, counts = np.unique(column.to_numpy(), return_counts=True)
        if cond.shape != (n, len(levels)):
            raise CheckFailed(f"{name}: cond should have shape ({n}, {len(levels)}) (one column per "
                              f"level), found {cond.shape}")
        if not (np.isin(cond, (0.0, 1.0)).all() and (cond.sum(axis=1) == 1).all()):
            raise CheckFailed(f"{name}: every row of cond must be one-hot (a single 1)")
        if rows.shape != (n,) or not np.issubdtype(rows.dtype, np.integer):
            raise CheckFailed(f"{name}: rows should be {n} integer row positions, found shape {rows.shape}")
        if rows.min() < 0 or rows.max() >= len(column):
            raise CheckFailed(f"{name}: row positions must lie in 0..{len(column) - 1}")
        drawn = levels[cond.argmax(axis=1)]
        if not (column.to_numpy()[rows] == drawn).all():
            raise CheckFailed(f"{name}: the real rows picked do not all have the level of their "
                              "condition vector")
        expected = np.log1p(counts) / np.log1p(counts).sum()
        share = cond.mean(axis=0)
        if np.abs(share - expected).max() > 0.015:
            raise CheckFailed(f"{name}: levels drawn with shares {np.round(share, 3).tolist()}; "
                              f"log-frequency gives {np.round(expected, 3).tolist()}")
        rare = int(np.argmin(counts))
        members = np.flatnonzero(column.to_numpy() == levels[rare])
        seen = np.isin(members, rows).mean()
        if seen < 0.9:
            raise CheckFailed(f"{name}: only {seen:.0%} of the rows with the rare level were ever "
                              "picked; pick uniformly among all rows of the drawn level")


# -- 07.collapsed_columns -------------------------------------------------------------------
def _collapse_cases() -> list[tuple[pd.DataFrame, pd.DataFrame, set[str]]]:
    from ..data import load_whas500

    real = load_whas500()
    rng = np.random.default_rng(7)
    synth = real.sample(len(real), replace=True, random_state=7).reset_index(drop=True)
    collapsed = synth.copy()
    collapsed["sysbp"] = (0.2 * synth["sysbp"] + 0.8 * real["sysbp"].mean()).round().astype(int)
    collapsed["lenfol"] = (0.6 * synth["lenfol"] + 0.4 * real["lenfol"].mean()).round().astype(int)
    collapsed["bmi"] = 0.8 * synth["bmi"] + 0.2 * real["bmi"].mean()
    collapsed["sho"] = 0
    collapsed["mitype"] = pd.Categorical(["non Q-wave"] * len(synth), categories=real["mitype"].cat.categories)
    collapsed["afb"] = np.where(rng.random(len(synth)) < 0.5, 0, synth["afb"])  # halved, still there
    small_real = pd.DataFrame({"ward": ["a"] * 60 + ["b"] * 39 + ["rare"], "x": np.arange(100.0)})
    small_synth = pd.DataFrame({"ward": ["a"] * 50 + ["b"] * 50, "x": np.arange(100.0)[::-1] * 0.9})
    flat = synth.copy()
    flat["age"] = 70
    return [
        (real, collapsed, {"sysbp", "sho", "mitype"}),
        (real, synth, set()),
        (real, flat, {"age"}),
        (small_real, small_synth, set()),
    ]


def _collapse_inputs(seed: int | None) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    return [(real, synth) for real, synth, _ in _collapse_cases()]


def _collapse_export(func: Any, cases: list) -> list[Any]:
    require_callable(func, "collapsed_columns")
    out = []
    for real, synth in cases:
        got = func(real.copy(), synth.copy())
        try:  # a generator or a set of names travels as a list of text
            out.append(sorted(str(c) for c in got))
        except TypeError:
            out.append(got)
    return out


@register("07.collapsed_columns", target="collapsed_columns", points=1, inputs=_collapse_inputs,
          export=_collapse_export,
          hint="Numeric column (more than 2 distinct real values): collapsed when the synthetic "
               "standard deviation is below half the real one. Other columns: collapsed when a "
               "level with at least 2% of the real rows never appears in the synthetic rows.")
def collapsed_columns_check(observed: list[Any], cases: list) -> None:
    """``collapsed_columns(real, synth)`` must name exactly the collapsed columns."""
    for i, ((_, _, expected), got) in enumerate(zip(_collapse_cases(), observed, strict=True), start=1):
        try:
            got_set = {str(c) for c in got}
        except TypeError:
            raise CheckFailed(f"expected a list of column names, found {type(got).__name__}") from None
        if got_set != expected:
            missed, extra = sorted(expected - got_set), sorted(got_set - expected)
            parts = []
            if missed:
                parts.append(f"missed {missed}")
            if extra:
                parts.append(f"wrongly flagged {extra}")
            raise CheckFailed(f"case {i}: " + "; ".join(parts))
