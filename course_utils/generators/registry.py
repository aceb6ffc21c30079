"""One registry of the course's generators: name, class, family, lesson and settings.

Every place that lists generators reads this registry: the package's lazy imports
(``course_utils.generators.X``), the contract tests, the benchmarks, the capstone's
comparison and the lesson tables. Adding a generator is one call to
:func:`register_generator` (the course's own are registered at the bottom of this
module); nothing else needs editing::

    from course_utils.generators import registry
    for entry in registry():
        gen = entry.make(random_state=0, fast=True)

``fast_params`` are the settings for tests and quick runs (few epochs, small layers);
``default_params`` are the course's recommended settings for a real run (the
benchmarks use them). ``target`` names the keyword through which a generator is told
the table's outcome column (SMOTE needs one), or ``None``; ``survival`` names the keyword
through which it may be told a survival table's ``(time, event)`` pair (CART draws the pair
from a survival tree), or ``None``. ``saves=False`` marks a
generator whose ``save`` refuses (SDV's, whose models only pickle can hold).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("baseline", "leaky reference", "interpolation", "trees", "deep", "masked",
            "language model", "differential privacy", "peer library")


@dataclass(frozen=True)
class GeneratorEntry:
    """What the course knows about one generator class.

    ``module`` is the import path of the module that defines the class (absolute, or
    relative to ``course_utils.generators`` when it starts with a dot); the class is
    called ``name`` unless ``class_name`` says otherwise (a display name such as
    ``SDV-CTGAN`` is no Python name).
    """

    name: str
    module: str
    family: str
    lesson: str
    description: str
    needs_torch: bool = False
    supports_conditions: bool = False
    handles_missing: bool = True
    target: str | None = None
    survival: str | None = None
    fast_params: Mapping[str, Any] = field(default_factory=dict)
    default_params: Mapping[str, Any] = field(default_factory=dict)
    in_benchmark: bool = True
    class_name: str | None = None
    saves: bool = True  # False: save() refuses (a model the data-only file format cannot hold)

    def load(self) -> type:
        """Import and return the generator class (torch is imported only here, on demand)."""
        package = __name__.rsplit(".", 1)[0] if self.module.startswith(".") else None
        return getattr(importlib.import_module(self.module, package), self.class_name or self.name)

    def make(self, random_state: int | None = 0, *, fast: bool = False,
             target: str | None = None, survival: tuple[str, str] | None = None, **overrides: Any) -> Any:
        """An unfitted generator at the registered settings (``fast=True``: test settings).

        ``target`` is passed through the entry's ``target`` keyword when it has one (and
        is then required); ``survival``, a table's ``(time, event)`` pair, through the
        entry's ``survival`` keyword when it has one (a generator without one ignores it);
        ``overrides`` win over the registered settings.
        """
        params = dict(self.fast_params if fast else self.default_params)
        if self.needs_torch:
            params.setdefault("verbose", False)
        if self.target is not None:
            if target is None:
                raise ValueError(f"{self.name} needs the table's outcome column: pass target=...")
            params[self.target] = target
        if self.survival is not None and survival is not None:
            params[self.survival] = tuple(survival)
        params.update(overrides)
        return self.load()(random_state=random_state, **params)


_REGISTRY: dict[str, GeneratorEntry] = {}


def register_generator(entry: GeneratorEntry, *, replace: bool = False) -> GeneratorEntry:
    """Add ``entry`` to the registry; a second entry of the same name needs ``replace=True``."""
    if not isinstance(entry, GeneratorEntry):
        raise TypeError(f"expected a GeneratorEntry, got {type(entry).__name__}")
    if entry.family not in FAMILIES:
        raise ValueError(f"generator {entry.name!r}: unknown family {entry.family!r}; "
                         f"use one of {FAMILIES}")
    if entry.name in _REGISTRY and not replace:
        raise ValueError(f"a generator called {entry.name!r} is registered already")
    _REGISTRY[entry.name] = entry
    return entry


def unregister_generator(name: str) -> None:
    """Remove a registered generator (tests use it to clean up after a toy entry)."""
    _REGISTRY.pop(name, None)


def registry(*, family: str | None = None, benchmark_only: bool = False) -> list[GeneratorEntry]:
    """The registered generators in registration order, optionally of one ``family``."""
    entries = list(_REGISTRY.values())
    if family is not None:
        entries = [e for e in entries if e.family == family]
    if benchmark_only:
        entries = [e for e in entries if e.in_benchmark]
    return entries


def get_generator(name: str) -> GeneratorEntry:
    """The entry called ``name``, or a KeyError listing the registered names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no generator called {name!r}; registered: {sorted(_REGISTRY)}") from None


def registry_table() -> list[dict[str, Any]]:
    """One plain dict per generator (for a lesson's table: ``pd.DataFrame(registry_table())``)."""
    return [{"generator": e.name, "family": e.family, "lesson": e.lesson,
             "conditions": e.supports_conditions, "missing values": e.handles_missing,
             "needs torch": e.needs_torch, "what it does": e.description} for e in registry()]


