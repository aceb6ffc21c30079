"""Generators that the shared contract tests (test_generator_contract.py) exercise.

Add one ``ContractEntry`` per generator. ``factory(random_state)`` returns an unfitted
generator set up to train fast (few epochs, small layers); the contract tests fit it on
small tables and check everything DESIGN.md promises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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
    from course_utils.generators import IndependentMarginals

    return IndependentMarginals(random_state=seed)


ENTRIES: list[ContractEntry] = [
    ContractEntry("IndependentMarginals", _independent, supports_conditions=True),
    ContractEntry("NoisyCopies", lambda seed: __import__("course_utils.generators", fromlist=["x"]).NoisyCopies(noise=0.05, flip=0.1, random_state=seed)),
    ContractEntry("CARTSynthesizer", lambda seed: __import__("course_utils.generators.cart", fromlist=["x"]).CARTSynthesizer(random_state=seed), supports_conditions=True),
    ContractEntry("GaussianCopula", lambda seed: __import__("course_utils.generators.copula", fromlist=["x"]).GaussianCopula(random_state=seed)),
    ContractEntry(
        "SMOTESynthesizer",
        lambda seed, target: __import__("course_utils.generators.smote", fromlist=["x"]).SMOTESynthesizer(
            target=target, variant="smotenc", random_state=seed
        ),
        handles_missing=False,
        target="status",
    ),
    ContractEntry(
        "VAESynthesizer",
        lambda seed: __import__("course_utils.generators.vae", fromlist=["x"]).VAESynthesizer(
            epochs=3, hidden=(16,), latent_dim=3, random_state=seed, verbose=False
        ),
        supports_conditions=True,
    ),
    ContractEntry(
        "GANSynthesizer",
        lambda seed: __import__("course_utils.generators.gan", fromlist=["x"]).GANSynthesizer(
            epochs=30, batch_size=40, latent_dim=8, generator_dim=(16,), discriminator_dim=(16,),
            generator_lr=1e-3,
            random_state=seed, verbose=False
        ),
        supports_conditions=True,
    ),
]
