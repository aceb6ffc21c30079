"""One distance between patients, defined once, for every privacy metric.

Privacy metrics ask "how close is this synthetic patient to a real one?". A patient
record mixes numbers (age, blood pressure), flags (0/1) and categories (type of
infarction), sometimes with missing values, so the course fixes one distance for
mixed tables and uses it everywhere (DCR, NNDR, NNAA, epsilon-identifiability,
membership and attribute inference).

The choice: a Gower-like distance made Euclidean
------------------------------------------------
:class:`MixedEncoder` is fitted on the **training** table and turns any table with the
same columns into a float matrix. The distance between two rows is the ordinary
Euclidean distance between their encoded rows, so that scikit-learn's
``NearestNeighbors`` (k-d tree, ball tree or chunked brute force) can search it
without ever building an n x m matrix. Per column:

- **numeric** (continuous, integer, datetime): ``(x - min) / (max - min)`` with the
  training minimum and maximum (``scale="range"``, the default, as in Gower's
  distance), or ``(x - median) / IQR`` (``scale="robust"``, less sensitive to one
  extreme patient). A constant training column gets scale 1.
- **binary** (0/1): the value itself, so a mismatch adds 1 to the squared distance.
- **categorical**: one-hot over the training categories, each coordinate multiplied by
  ``1/sqrt(2)``, so that a mismatch adds exactly 1 to the squared distance, like a
  full-range numeric difference or a flipped flag. A category never seen in
  training is encoded as all zeros (half a mismatch to every known level).
- **one-hot groups** declared in the metadata (several 0/1 columns that encode one
  variable) are scaled by ``1/sqrt(2)`` for the same reason: a different level counts
  as one mismatch, not two.
- **missing values** are their own indicator: a nullable numeric column gets an extra
  0/1 coordinate ("is missing") and the value itself is set to the training median;
  a nullable categorical column gets a "missing" level. Missing versus present thus
  costs at least one mismatch; missing versus missing costs nothing.

So the squared distance is a sum over columns of per-column squared differences that
each lie in [0, 1] for values inside the training range (a weighted Euclidean version
of Gower's distance, Gower 1971). Optional per-column ``weights`` multiply a column's
coordinates (epsilon-identifiability uses ``1 / entropy``).

What it cannot see: closeness of two categories (all mismatches cost the same), and
the clinical importance of a column (every column counts equally unless weighted).
Synthetic rows are always encoded with the **training** scales, never refitted, so
the distances of synthetic and holdout rows are on the same ruler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from ..encoding import TableEncoding
from ..schema import Metadata, infer_metadata, require_frame
from .tables import check_same_columns

_HALF = 1.0 / np.sqrt(2.0)
SCALES = ("range", "robust")


check_frame = require_frame
"""Raise a clear error unless ``df`` is a non-empty DataFrame with unique column names."""


class MixedEncoder(TableEncoding):
    """Encode mixed-type tables so that Euclidean distance is a Gower-like distance.

    The course's one encoding layer (:class:`~course_utils.encoding.TableEncoding`)
    with the distance's settings: numbers scaled by their training range (or
    ``"robust"``), 0/1 flags as they are, categories and one-hot groups one-hot with
    each coordinate times ``1/sqrt(2)``, and a missing-value indicator for every
    column that is nullable or has a missing value. See the module docstring. Fit on
    the training table, then :meth:`encode` the training, synthetic and holdout tables
    with the same scales.

    Args:
        scale: ``"range"`` (divide by the training max - min; Gower) or ``"robust"``
            (subtract the median, divide by the inter-quartile range).
        weights: optional ``{column: weight}``; a column's coordinates are multiplied
            by its weight (columns not named keep weight 1).

    Fitted attributes: ``metadata_``, ``columns_`` (table columns in order),
    ``codes_`` (one entry per column or one-hot group), ``n_features_`` and
    ``feature_names_`` (one name per encoded coordinate).
    """

    def __init__(self, scale: str = "range", weights: Mapping[str, float] | None = None):
        super().__init__(categories="onehot", levels="metadata", numbers=scale, scale_binary=False,
                         missing="indicator", indicate="nullable", groups="onehot", category_weight=_HALF,
                         date_unit="s", weights=weights)
        self.scale = scale

    def fit(self, train: pd.DataFrame, metadata: Metadata | None = None) -> MixedEncoder:
        """Learn scales, categories and missing-value indicators from the training table."""
        check_frame(train, "training table")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        self.numbers = self.scale
        for col in train.columns:
            if train[col].isna().all():
                raise ValueError(f"column {col!r} of the training table: every value is missing; drop the column")
        meta = infer_metadata(train) if metadata is None else metadata
        if not isinstance(meta, Metadata):
            raise TypeError(f"metadata must be a Metadata, got {type(meta).__name__}")
        check_same_columns(train, meta.names, "training table")
        weights = dict(self.weights or {})
        unknown = [c for c in weights if c not in meta.names and c not in meta.one_hot_groups]
        if unknown:
            raise ValueError(f"weights name columns that are not in the table: {unknown}")
        for c, w in weights.items():
            if not np.isfinite(w) or w < 0:
                raise ValueError(f"weight of column {c!r} must be a finite number >= 0, got {w}")
        try:
            super().fit(train, meta)
        except TypeError as exc:  # text in a numeric column: a value error of the table
            raise ValueError(f"{exc} (training table)") from None
        return self

    def encode(self, df: pd.DataFrame, what: str = "table") -> np.ndarray:
        """Encode a table with the training columns as a float64 matrix (rows x ``n_features_``).

        Raises ``ValueError`` for other columns, non-numeric values in numeric
        columns, infinite values, and missing values in a column that had none in
        training (there is no indicator to put them in).
        """
        if not hasattr(self, "codes_"):
            raise NotFittedError("this MixedEncoder is not fitted yet; call fit(train) first")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"the {what} must be a pandas DataFrame, got {type(df).__name__}")
        if df.shape[1] == 0:
            raise ValueError(f"the {what} has no columns")
        check_same_columns(df, self.columns_, what)
        try:
            return self.transform(df, what)
        except TypeError as exc:
            raise ValueError(f"{exc} ({what})") from None

    def fit_encode(self, train: pd.DataFrame, metadata: Metadata | None = None) -> np.ndarray:
        """Fit on ``train`` and return its encoding."""
        return self.fit(train, metadata).encode(train, "training table")


def fit_encoder(
    train: pd.DataFrame,
    metadata: Metadata | None = None,
    scale: str = "range",
    weights: Mapping[str, float] | None = None,
) -> MixedEncoder:
    """Fit the course's mixed-type distance (:class:`MixedEncoder`) on the training table."""
    return MixedEncoder(scale=scale, weights=weights).fit(train, metadata)


