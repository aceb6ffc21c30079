"""Reference generators that every real method must beat.

- :class:`IndependentMarginals` draws each column from its own empirical distribution:
  every column looks right on its own, and every relationship between columns is gone.
  It is the lower bracket of the course's fidelity scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import Synthesizer
from .copula import GaussianCopula as GaussianCopula  # re-exported: the second baseline


class IndependentMarginals(Synthesizer):
    """Sample every column independently from its training values (with replacement).

    Missing values are drawn at their training rate because they are part of the
    empirical marginal. One-hot groups are sampled as one unit (whole group rows),
    so each row still has exactly one 1 per group. ``conditions`` simply fixes the
    named columns: there is nothing for them to be related to.

    Fitted attributes: ``marginals_`` (column -> training values, or a frame for a group).
    """

    supports_conditions = True

    def __init__(self, random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)

    def _fit(self, df: pd.DataFrame) -> None:
        self.marginals_: dict[str, Any] = {}
        grouped = set()
        for group, members in self.metadata_.one_hot_groups.items():
            self.marginals_[group] = df[members].to_numpy()
            grouped.update(members)
        for col in self.columns_:
            if col not in grouped:
                self.marginals_[col] = df[col].to_numpy(dtype=object)

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for key, values in self.marginals_.items():
            draws = values[rng.integers(0, len(values), size=n)]
            if key in self.metadata_.one_hot_groups:
                for j, m in enumerate(self.metadata_.one_hot_groups[key]):
                    out[m] = draws[:, j]
            else:
                out[key] = draws
        frame = pd.DataFrame(out)[self.columns_]
        for col, value in (conditions or {}).items():
            frame[col] = value
            group = self.metadata_[col].group
            if group is not None and value == 1:
                for m in self.metadata_.one_hot_groups[group]:
                    if m != col:
                        frame[m] = 0
        return frame
