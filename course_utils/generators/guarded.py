"""Any generator with a closeness guard: ``GuardedSynthesizer(VAESynthesizer(), closeness_guard=1.0)``.

The guard of :mod:`course_utils.generators.closeness_guard` was first built into
sequential CART, whose leaves of a few patients produce near copies. Other generators
copy too (a VAE trained long enough reproduces its training patients, lesson 06), so the
same guard can be put around any of them, the way scikit-learn's meta-estimators wrap
another estimator: the wrapped generator learns the table, the guard learns from the
same training rows how close a synthetic row may come to each patient, and rows that
come closer are drawn again. Everything else (conditions, rules between columns,
missing values) is the wrapped generator's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .base import Synthesizer
from .closeness_guard import ClosenessGuard, GuardedDraws, check_factor, check_max_draws

__all__ = ["GuardedSynthesizer"]


class GuardedSynthesizer(GuardedDraws, Synthesizer):
    """A generator whose samples keep the distance a new patient would keep from every training patient.

    Args:
        generator: an unfitted course generator (``fit`` fits a copy of it, made with
            :func:`sklearn.base.clone`, so the one you pass stays unfitted).
        closeness_guard: a number >= 0: a synthetic row is replaced when it copies a
            training row or lies closer to its nearest training patient than
            ``closeness_guard`` times that patient's distance to the nearest other
            training patient (``0``: exact copies only). ``"match"``: reject what ``1``
            rejects, then thin the rows so that their closeness to training patients is
            spread as the patients' own closeness to each other is (a pilot sample after
            fitting sets the thinning). Learnt from the training rows only, never from a
            holdout.
        max_rejection_draws: give up with a ``RuntimeError`` after drawing this many rows
            per row asked for.
        random_state: seed (int), ``numpy.random.Generator`` or ``None``; drives the
            draws of :meth:`sample` (the wrapped generator's own ``random_state`` drives
            its training).
        verbose: kept for the shared contract (the wrapped generator prints its own progress).

    Fitted attributes: ``generator_`` (the fitted copy), ``closeness_guard_`` (the fitted
    :class:`~course_utils.generators.closeness_guard.ClosenessGuard`) and
    ``closeness_rejection_rate_`` (share of drawn rows the guard threw away in the last
    :meth:`sample`). It samples with conditions exactly when the wrapped generator does.
    """

    def __init__(self, generator: Synthesizer, closeness_guard: float | str = 1.0, max_rejection_draws: int = 100,
                 random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.generator = generator
        self.closeness_guard = closeness_guard
        self.max_rejection_draws = max_rejection_draws

    @property
    def supports_conditions(self) -> bool:  # type: ignore[override]
        """Whether the wrapped generator can fix column values."""
        return bool(getattr(self.generator, "supports_conditions", False))

    @property
    def handles_missing(self) -> bool:  # type: ignore[override]
        """Whether the wrapped generator learns from missing values."""
        return bool(getattr(self.generator, "handles_missing", True))

    def _fit(self, df: pd.DataFrame) -> None:
        if not isinstance(self.generator, Synthesizer):
            raise TypeError(f"generator must be a course generator (a Synthesizer), got {type(self.generator).__name__}")
        check_factor(self.closeness_guard)
        check_max_draws(self.max_rejection_draws)
        self.generator_ = clone(self.generator).fit(df, self.metadata_)
        self.closeness_guard_ = ClosenessGuard(self.closeness_guard).fit(df, self.metadata_)
        self.closeness_rejection_rate_ = 0.0
        self._calibrate_guard()

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        return self.generator_.sample(n, conditions, random_state=rng)

    def _guard_advice(self) -> str:
        return (f"lower closeness_guard, or train {type(self.generator).__name__} so that it copies less "
                "(fewer epochs, more regularisation)")

    def _after_load(self) -> None:
        type(self.generator_)._after_load(self.generator_)
