"""Generators of synthetic tables, all on one contract (see :mod:`.base`)."""

from .base import Synthesizer, check_table, repair_frame
from .baselines import IndependentMarginals

__all__ = ["Synthesizer", "IndependentMarginals", "check_table", "repair_frame"]
