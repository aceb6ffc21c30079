"""Generators of synthetic tables, all on one contract (see :mod:`.base`)."""

from .base import Synthesizer, check_table, repair_frame
from .baselines import IndependentMarginals
from .baselines import NoisyCopies as NoisyCopies
from .cart import CARTSynthesizer as CARTSynthesizer
from .copula import GaussianCopula as GaussianCopula
from .gan import GANSynthesizer as GANSynthesizer
from .smote import SMOTESynthesizer as SMOTESynthesizer
from .vae import VAESynthesizer as VAESynthesizer

__all__ = ["Synthesizer", "IndependentMarginals", "check_table", "repair_frame"]