def _to_matrix(x: Any, encoder: MixedEncoder | None, what: str) -> np.ndarray:
    if isinstance(x, pd.DataFrame):
        if encoder is None:
            raise ValueError(f"the {what} is a DataFrame: pass encoder= (from fit_encoder) to encode it")
        return encoder.encode(x, what)
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"the {what} must be a DataFrame or a 2-D array, got {arr.ndim} dimension(s)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"the {what} contains missing or infinite values; encode it with a MixedEncoder")
    return arr


ALGORITHMS = ("auto", "blas", "kd_tree", "ball_tree", "brute")
"""Search algorithms of :func:`nearest_distances`: ``"blas"`` is the course's exact
blocked brute force (:func:`_blas_search`), the others are scikit-learn's."""

_U32 = float(np.finfo(np.float32).eps) / 2  # unit round-off of float32
_BLOCK = 1 << 22  # float32 entries of one block of approximate distances (16 MB)
_FEW = 8  # up to this k, the k smallest are found one pass at a time
_PAIRS = 1 << 18  # candidate pairs whose exact distance is computed at once


def blas_threads() -> int:
    """How many threads the BLAS library of numpy is allowed to use (1 when unknown).

    :func:`nearest_distances` with ``n_jobs=None`` uses this many threads, so
    ``OMP_NUM_THREADS=1`` (or ``threadpoolctl.threadpool_limits(1)``) keeps it on one
    core and ``threadpool_limits(2)`` lets it use two.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return 1
    counts = [int(i.get("num_threads", 1)) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(1, min(counts)) if counts else 1


def _resolve_jobs(n_jobs: int | None) -> int:
    if n_jobs is None:
        return blas_threads()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}")
    import os

    return max(1, os.cpu_count() or 1) if n_jobs < 0 else int(n_jobs)


def _run_blocks(func, n: int, step: int, n_threads: int) -> None:
    """Call ``func(start, stop)`` on consecutive blocks of ``range(n)``, on ``n_threads`` threads.

    The heavy work (matrix products, reductions, sorting) releases the GIL, so threads
    share the cores; BLAS is held to one thread meanwhile so that the cores are not
    oversubscribed.
    """
    blocks = [(a, min(a + step, n)) for a in range(0, n, step)]
    if n_threads <= 1 or len(blocks) == 1:
        for a, b in blocks:
            func(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(min(n_threads, len(blocks))) as pool:
        for f in [pool.submit(func, a, b) for a, b in blocks]:
            f.result()


def _blas_search(Q: np.ndarray, R: np.ndarray, k: int, exclude: np.ndarray | None, chunk_size: int,
                 n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by blocked brute force on BLAS matrix products.

    1. Both tables are centred on the reference mean and cast to float32; one matrix
       product per block of query rows gives ``||r||^2 - 2 q.r`` for every pair (the
       squared distance minus ``||q||^2``, which does not change the ranking).
    2. The k-th smallest value of a row plus twice a bound on the float32 rounding
       error (``2 (d + 4) u (||q|| + max ||r||)^2``, ``u`` the float32 unit round-off)
       is a threshold that every true k nearest neighbour passes.
    3. The candidates under the threshold (usually k, more with near ties) get their
       distance recomputed exactly in float64 as ``sqrt(sum((q - r)^2))``, and the k
       smallest are kept, ties broken by the lower reference index.

    ``exclude`` gives, per query row, one reference row to leave out (the row itself
    for a leave-one-out search), or None.

    So the result is the exact float64 distance (an exact copy is at distance 0, not
    at a rounding residue) at the cost of float32 products.
    """
    n, m = Q.shape[0], R.shape[0]
    dim = Q.shape[1]
    mu = R.mean(axis=0)
    Rc = R - mu
    Qc = Q - mu
    r2 = np.einsum("ij,ij->i", Rc, Rc)
    q_norm = np.sqrt(np.einsum("ij,ij->i", Qc, Qc))
    r_max = float(np.sqrt(r2.max())) if m else 0.0
    tol = (4.0 * (dim + 4) * _U32 * (q_norm + r_max) ** 2).astype(np.float32)
    # [-2q, 1] . [r, ||r||^2] = ||r||^2 - 2 q.r: the norms ride along in the product
    Qa = np.empty((n, dim + 1), dtype=np.float32)
    Qa[:, :dim] = -2.0 * Qc
    Qa[:, dim] = 1.0
    Ra = np.empty((m, dim + 1), dtype=np.float32)
    Ra[:, :dim] = Rc
    Ra[:, dim] = r2
    RaT = np.ascontiguousarray(Ra.T)
    dist = np.empty((n, k), dtype=float)
    idx = np.empty((n, k), dtype=np.int64)
    step = max(1, min(int(chunk_size), _BLOCK // max(m, 1)))
    def block(a: int, b: int) -> None:
        D = Qa[a:b] @ RaT
        here = np.arange(b - a)
        if exclude is not None:
            D[here, exclude[a:b]] = np.inf
        thr = tol[a:b].copy()
        if k <= _FEW:
            # the k smallest one at a time (a pass each, far cheaper than a partition)
            picks = np.empty((b - a, k), dtype=np.int64)
            vals = np.empty((b - a, k), dtype=np.float32)
            for j in range(k):
                picks[:, j] = D.argmin(axis=1)
                vals[:, j] = D[here, picks[:, j]]
                D[here, picks[:, j]] = np.inf
            thr += vals[:, -1]
            nxt = D.min(axis=1) if D.shape[1] > k else np.full(b - a, np.inf, dtype=np.float32)
            # a row whose (k+1)-th value also passes the threshold has near ties: all
            # its candidates are gathered below; the others have exactly the k picks
            tied = np.flatnonzero(nxt <= thr)
            for j in range(k):
                D[here[tied], picks[tied, j]] = vals[tied, j]
            calm = np.flatnonzero(nxt > thr)
            rows = [np.repeat(calm, k)]
            cols = [picks[calm].ravel()]
        else:
            thr += np.partition(D, k - 1, axis=1)[:, k - 1]
            tied = here
            rows, cols = [], []
        if len(tied):
            r, c = np.nonzero(D[tied] <= thr[tied, None])
            rows.append(tied[r])
            cols.append(c)
        del D
        rows_all = np.concatenate(rows)
        cols_all = np.concatenate(cols)
        exact = np.empty(len(rows_all))
        for s in range(0, len(rows_all), _PAIRS):  # bounded memory when ties are many
            diff = Q[a + rows_all[s:s + _PAIRS]] - R[cols_all[s:s + _PAIRS]]
            exact[s:s + _PAIRS] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        order = np.lexsort((cols_all, exact, rows_all))
        rows_all, cols_all, exact = rows_all[order], cols_all[order], exact[order]
        take = np.searchsorted(rows_all, here)[:, None] + np.arange(k)
        dist[a:b] = exact[take]
        idx[a:b] = cols_all[take]

    _run_blocks(block, n, step, n_threads)
    return dist, idx


def nearest_distances(
    query: pd.DataFrame | np.ndarray,
    reference: pd.DataFrame | np.ndarray,
    k: int = 1,
    encoder: MixedEncoder | None = None,
    exclude_self: bool = False,
    chunk_size: int = 10_000,
    algorithm: str = "auto",
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Distances from every query row to its ``k`` nearest reference rows.

    Tables are encoded with ``encoder`` (fit one on the training table with
    :func:`fit_encoder`; when ``query`` and ``reference`` are DataFrames and no encoder
    is given, one is fitted on ``reference``). Arrays are taken as already encoded.

    The search uses scikit-learn's ``NearestNeighbors`` (``algorithm="auto"`` lets it
    choose between a k-d tree, a ball tree and brute force), and the query rows are
    processed ``chunk_size`` at a time, so memory grows with ``chunk_size x k`` and the
    size of the tree, never with ``n_query x n_reference``: 100,000 x 100,000 rows work.
    ``algorithm="blas"`` is the course's exact blocked brute force (float32 matrix
    products to shortlist candidates, exact float64 distances for the shortlist, see
    :func:`_blas_search`): several times faster than scikit-learn's brute force on
    tens of encoded columns, with the same distances, and ties broken by the lower
    reference index. The privacy metrics use it.

    Args:
        query, reference: tables (or encoded matrices) with the same columns.
        k: number of neighbours (``k <= n_reference``, minus one with ``exclude_self``).
        exclude_self: ``query`` is the same rows as ``reference`` in the same order;
            each row's own entry is left out (leave-one-out). Exact duplicates of a row
            still count as neighbours at distance 0.
        chunk_size: query rows per batch.
        algorithm: ``"blas"``, or passed to ``NearestNeighbors`` ("auto", "kd_tree",
            "ball_tree", "brute").
        n_jobs: threads; passed to ``NearestNeighbors``, or for ``"blas"`` the number
            of threads sharing the query blocks (``None``: as many as numpy's BLAS may
            use, see :func:`blas_threads`; -1: every core).

    Returns:
        ``(distances, indices)``, both of shape ``(n_query, k)``, sorted by distance;
        ``indices`` are row positions in ``reference``. Among tied distances the order
        of the indices is whatever the search returns (``"blas"``: lower index first).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if isinstance(query, pd.DataFrame) and isinstance(reference, pd.DataFrame) and encoder is None:
        encoder = fit_encoder(check_frame(reference, "reference table"))
    Q = _to_matrix(query, encoder, "query table")
    R = _to_matrix(reference, encoder, "reference table")
    if len(R) == 0:
        raise ValueError("the reference table is empty (0 rows)")
    if Q.shape[1] != R.shape[1]:
        raise ValueError(f"query has {Q.shape[1]} encoded columns but reference has {R.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if exclude_self and Q.shape[0] != R.shape[0]:
        raise ValueError(
            f"exclude_self=True needs the query to be the reference rows themselves; got "
            f"{Q.shape[0]} query rows and {R.shape[0]} reference rows"
        )
    k_search = k + int(exclude_self)
    if k_search > len(R):
        raise ValueError(
            f"k={k} neighbours requested but the reference has only {len(R)} row(s)"
            + (" (one is the row itself)" if exclude_self else "")
        )
    n = Q.shape[0]
    dist = np.empty((n, k), dtype=float)
    idx = np.empty((n, k), dtype=np.int64)
    if n == 0:
        return dist, idx
    if algorithm == "blas":
        own = np.arange(n) if exclude_self else None
        return _blas_search(Q, R, k, own, int(chunk_size), _resolve_jobs(n_jobs))
    nn = NearestNeighbors(n_neighbors=k_search, algorithm=algorithm, n_jobs=n_jobs).fit(R)
    for start in range(0, n, int(chunk_size)):
        stop = min(start + int(chunk_size), n)
        d, i = nn.kneighbors(Q[start:stop], n_neighbors=k_search, return_distance=True)
        if exclude_self:
            own = np.arange(start, stop)[:, None]
            is_self = i == own
            # Drop the row's own entry; if ties at distance 0 pushed it out of the
            # list, drop the last entry instead (the first k are then still right).
            drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k_search - 1)
            keep = np.ones_like(is_self)
            keep[np.arange(stop - start), drop] = False
            d = d[keep].reshape(stop - start, k)
            i = i[keep].reshape(stop - start, k)
        dist[start:stop] = d
        idx[start:stop] = i
    return dist, idx
