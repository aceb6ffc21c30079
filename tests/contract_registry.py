"""Generators that the shared contract tests (test_generator_contract.py) exercise.

The list comes from the one generator registry (``course_utils.generators.registry``):
every registered generator is tested at its ``fast_params`` settings, so a new
generator joins the contract suite by being registered, with no edit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from course_utils.generators import GeneratorEntry, registry


@dataclass
class ContractEntry:
    name: str
    factory: Callable[..., Any]
    supports_conditions: bool = False
    handles_missing: bool = True
    # a generator that needs an outcome column (e.g. SMOTE) names the veterans table's
    # one here ("status"); its factory is then called as factory(seed, target) and the
    # tests pass "Clotbuster given" for the stroke table
    target: str | None = None
    # False: save() must refuse with NotImplementedError (the file format cannot hold the model)
    saves: bool = True


def contract_entry(entry: GeneratorEntry) -> ContractEntry:
    """The contract-suite view of a registry entry (fast settings)."""
    if entry.target is None:
        def factory(seed: int) -> Any:
            return entry.make(seed, fast=True)
    else:
        def factory(seed: int, target: str) -> Any:
            return entry.make(seed, fast=True, target=target)
    return ContractEntry(entry.name, factory, entry.supports_conditions, entry.handles_missing,
                         "status" if entry.target is not None else None, entry.saves)


def entries() -> list[ContractEntry]:
    """Every registered generator, read at call time."""
    return [contract_entry(e) for e in registry()]


ENTRIES: list[ContractEntry] = entries()
