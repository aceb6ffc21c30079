"""Right answers and plausible wrong answers for the checks of lesson 07 (GAN)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch


# -- 07.critic_loss ----------------------------------------------------------------------
def _critic_loss(interp="right", norm="right", sign=1.0, use_weight=True):
    def critic_loss_gp(critic, real, fake, eps, gp_weight=10.0):
        if interp == "right":
            x_hat = eps * real + (1 - eps) * fake
        elif interp == "swapped":
            x_hat = (1 - eps) * real + eps * fake
        else:  # penalty on the real rows only
            x_hat = real.clone()
        x_hat = x_hat.requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        if norm == "right":
            gp = ((grad.norm(2, dim=1) - 1) ** 2).mean()
        elif norm == "squared":
            gp = (grad.pow(2).sum(dim=1) - 1).pow(2).mean()
        else:  # one norm over the whole batch
            gp = (grad.norm(2) - 1) ** 2
        w = sign * (critic(fake).mean() - critic(real).mean())
        return w + (gp_weight if use_weight else 10.0) * gp

    return critic_loss_gp


# -- 07.condition_vector -----------------------------------------------------------------
def _sample_conditions(weights="log", rows_mode="match"):
    def sample_conditions(column, n, random_state=0):
        rng = np.random.default_rng(random_state)
        values = np.asarray(column)
        levels, counts = np.unique(values, return_counts=True)
        if weights == "log":
            p = np.log1p(counts) / np.log1p(counts).sum()
        elif weights == "uniform":
            p = np.full(len(levels), 1 / len(levels))
        else:  # training frequencies: the rare level stays rare
            p = counts / counts.sum()
        drawn = rng.choice(len(levels), size=n, p=p)
        cond = np.eye(len(levels))[drawn]
        if rows_mode == "match":
            rows = np.empty(n, dtype=int)
            for k in range(len(levels)):
                members = np.flatnonzero(values == levels[k])
                idx = drawn == k
                rows[idx] = members[rng.integers(0, len(members), idx.sum())]
        elif rows_mode == "first":  # always the same row of each level
            firsts = np.array([np.flatnonzero(values == lv)[0] for lv in levels])
            rows = firsts[drawn]
        else:  # rows drawn independently of the condition
            rows = rng.integers(0, len(values), n)
        return cond, rows

    return sample_conditions


def _index_not_onehot(column, n, random_state=0):
    cond, rows = _sample_conditions()(column, n, random_state)
    return cond.argmax(axis=1)[:, None].astype(float), rows


# -- 07.collapsed_columns ----------------------------------------------------------------
def _collapsed(numeric=True, discrete=True, ratio=0.5, use="std", min_share=0.02):
    def collapsed_columns(real, synth):
        out = []
        for col in real.columns:
            r = real[col]
            is_num = (pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)
                      and r.nunique() > 2)
            if is_num:
                if not numeric:
                    continue
                if use == "std":
                    bad = synth[col].std() < ratio * r.std()
                elif use == "var":
                    bad = synth[col].var() < ratio * r.var()
                else:  # compares means, which a collapse need not move
                    bad = abs(synth[col].mean() - r.mean()) > ratio * r.std()
                if bad:
                    out.append(col)
            elif discrete:
                share = r.astype(str).value_counts(normalize=True)
                present = set(synth[col].astype(str))
                if any(level not in present for level in share[share >= min_share].index):
                    out.append(col)
        return sorted(out)

    return collapsed_columns


RIGHT: dict[str, Callable[[], object]] = {
    "07.critic_loss": lambda: _critic_loss(),
    "07.condition_vector": lambda: _sample_conditions(),
    "07.collapsed_columns": lambda: _collapsed(),
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "07.critic_loss": [
        lambda: _critic_loss(sign=-1.0),
        lambda: _critic_loss(interp="swapped"),
        lambda: _critic_loss(interp="real"),
        lambda: _critic_loss(norm="squared"),
        lambda: _critic_loss(norm="batch"),
        lambda: _critic_loss(use_weight=False),
    ],
    "07.condition_vector": [
        lambda: _sample_conditions(weights="uniform"),
        lambda: _sample_conditions(weights="frequency"),
        lambda: _sample_conditions(rows_mode="first"),
        lambda: _sample_conditions(rows_mode="random"),
        lambda: _index_not_onehot,
    ],
    "07.collapsed_columns": [
        lambda: _collapsed(numeric=False),
        lambda: _collapsed(discrete=False),
        lambda: _collapsed(use="var"),
        lambda: _collapsed(use="mean"),
        lambda: _collapsed(min_share=0.0),
    ],
}
