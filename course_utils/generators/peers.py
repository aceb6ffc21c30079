"""SDV's GaussianCopula, CTGAN and TVAE on the course's generator contract.

The Synthetic Data Vault (SDV) is the library many practitioners use. With the
optional extra installed (``pip install -e .[peers]``, sdv pinned there), the registry
lists three more generators, ``SDV-GaussianCopula``, ``SDV-CTGAN`` and ``SDV-TVAE``,
and every place that reads the registry (the generators benchmark, ``synthesize``)
runs them beside the course's own. Without the extra nothing changes: the entries are
not registered and nothing imports sdv.

What the adapter does:

- ``fit(df, metadata)`` converts the course's :class:`~course_utils.schema.Metadata`
  to SDV's (:func:`to_sdv_metadata`: continuous and integer columns become SDV
  ``numerical`` with their bounds and decimals, categorical and binary columns
  ``categorical`` with their levels, datetimes ``datetime``), then fits the SDV
  synthesizer with every global random stream it may draw from (numpy, torch,
  Python's) seeded from ``random_state`` and restored afterwards;
- ``sample(n, random_state=...)`` resets SDV's sampling state and seeds it with a
  number drawn from the course's random stream, so the same seed gives the same rows;
- the course's base class then checks the input and repairs the output exactly as for
  its own generators (dtypes, bounds, one row of each one-hot group set to 1: SDV
  treats the 0/1 columns of a group as unrelated categoricals).

What it does not do: conditional sampling (``supports_conditions = False``), and
saving in the course's generator file format, which holds data only; SDV saves its
synthesizers with pickle (``cloudpickle``), which the course never opens from
someone else, so :meth:`SDVSynthesizer.save` refuses with the reason.

Source: Patki, Wedge and Veeramachaneni (2016), "The Synthetic Data Vault", IEEE DSAA;
Xu et al. (2019), "Modeling Tabular Data using Conditional GAN", NeurIPS (CTGAN, TVAE).
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..schema import Metadata
from ..values import python_scalar
from .base import Synthesizer

INSTALL_HINT = "install the optional extra: pip install -e .[peers]"
TABLE = "table"

try:  # imported with this module, as torch is with the deep generators: a timed fit does not pay for it
    import sdv.single_table  # noqa: F401
except ImportError:  # fit says how to install it
    pass


def import_sdv_single_table() -> Any:
    """``sdv.single_table``, or an ImportError that says how to install it."""
    try:
        import sdv.single_table as single_table
    except ImportError as exc:
        raise ImportError(f"SDV's generators need the sdv package ({exc}); {INSTALL_HINT}") from None
    return single_table


def to_sdv_metadata(metadata: Metadata) -> dict[str, Any]:
    """The course's metadata as an SDV metadata dictionary (spec V2, one table called ``table``).

    Each column's kind becomes an SDV ``sdtype``; bounds, levels, decimals and whether
    values may be missing travel with it, so SDV keeps generated values in range.
    """
    if not isinstance(metadata, Metadata):
        raise TypeError(f"expected a course_utils Metadata, got {type(metadata).__name__}")
    columns: dict[str, dict[str, Any]] = {}
    for name in metadata.names:
        spec = metadata[name]
        col: dict[str, Any] = {"range_is_nullable": bool(spec.nullable)}
        if spec.kind in ("continuous", "integer"):
            col["sdtype"] = "numerical"
            if spec.bounds is not None:
                col["range_min"], col["range_max"] = (python_scalar(v) for v in spec.bounds)
            decimals = 0 if spec.kind == "integer" else spec.decimals
            if decimals is not None:
                col["decimal_places"] = int(decimals)
        elif spec.kind in ("categorical", "binary"):
            # a 0/1 column is a category to SDV: its boolean sdtype expects True/False
            col["sdtype"] = "categorical"
            levels = spec.categories if spec.kind == "categorical" else [0, 1]
            col["range_values"] = [python_scalar(v) for v in levels]
        elif spec.kind == "datetime":
            col["sdtype"] = "datetime"
        else:  # the schema admits no other kind; a new one must be mapped here first
            raise ValueError(f"column {name!r}: no SDV sdtype for kind {spec.kind!r}")
        columns[str(name)] = col
    return {"METADATA_SPEC_VERSION": "V2", "tables": {TABLE: {"columns": columns}}, "relationships": []}


@contextmanager
def seeded(seed: int):
    """Seed numpy's, torch's and Python's global random streams; restore them on exit.

    SDV and its transformers draw from the global streams while fitting; seeding them
    makes a fit reproducible, restoring them keeps the caller's streams untouched.
    """
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        import torch
    except ImportError:  # the Gaussian copula needs no torch
        torch = None
    torch_state = torch.random.get_rng_state() if torch is not None else None
    np.random.seed(seed)
    random.seed(seed)
    if torch is not None:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        if torch is not None:
            torch.random.set_rng_state(torch_state)


class SDVSynthesizer(Synthesizer):
    """An SDV single-table synthesizer behind the course's ``fit`` / ``sample`` contract.

    Subclasses name the SDV class (``sdv_class``) and pass their keywords through
    :meth:`sdv_params`. Fitted attributes: ``sdv_metadata_`` (the converted metadata
    dictionary) and ``sdv_`` (the fitted SDV synthesizer), besides the base class's.
    """

    sdv_class: str = ""

    def sdv_params(self) -> dict[str, Any]:
        """Keywords for the SDV class besides the metadata."""
        return {}

    def _fit(self, df: pd.DataFrame) -> None:
        single_table = import_sdv_single_table()
        from sdv.metadata import Metadata as SDVMetadata

        self.sdv_metadata_ = to_sdv_metadata(self.metadata_)
        sdv_meta = SDVMetadata.load_from_dict(self.sdv_metadata_)
        model = getattr(single_table, self.sdv_class)(sdv_meta, **self.sdv_params())
        # the fit seed comes from the course's stream, so random_state fixes the whole run
        # plain object columns: SDV's transformers warn on pandas' categorical dtype, and the
        # base class restores the training dtypes after sampling anyway
        cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        plain = df.astype(dict.fromkeys(cats, object))
        with seeded(int(self._rng.integers(2**31 - 1))), warnings.catch_warnings():
            # the course's bounds come from the whole table, the training part rarely reaches them
            warnings.filterwarnings("ignore", message="The training data does not cover the full range")
            model.fit({TABLE: plain})
        self.sdv_ = model

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        seed = int(rng.integers(2**31 - 1))
        # without the reset SDV's transformers would continue their own streams, so the
        # same seed would give different rows on a second call
        self.sdv_.reset_sampling()
        self.sdv_._set_random_state(seed)
        with seeded(seed):
            out = self.sdv_.sample(num_rows=n)
        if isinstance(out, dict):  # SDV 2 answers with a table name -> rows mapping
            out = out[TABLE]
        return out.reset_index(drop=True)

    def save(self, path: str | Path) -> Path:
        """Not available: the course's file format holds data only, SDV's models are pickled."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be saved in the course's generator file format "
            "(data only, never pickle); SDV saves its synthesizers with pickle, which is "
            "unsafe to open from someone else. Keep the fitted object, or refit from the data"
        )


