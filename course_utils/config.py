"""Course-wide settings: fast mode, the seed, reproducibility, the torch device, paths.

Every notebook starts with ``FAST = fast_mode()``. Fast mode (``COURSE_FAST=1``)
shrinks epochs and sample sizes so the whole course runs in CI and in live
workshop demos; learners get the full settings by default.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

SEED: int = 42
"""The course's default seed: every lesson passes it on as ``random_state``."""

PACKAGE_DIR: Path = Path(__file__).resolve().parent
REPO_DIR: Path = PACKAGE_DIR.parent
DATA_DIR: Path = Path(os.environ.get("COURSE_DATA_DIR", REPO_DIR / "data"))

_TRUE = {"1", "true", "yes", "on"}


def fast_mode() -> bool:
    """Return True when ``COURSE_FAST`` is set to 1/true/yes/on (CI and demos).

    Notebooks use it to scale epochs and sample sizes, e.g.
    ``epochs = 5 if FAST else 300``.
    """
    return os.environ.get("COURSE_FAST", "").strip().lower() in _TRUE


def seed_everything(seed: int = SEED) -> int:
    """Seed Python's ``random``, NumPy's legacy global RNG and torch (if installed).

    Library functions never rely on global state (they take ``random_state``);
    this is for the learner's own code in a notebook. Returns the seed.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    os.environ["PYTHONHASHSEED"] = str(int(seed))
    try:
        import torch
    except ImportError:  # torch is optional for the classical lessons
        return int(seed)
    torch.manual_seed(int(seed))
    return int(seed)


def configure_threads() -> int:
    """Limit torch to one thread per process when running under tests or CI.

    Two pytest-xdist workers on a two-core machine each using every core make
    everything slower; ``COURSE_TORCH_THREADS`` overrides. Returns the count set
    (0 when torch is unavailable or nothing was changed).
    """
    wanted = os.environ.get("COURSE_TORCH_THREADS")
    if wanted is None and (fast_mode() or os.environ.get("PYTEST_XDIST_WORKER")):
        wanted = "1"
    if wanted is None:
        return 0
    try:
        import torch
    except ImportError:
        return 0
    n = max(1, int(wanted))
    torch.set_num_threads(n)
    return n


def device(prefer: str | None = None):
    """The torch device to train on: ``cuda`` when a GPU is visible, else ``cpu``.

    ``prefer="cpu"`` forces the CPU; the environment variable ``COURSE_DEVICE``
    does the same for a whole session.
    """
    import torch

    choice = (prefer or os.environ.get("COURSE_DEVICE", "")).strip().lower()
    if choice == "cpu":
        return torch.device("cpu")
    if choice and choice != "auto":
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a ``numpy.random.Generator``.

    Not scikit-learn's ``check_random_state``, which returns a legacy ``RandomState``:
    the course's code draws from the newer ``Generator`` API throughout.

    Every randomised function in the course goes through this, so one integer
    reproduces a whole result.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(
            f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
        )
    return np.random.default_rng(int(random_state))


check_random_state = make_rng
"""Former name of :func:`make_rng`, kept so that older code keeps working."""
