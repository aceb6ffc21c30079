"""Generators that the shared contract tests (test_generator_contract.py) exercise.

Add one ``ContractEntry`` per generator. ``factory(random_state)`` returns an unfitted
generator set up to train fast (few epochs, small layers); the contract tests fit it on
small tables and check everything DESIGN.md promises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from course_utils import generators


@dataclass
class ContractEntry:
    name: str
    factory: Callable[[int], Any]
    supports_conditions: bool = False
    handles_missing: bool = True
    # a generator that needs an outcome column (e.g. SMOTE) names the veterans table's
    # one here ("status"); its factory is then called as factory(seed, target) and the
    # tests pass "Clotbuster given" for the stroke table
    target: str | None = None


def _independent(seed: int):
    return generators.IndependentMarginals(random_state=seed)


def _noisy_copies(seed: int):
    return generators.NoisyCopies(noise=0.05, flip=0.1, random_state=seed)


def _cart(seed: int):
    return generators.CARTSynthesizer(random_state=seed)


def _copula(seed: int):
    return generators.GaussianCopula(random_state=seed)


def _smote(seed: int, target: str):
    return generators.SMOTESynthesizer(target=target, variant="smotenc", random_state=seed)


def _vae(seed: int):
    return generators.VAESynthesizer(epochs=3, hidden=(16,), latent_dim=3, random_state=seed, verbose=False)


def _gan(seed: int):
    return generators.GANSynthesizer(
        epochs=30, batch_size=40, latent_dim=8, generator_dim=(16,), discriminator_dim=(16,),
        generator_lr=1e-3, random_state=seed, verbose=False,
    )


ENTRIES: list[ContractEntry] = [
    ContractEntry("IndependentMarginals", _independent, supports_conditions=True),
    ContractEntry("NoisyCopies", _noisy_copies),
    ContractEntry("CARTSynthesizer", _cart, supports_conditions=True),
    ContractEntry("GaussianCopula", _copula),
    ContractEntry("SMOTESynthesizer", _smote, handles_missing=False, target="status"),
    ContractEntry("VAESynthesizer", _vae, supports_conditions=True),
    ContractEntry("GANSynthesizer", _gan, supports_conditions=True),
]
