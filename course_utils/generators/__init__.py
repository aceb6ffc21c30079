"""Generators of synthetic tables, all on one contract (see :mod:`.base`).

| generator | family | lesson |
|---|---|---|
| ``IndependentMarginals`` | baseline: each column on its own (lower bracket) | 01 |
| ``NoisyCopies`` | deliberately leaky: perturbed training rows | 04 |
| ``GaussianCopula`` | baseline: marginals + a Gaussian dependence | 03, 05 |
| ``SMOTESynthesizer`` | interpolation between neighbours of a class | 02 |
| ``CARTSynthesizer`` | sequential decision trees (synthpop-style) | 05 |
| ``VAESynthesizer`` | variational autoencoder (torch) | 06 |
| ``GANSynthesizer`` | conditional WGAN-GP (torch) | 07 |

The torch-based generators are imported on first use, so the classical lessons do
not pay for loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Synthesizer, check_table, repair_frame
from .baselines import IndependentMarginals, NoisyCopies
from .cart import CARTSynthesizer
from .copula import GaussianCopula
from .smote import SMOTESynthesizer

_LAZY = {"VAESynthesizer": ".vae", "GANSynthesizer": ".gan"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Synthesizer", "IndependentMarginals", "NoisyCopies", "GaussianCopula", "SMOTESynthesizer",
    "CARTSynthesizer", "VAESynthesizer", "GANSynthesizer", "check_table", "repair_frame",
]