class SDVGaussianCopula(SDVSynthesizer):
    """SDV's ``GaussianCopulaSynthesizer``: fitted parametric marginals, one correlation matrix.

    ``default_distribution`` is SDV's choice of marginal for numerical columns
    (``None``: SDV's default, ``"beta"``).
    """

    sdv_class = "GaussianCopulaSynthesizer"

    def __init__(self, random_state: int | None = None, verbose: bool = True,
                 default_distribution: str | None = None):
        super().__init__(random_state=random_state, verbose=verbose)
        self.default_distribution = default_distribution

    def sdv_params(self) -> dict[str, Any]:
        """Keywords for ``GaussianCopulaSynthesizer``."""
        return {} if self.default_distribution is None else {"default_distribution": self.default_distribution}


class _SDVNeural(SDVSynthesizer):
    """The keywords CTGAN and TVAE share; both run on the CPU unless ``enable_gpu``."""

    def __init__(self, random_state: int | None = None, verbose: bool = True, epochs: int = 300,
                 batch_size: int = 500, enable_gpu: bool = False):
        super().__init__(random_state=random_state, verbose=verbose)
        self.epochs = epochs
        self.batch_size = batch_size
        self.enable_gpu = enable_gpu

    def sdv_params(self) -> dict[str, Any]:
        """Keywords for the SDV class: epochs, batch size, progress output, device."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "verbose": bool(self.verbose),
                "enable_gpu": self.enable_gpu}


class SDVCTGAN(_SDVNeural):
    """SDV's ``CTGANSynthesizer``: a conditional GAN with mode-specific normalisation.

    ``pac`` rows are judged together by the critic; ``batch_size`` must be a multiple of it
    (SDV's defaults: 300 epochs, batches of 500, ``pac=10``).
    """

    sdv_class = "CTGANSynthesizer"

    def __init__(self, random_state: int | None = None, verbose: bool = True, epochs: int = 300,
                 batch_size: int = 500, enable_gpu: bool = False, pac: int = 10):
        super().__init__(random_state=random_state, verbose=verbose, epochs=epochs,
                         batch_size=batch_size, enable_gpu=enable_gpu)
        self.pac = pac

    def sdv_params(self) -> dict[str, Any]:
        """Keywords for ``CTGANSynthesizer``."""
        if self.batch_size % self.pac or self.batch_size % 2:
            raise ValueError(f"SDVCTGAN: batch_size {self.batch_size} must be even and a multiple "
                             f"of pac {self.pac}")
        return {**super().sdv_params(), "pac": self.pac}


class SDVTVAE(_SDVNeural):
    """SDV's ``TVAESynthesizer``: a variational autoencoder for tables (300 epochs by default).

    Its decoder's category outputs are turned into a level by taking the largest, not by
    drawing, so rare levels come out rarer than in the data: on the veterans table (94%
    deaths) every synthetic row had the same outcome, and a categorical column with 15%
    missing values came out with about 2%.
    """

    sdv_class = "TVAESynthesizer"
