"""One evaluation context: what every metric of one evaluation shares, built once.

:class:`EvaluationContext` holds the checked tables (``train``, ``synthetic``,
``holdout``), their metadata, the result of the one holdout check, the tables encoded
with the course's distance (:mod:`course_utils.evaluation.distances`, fitted on the
training table: matrices ``T``, ``S`` and ``H``) and a cache of nearest-neighbour
searches between them. :func:`~course_utils.evaluation.evaluate` builds one per call
and hands it to every metric family; each privacy metric called on its own builds
its own. Encoding happens on first use, so an evaluation without privacy metrics
never encodes.

It also holds the small rules the distance-based metrics share: two distances closer
than a relative ``RTOL`` count as a tie (:func:`share_less`), and the odds rescaling
of a share from one no-leakage level to another (:func:`balance_share`,
:func:`rescale_share`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schema import Metadata, column_numbers  # noqa: F401  (re-exported for the privacy metrics)
from .distances import (
    MixedEncoder,
    _blas_search,
    _resolve_jobs,
    check_frame,
    fit_encoder,
    nearest_distances,
)
from .tables import check_holdout, check_same_columns, check_tables, resolve_metadata

# Two distances closer than this count as a tie (they come from different searches,
# whose floating-point rounding differs).
RTOL = 1e-9
ATOL = 1e-12

_TABLES = {"T": "train", "S": "synthetic", "H": "holdout"}


def encode_tables(
    train: pd.DataFrame,
    others: dict[str, pd.DataFrame | None],
    metadata: Metadata | None,
    encoder: MixedEncoder | None = None,
) -> tuple[MixedEncoder, np.ndarray, dict[str, np.ndarray | None]]:
    """Check the tables and encode them with the course's distance fitted on ``train``.

    ``others`` maps a table's role ("synthetic", "holdout") to the table (or None);
    every error names the table. Returns the encoder, the encoded training table and
    the encoded others (None stays None).
    """
    check_frame(train, "training table")
    cols = [str(c) for c in train.columns]
    for what, df in others.items():
        if df is None:
            continue
        check_frame(df, f"{what} table")
        check_same_columns(df, cols, f"{what} table")
    if encoder is None:
        encoder = fit_encoder(train, metadata)
    encoded_train = encoder.encode(train, "training table")
    encoded = {w: (None if df is None else encoder.encode(df[cols], f"{w} table")) for w, df in others.items()}
    return encoder, encoded_train, encoded


class EvaluationContext:
    """Tables, metadata, encoded matrices and nearest-neighbour searches shared by the metrics.

    ``EvaluationContext(train, synthetic, holdout, metadata)`` is what one privacy
    metric needs: the tables are checked and encoded at once (errors name the table)
    and the holdout is checked. :meth:`for_evaluate` is what ``evaluate()`` builds:
    the two table pairs checked for comparison, the metadata resolved and the holdout
    checked once, the encoding left for the first metric that needs it.
    """

    def __init__(self, train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None = None,
                 metadata: Metadata | None = None, encoder: MixedEncoder | None = None,
                 check_overlap: bool = True, n_jobs: int | None = None, encode_now: bool = True):
        self.train, self.synthetic, self.holdout = train, synthetic, holdout
        self.n_jobs = _resolve_jobs(n_jobs)
        self._metadata = metadata
        self._encoder = encoder
        self._encoded: tuple[MixedEncoder, np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._cache: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._column_types: dict[int, dict[str, str]] = {}
        if encode_now:
            self._encode()
        self.holdout_overlap = (check_holdout(train, holdout, stacklevel=4)["share"]
                                if holdout is not None and check_overlap else None)

    @classmethod
    def for_evaluate(cls, train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                     metadata: Metadata | None = None, n_jobs: int | None = None) -> EvaluationContext:
        """The context of one ``evaluate()`` call: tables checked and aligned, metadata resolved."""
        train, synthetic = check_tables(train, synthetic, ("train", "synthetic"))
        train, holdout = check_tables(train, holdout, ("train", "holdout"))
        meta = resolve_metadata(train, metadata)
        return cls(train, synthetic, holdout, meta, n_jobs=n_jobs, encode_now=False)

    # -- metadata and encoding ------------------------------------------------------------
    @property
    def metadata(self) -> Metadata:
        """The tables' metadata (given, or inferred from the training table)."""
        if self._metadata is None:
            self._metadata = self.encoder.metadata_
        return self._metadata

    def column_types(self, max_levels: int = 10) -> dict[str, str]:
        """Fidelity's scoring type of each column (computed once per ``max_levels``)."""
        from .fidelity import column_types

        if max_levels not in self._column_types:
            self._column_types[max_levels] = column_types(self.train, self.metadata, max_levels)
        return self._column_types[max_levels]

    def _encode(self) -> tuple[MixedEncoder, np.ndarray, np.ndarray, np.ndarray | None]:
        if self._encoded is None:
            encoder, encoded_train, others = encode_tables(
                self.train, {"synthetic": self.synthetic, "holdout": self.holdout}, self._metadata, self._encoder)
            self._encoded = (encoder, encoded_train, others["synthetic"], others["holdout"])
        return self._encoded

    @property
    def encoder(self) -> MixedEncoder:
        """The course's distance, fitted on the training table."""
        return self._encode()[0]

    @property
    def T(self) -> np.ndarray:  # noqa: N802 - the matrices are named like the tables' roles
        """The encoded training table."""
        return self._encode()[1]

    @property
    def S(self) -> np.ndarray:  # noqa: N802
        """The encoded synthetic table."""
        return self._encode()[2]

    @property
    def H(self) -> np.ndarray | None:  # noqa: N802
        """The encoded holdout table (None without a holdout)."""
        return self._encode()[3]

    def matrix(self, name: str) -> np.ndarray:
        """The encoded table ``"T"``, ``"S"`` or ``"H"``; a clear error when there is no holdout."""
        X = getattr(self, name)
        if X is None:
            raise ValueError("this metric needs a holdout table (real patients the generator never saw)")
        return X

    # -- nearest-neighbour searches ------------------------------------------------------
    def nearest(self, query: str, reference: str, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest ``reference`` rows of every ``query`` row (tables by letter), searched once."""
        key = (query, reference, k)
        if key not in self._cache:
            bigger = [kk for kk in self._cache if kk[:2] == (query, reference) and kk[2] > k]
            if bigger:
                d, i = self._cache[bigger[0]]
                return d[:, :k], i[:, :k]
            self._cache[key] = self.search(self.matrix(query), self.matrix(reference), k=k,
                                           exclude_self=(query == reference))
        return self._cache[key]

    def search(self, Q: np.ndarray, R: np.ndarray, k: int = 1, exclude_self: bool = False):
        """Exact search with the fast blocked brute force on this context's threads."""
        return nearest_distances(Q, R, k=k, exclude_self=exclude_self, algorithm="blas", n_jobs=self.n_jobs)

    def search_rows(self, R: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Leave-one-out nearest distance of the rows ``rows`` of ``R`` to the rest of ``R``."""
        return _blas_search(R[rows], R, 1, rows, 10_000, self.n_jobs)[0][:, 0]

    def cached(self, query: str, reference: str) -> np.ndarray | None:
        """Nearest distances from every row of ``query`` to ``reference`` if already searched, else None."""
        for key, (d, _) in self._cache.items():
            if key[:2] == (query, reference):
                return d[:, 0]
        return None


# -- rules shared by the distance-based metrics --------------------------------------------
def need_rows(X: np.ndarray, n: int, what: str) -> None:
    """Raise ``ValueError`` unless the ``what`` table has at least ``n`` rows."""
    if len(X) < n:
        raise ValueError(f"the {what} table needs at least {n} rows for this metric, got {len(X)}")


def check_max_rows(max_rows: Any, allow_none: bool = True) -> None:
    """Raise ``ValueError`` unless ``max_rows`` is an integer >= 2 (or None when allowed)."""
    if max_rows is None and allow_none:
        return
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows < 2:
        raise ValueError(f"max_rows must be an integer >= 2{' or None' if allow_none else ''}, got {max_rows!r}")


def share_less(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of 1[a < b] with ties counted as one half."""
    tie = np.isclose(a, b, rtol=RTOL, atol=ATOL)
    return float(np.mean(np.where(tie, 0.5, (a < b).astype(float))))


def balance_share(share: float, p0: float) -> float:
    """Move a share whose no-leakage value is ``p0`` onto a scale whose no-leakage value is 0.5.

    Odds rescaling: ``s (1 - p0) / (s (1 - p0) + (1 - s) p0)``; keeps 0 and 1 fixed.
    """
    if not 0 < p0 < 1 or np.isnan(share):
        return float(share)
    num = share * (1 - p0)
    den = num + (1 - share) * p0
    return float(num / den) if den > 0 else 0.5


def rescale_share(share: float, p_from: float, p_to: float) -> float:
    """Odds rescaling of a share from a no-leakage level ``p_from`` to one of ``p_to``."""
    b = balance_share(share, p_from)
    if not 0 < p_to < 1 or np.isnan(b):
        return b
    num = b * p_to
    den = num + (1 - b) * (1 - p_to)
    return float(num / den) if den > 0 else float(p_to)
