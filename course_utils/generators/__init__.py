"""Generators of synthetic tables, all on one contract (see :mod:`.base`).

The list of generators lives in one place, :mod:`.registry`:
``registry()`` gives each one's name, family, lesson and settings, and
``pd.DataFrame(registry_table())`` shows them as a table. Every registered class
is importable from here (``from course_utils.generators import CARTSynthesizer``);
the torch-based ones are imported on first use, so the classical lessons do not
pay for loading torch. :class:`~.guarded.GuardedSynthesizer` puts the closeness guard
around any of them.
"""

from __future__ import annotations

from typing import Any

from .base import Synthesizer, check_table, repair_frame
from .baselines import IndependentMarginals, NoisyCopies
from .cart import CARTSynthesizer
from .copula import GaussianCopula
from .guarded import GuardedSynthesizer
from .registry import GeneratorEntry, get_generator, register_generator, registry, registry_table
from .smote import SMOTESynthesizer


def __getattr__(name: str) -> Any:
    try:
        return get_generator(name).load()
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


__all__ = [
    "Synthesizer", "IndependentMarginals", "NoisyCopies", "GaussianCopula", "SMOTESynthesizer",
    "CARTSynthesizer", "GuardedSynthesizer", "VAESynthesizer", "GANSynthesizer", "check_table", "repair_frame",
    "GeneratorEntry", "get_generator", "register_generator", "registry", "registry_table",
]
