"""The training loop of the deep generators: batches, epochs, progress bar, early stopping.

- :func:`batch_indices`: shuffled row indices in batches, from a seeded ``torch.Generator``;
- :func:`train_epochs`: run a step function over the batches of every epoch, with a
  ``tqdm`` progress bar showing the current losses and a per-epoch loss history;
- :class:`EarlyStopping`: stop on a validation loss that no longer improves, keeping
  the best weights.

Also importable from :mod:`course_utils.generators.neural`.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():
    # Without ipywidgets, tqdm.auto warns once and falls back to a text bar; the text
    # bar is all the course needs, so the warning is only noise in notebook output.
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> list[torch.Tensor]:
    """Split ``range(n)`` into mini-batches of row indices (shuffled with ``generator``).

    ``drop_last=True`` drops a final batch smaller than ``batch_size`` (needed with
    batch normalisation, which cannot normalise a batch of one row); it never drops
    the only batch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle:
        g_device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=g_device).cpu()
    else:
        order = torch.arange(n)
    batches = list(torch.split(order, int(batch_size)))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches = batches[:-1]
    return batches


class EarlyStopping:
    """Stop training when a monitored loss has not improved for ``patience`` epochs.

    Args:
        patience: epochs without an improvement of at least ``min_delta`` before stopping.
        min_delta: the smallest decrease that counts as an improvement.
        monitor: the key of the epoch's loss dictionary to watch (e.g. ``"val_loss"``).
        restore_best: put back the weights of the best epoch when training ends.

    After training: ``best_`` (best value), ``best_epoch_`` and ``stopped_epoch_``
    (``None`` when training ran all its epochs).
    """

    def __init__(self, patience: int = 20, min_delta: float = 0.0, monitor: str = "val_loss",
                 restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int | np.integer) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.monitor = monitor
        self.restore_best = restore_best
        self.best_ = math.inf
        self.best_epoch_: int | None = None
        self.stopped_epoch_: int | None = None
        self._state: list[dict[str, Any]] | None = None

    def update(self, epoch: int, losses: Mapping[str, float], modules: Sequence[nn.Module] = ()) -> bool:
        """Record one epoch; return True when training should stop."""
        if self.monitor not in losses:
            raise KeyError(f"early stopping watches {self.monitor!r}, which the epoch did not report "
                           f"(it reported {sorted(losses)})")
        value = float(losses[self.monitor])
        if value < self.best_ - self.min_delta:
            self.best_, self.best_epoch_ = value, epoch
            if self.restore_best:
                self._state = [copy.deepcopy(m.state_dict()) for m in modules]
            return False
        if self.best_epoch_ is not None and epoch - self.best_epoch_ >= self.patience:
            self.stopped_epoch_ = epoch
            return True
        return False

    def restore(self, modules: Sequence[nn.Module] = ()) -> None:
        """Load the best epoch's weights back into ``modules`` (when ``restore_best``)."""
        if self.restore_best and self._state is not None:
            for m, state in zip(modules, self._state, strict=True):
                m.load_state_dict(state)


def train_epochs(
    step: Callable[[torch.Tensor], Mapping[str, float]],
    data: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    verbose: bool = True,
    desc: str = "training",
    validate: Callable[[], Mapping[str, float]] | None = None,
    early_stopping: EarlyStopping | None = None,
    modules: Sequence[nn.Module] = (),
    drop_last: bool = False,
) -> list[dict[str, float]]:
    """Run ``epochs`` passes over ``data`` in shuffled mini-batches; return the loss history.

    ``step(batch)`` does one optimisation step on a batch (a slice of ``data``) and
    returns its losses as floats, e.g. ``{"loss": 1.3, "kl": 0.2}``. The history has
    one dict per epoch: ``epoch`` (1-based), the batch-size weighted mean of each loss,
    and, when ``validate`` is given, whatever it returns (call your validation losses
    ``val_...``). The progress bar (``tqdm.auto``; ``verbose=False`` hides it) shows the
    latest epoch's losses. With ``early_stopping`` the loop stops once the monitored
    loss stalls and, if asked, restores the best weights of ``modules``.
    Put the modules in training mode before calling; ``validate`` should switch to
    evaluation mode and back itself.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if len(data) == 0:
        raise ValueError("no rows to train on")
    history: list[dict[str, float]] = []
    bar = tqdm(range(1, int(epochs) + 1), desc=desc, disable=not verbose, leave=True)
    for epoch in bar:
        sums: dict[str, float] = {}
        seen = 0
        for idx in batch_indices(len(data), batch_size, generator, drop_last=drop_last):
            batch = data[idx.to(data.device)]
            losses = step(batch)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
            seen += len(idx)
        record: dict[str, float] = {"epoch": epoch}
        record.update({k: v / seen for k, v in sums.items()})
        if validate is not None:
            record.update({k: float(v) for k, v in validate().items()})
        history.append(record)
        if verbose:
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k != "epoch"}, refresh=False)
        if early_stopping is not None and early_stopping.update(epoch, record, modules):
            break
    bar.close()
    if early_stopping is not None:
        early_stopping.restore(modules)
    return history