for _entry in (
    GeneratorEntry("IndependentMarginals", ".baselines", "baseline", "01",
                   "each column drawn on its own (the lower bracket)", supports_conditions=True),
    GeneratorEntry("NoisyCopies", ".baselines", "leaky reference", "04",
                   "training rows with a little noise: deliberately leaky",
                   fast_params={"noise": 0.05, "flip": 0.1}, in_benchmark=False),
    GeneratorEntry("GaussianCopula", ".copula", "baseline", "03",
                   "each column's marginal joined by a Gaussian dependence"),
    # the same class as a mixture: one copula per k-means group of patients (lesson 05, section 8);
    # kept out of the generator benchmark and lessons 03/05's tables, which compare the plain copula
    GeneratorEntry("GaussianCopulaMixture", ".copula", "baseline", "05",
                   "one Gaussian copula per k-means group of patients", class_name="GaussianCopula",
                   fast_params={"clusters": 2}, default_params={"clusters": "auto"}, in_benchmark=False),
    GeneratorEntry("SMOTESynthesizer", ".smote", "interpolation", "02",
                   "new rows between a row and a neighbour of the same class",
                   handles_missing=False, target="target",
                   fast_params={"variant": "smotenc"}, default_params={"variant": "smotenc"}),
    # the matching closeness guard (judged from the training rows only) spaces CART's rows from
    # the training patients as the patients are spaced from each other: DCR share near 0.5, no
    # copies, and (unlike a fixed factor) no drift to the edges of a small table
    GeneratorEntry("CARTSynthesizer", ".cart", "trees", "05",
                   "one decision tree per column, drawn column by column (synthpop-style)",
                   supports_conditions=True, fast_params={"closeness_guard": "match"},
                   default_params={"closeness_guard": "match"}, survival="survival"),
    GeneratorEntry("VAESynthesizer", ".vae", "deep", "06",
                   "variational autoencoder for mixed clinical columns", needs_torch=True,
                   supports_conditions=True,
                   fast_params={"epochs": 3, "hidden": (16,), "latent_dim": 3}),
    GeneratorEntry("GANSynthesizer", ".gan", "deep", "07",
                   "conditional WGAN-GP with a packed critic", needs_torch=True,
                   supports_conditions=True,
                   fast_params={"epochs": 30, "batch_size": 40, "latent_dim": 8,
                                "generator_dim": (16,), "discriminator_dim": (16,),
                                "generator_lr": 1e-3}),
    GeneratorEntry("MCMSynthesizer", ".mcm", "masked", "08",
                   "one network fills in any hidden cells of a row: partial or full synthesis",
                   needs_torch=True, supports_conditions=True,
                   fast_params={"epochs": 3, "hidden": (16,), "batch_size": 64}),
    GeneratorEntry("MICESynthesizer", ".mice", "masked", "08",
                   "chained regressions with posterior sampling regenerate hidden cells",
                   supports_conditions=True, handles_missing=False, fast_params={"max_iter": 3}),
    GeneratorEntry("MSTSynthesizer", ".mst", "differential privacy", "10",
                   "noisy one- and two-way marginals on a tree (MST), (epsilon, delta)-DP",
                   fast_params={"epsilon": 1.0, "delta": 1e-5, "bounds": "metadata"},
                   default_params={"epsilon": 1.0, "delta": 1e-6, "bounds": "metadata"}),
    GeneratorEntry("DPVAESynthesizer", ".dp_vae", "differential privacy", "10",
                   "VAE trained with DP-SGD (opacus), (epsilon, delta)-DP", needs_torch=True,
                   fast_params={"epsilon": 1.0, "delta": 1e-5, "bounds": "metadata", "epochs": 2,
                                "hidden": (16,), "latent_dim": 3},
                   default_params={"epsilon": 1.0, "delta": 1e-6, "bounds": "metadata"}),
    GeneratorEntry("LanguageModelSynthesizer", ".llm", "language model", "09",
                   "rows written as sentences, a small transformer that also reads which columns it has written (GReaT-style)",
                   needs_torch=True, supports_conditions=True,
                   fast_params={"epochs": 4, "d_model": 16, "n_layers": 1, "n_heads": 2,
                                "n_permutations": 1, "batch_size": 16, "learning_rate": 1e-2,
                                "guided": True}),
):
    register_generator(_entry)
del _entry


# SDV's generators (the optional extra ``pip install -e .[peers]``), beside the course's own.
# The fast settings are a smoke test's; the defaults are SDV's own (CTGAN and TVAE: 300 epochs).
PEER_ENTRIES = (
    GeneratorEntry("SDV-GaussianCopula", ".peers", "peer library", "11",
                   "SDV's Gaussian copula: fitted parametric marginals, one correlation matrix",
                   class_name="SDVGaussianCopula", saves=False),
    GeneratorEntry("SDV-CTGAN", ".peers", "peer library", "11",
                   "SDV's CTGAN: conditional GAN with mode-specific normalisation", needs_torch=True,
                   class_name="SDVCTGAN", saves=False,
                   fast_params={"epochs": 5, "batch_size": 50, "pac": 5}),
    GeneratorEntry("SDV-TVAE", ".peers", "peer library", "11",
                   "SDV's TVAE: variational autoencoder for tables", needs_torch=True,
                   class_name="SDVTVAE", saves=False, fast_params={"epochs": 5, "batch_size": 50}),
)


def sdv_installed() -> bool:
    """Whether the sdv package can be imported, found without importing it (importing takes seconds)."""
    try:
        return importlib.util.find_spec("sdv") is not None
    except (ImportError, ValueError):  # a broken or spec-less module under that name
        return False


def register_peers() -> list[GeneratorEntry]:
    """Register SDV's generators when sdv is installed; returns the entries registered.

    Called once below, so the registry lists them wherever the extra is installed; without
    it nothing is registered and nothing fails.
    """
    if not sdv_installed():
        return []
    return [register_generator(e, replace=True) for e in PEER_ENTRIES]


register_peers()
