"""A variational autoencoder for mixed-type clinical tables (lesson 06).

An autoencoder squeezes each patient row through a small code (the latent vector)
and learns to rebuild the row from it. A *variational* autoencoder makes the code a
distribution: the encoder gives a mean and a log-variance per latent dimension, a
code is drawn from that normal distribution (the reparameterisation
``z = mu + sigma * eps``, so gradients flow through the draw), and a Kullback-Leibler
(KL) term pulls every row's code distribution towards a standard normal. After
training, codes drawn from that standard normal decode to new rows.

What makes it work on a clinical table rather than a two-column toy:

- the table is encoded by :class:`~course_utils.transform.TabularTransformer`:
  categoricals as one-hot blocks decoded with a softmax per block (cross-entropy in
  the loss), binary columns and missing-value indicators with a sigmoid (binary
  cross-entropy), numeric columns as normal scores of their empirical distribution
  (quantile transform), which keeps skewed and multi-modal shapes;
- each numeric column has a learned output variance (a Gaussian likelihood instead of
  plain squared error), and sampling adds that noise back: decoding only the mean is
  what makes toy VAEs squeeze every blood pressure towards the average;
- the KL weight ``beta`` is a keyword: too high and the codes carry little about the
  row (blurry averages), too low and the model behaves like a plain autoencoder whose
  decoder stays close to the training rows (lesson 06 plots both ends);
- after training, each numeric column's generated values are mapped monotonically onto
  the training marginal (:class:`~course_utils.generators.neural.MarginalCalibrator`)
  and each discrete level's logit gets a constant offset that restores its training
  share (:func:`~course_utils.generators.neural.frequency_offsets`), ``calibrate=True``:
  a small network's marginals are a little off (too narrow in one column, a rare level
  too rare); these corrections fix the shapes and, being monotone and the same for
  every row, keep the relationships between columns the model learned.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..transform import ORDINAL_LEVELS, TabularTransformer
from .base import Synthesizer
from .neural import (
    EarlyStopping,
    MarginalCalibrator,
    activate,
    build_mlp,
    frequency_offsets,
    make_generator,
    reconstruction_loss,
    resolve_device,
    seeded,
    torch_seed,
    train_epochs,
)

__all__ = ["TabularVAE", "VAESynthesizer", "kl_divergence", "reparameterize"]

_LOG_VAR_RANGE = (-7.0, 2.0)  # keeps learned variances away from 0 (exploding NLL) and huge


def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The reparameterisation trick: ``z = mu + exp(0.5 * log_var) * eps``.

    ``eps`` is standard normal noise of the same shape. Writing the draw this way
    makes ``z`` a differentiable function of ``mu`` and ``log_var``.
    """
    return mu + torch.exp(0.5 * log_var) * eps


def kl_divergence(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL divergence from N(mu, exp(log_var)) to N(0, 1): summed over latent dimensions, averaged over rows.

    ``0.5 * sum(mu**2 + exp(log_var) - 1 - log_var)`` per row (Kingma & Welling, 2014,
    appendix B). It is 0 exactly when every row's code distribution is the standard normal.
    """
    return (0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var)).sum(dim=1).mean()


class TabularVAE(nn.Module):
    """Encoder and decoder MLPs plus a learned log-variance per numeric column.

    ``forward(x, generator)`` returns ``(logits, mu, log_var)``: the decoder's raw
    output for a sampled code, and the encoder's code distribution.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: Sequence[int], n_numeric: int,
                 dropout: float = 0.0, variational: bool = True):
        super().__init__()
        self.variational = variational
        self.latent_dim = latent_dim
        self.encoder = build_mlp(data_dim, hidden, 2 * latent_dim, dropout=dropout)
        self.decoder = build_mlp(latent_dim, list(hidden)[::-1], data_dim, dropout=dropout)
        self.numeric_log_var = nn.Parameter(torch.zeros(n_numeric))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code distribution of each row: ``(mu, log_var)``."""
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var.clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, log_var = self.encode(x)
        if self.variational and self.training:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = reparameterize(mu, log_var, eps)
        else:
            z = mu
        return self.decoder(z), mu, log_var

    @torch.no_grad()
    def init_output_bias(self, X: torch.Tensor, layout: Sequence[Any]) -> None:
        """Start the decoder at the training marginals (log-odds, log-frequencies, means).

        An untrained decoder then already reproduces each column's frequencies, so
        training spends its steps on the relationships between columns; short runs
        do not give, say, a 50% missing rate to a column that is 10% missing.
        """
        bias = self.decoder[-1].bias
        mean = X.mean(dim=0).clamp(1e-4, 1 - 1e-4)
        for span in layout:
            if span.kind == "onehot":
                bias[span.start : span.end] = torch.log(mean[span.start : span.end])
            elif span.kind in ("binary", "missing"):
                p = mean[span.start]
                bias[span.start] = torch.log(p / (1 - p))
            else:
                bias[span.start] = X[:, span.start].mean()

    def output_log_var(self) -> torch.Tensor:
        """The numeric columns' log-variances, kept inside a sensible range."""
        return self.numeric_log_var.clamp(*_LOG_VAR_RANGE)


class VAESynthesizer(Synthesizer):
    """Variational autoencoder for mixed clinical tables, on the course's generator contract.

    Args:
        latent_dim: size of the code.
        hidden: sizes of the encoder's hidden layers (the decoder mirrors them).
        epochs: passes over the training table.
        batch_size: rows per optimisation step.
        learning_rate: Adam's step size.
        weight_decay: Adam's L2 penalty.
        beta: weight of the KL term (1 is the standard VAE; lesson 06 varies it). The
            default 0.5 lets the codes carry more about each row, which gives WHAS500
            better pair trends while the DCR share stays below 0.6 (benchmark ``deep``).
        kl_warmup: epochs over which the KL weight rises linearly from 0 to ``beta``
            (0: full weight from the start).
        lr_decay: lower the learning rate along a cosine from ``learning_rate`` to a
            tenth of it over the epochs.
        variational: ``False`` trains a plain autoencoder (no noise, no KL term), whose
            code space has no known distribution to sample from: the lesson's
            starting point, not a good generator.
        learn_variance: learn an output variance per numeric column (Gaussian
            likelihood); ``False`` uses squared error.
        sample_noise: when sampling, add the learned noise to decoded numeric values
            (``False`` decodes only the mean: watch the marginals shrink).
        calibrate: after training, fit a monotone map per numeric column from the
            model's output to the training marginal (quantile mapping) and an offset
            per discrete level's logit that restores its training share, both on a
            draw of ``calibration_draws`` rows, and apply them when sampling. Used only with
            ``sample_noise=True``: decoding the means is the lesson's example of what
            goes wrong, and calibrating would hide it.
        calibration_draws: rows drawn from the trained model to estimate its marginals.
        continuous: how the transformer scales numeric columns (``"quantile"`` keeps
            skewed and multi-modal shapes; ``"standard"`` is a z-score).
        dropout: dropout rate in both networks (a little keeps the wide decoder from
            memorising training rows).
        early_stopping: hold out ``validation_fraction`` of the rows and stop when
            their loss has not improved for ``patience`` epochs (best weights kept).
        max_rejection_draws: cap on rows drawn when sampling with ``conditions``.
        device: ``None``/``"auto"`` (GPU when one is found), ``"cpu"`` or ``"cuda"``.
            The fitted model is moved to the CPU, so sampling and saving do not need a GPU.
        random_state: seed; the same seed gives the same model and samples on the same
            platform.
        verbose: show a progress bar with the current losses.

    Fitted attributes: ``transformer_``, ``model_``, ``loss_history_`` (one dict per
    epoch: ``loss``, ``reconstruction``, ``kl`` and the reconstruction terms per column
    kind; ``val_...`` with early stopping), ``n_epochs_``, ``fit_time_`` (seconds),
    ``device_`` (where it trained), ``calibrator_`` (the fitted
    :class:`~course_utils.generators.neural.MarginalCalibrator`, or ``None``),
    ``level_offsets_`` (the logit offsets, a tensor of zeros without calibration).

    Sampling with ``conditions`` uses rejection: rows are drawn until enough match,
    up to ``max_rejection_draws``; if the condition is too rare for that, the
    remaining rows get the condition imposed on an unconditioned draw and a warning
    says how many.
    """

    supports_conditions = True

    def __init__(
        self,
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 256),
        epochs: int = 300,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        beta: float = 0.5,
        kl_warmup: int = 0,
        lr_decay: bool = False,
        variational: bool = True,
        learn_variance: bool = True,
        sample_noise: bool = True,
        calibrate: bool = True,
        calibration_draws: int = 20_000,
        continuous: str = "quantile",
        dropout: float = 0.1,
        early_stopping: bool = False,
        patience: int = 30,
        validation_fraction: float = 0.15,
        max_rejection_draws: int = 100_000,
        device: str | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ):
        super().__init__(random_state=random_state, verbose=verbose)
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.lr_decay = lr_decay
        self.variational = variational
        self.learn_variance = learn_variance
        self.sample_noise = sample_noise
        self.calibrate = calibrate
        self.calibration_draws = calibration_draws
        self.continuous = continuous
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_rejection_draws = max_rejection_draws
        self.device = device

    # -- checks -----------------------------------------------------------------------
    def _check_params(self) -> None:
        def positive_int(name: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")

        for name in ("latent_dim", "epochs", "batch_size", "patience", "max_rejection_draws",
                     "calibration_draws"):
            positive_int(name)
        if not isinstance(self.hidden, Sequence) or isinstance(self.hidden, str):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (128, 128); got {self.hidden!r}")
        for name in ("learning_rate",):
            if not (isinstance(getattr(self, name), int | float) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name in ("weight_decay", "beta"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {v!r}")
        if isinstance(self.kl_warmup, bool) or not isinstance(self.kl_warmup, int | np.integer) or self.kl_warmup < 0:
            raise ValueError(f"kl_warmup must be an integer >= 0 (epochs), got {self.kl_warmup!r}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ValueError(f"validation_fraction must be in (0, 0.5), got {self.validation_fraction!r}")

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, df: pd.DataFrame) -> None:
        self._check_params()
        start = time.perf_counter()
        self.transformer_ = TabularTransformer(continuous=self.continuous, point_masses=True,
                                               ordinal_levels=ORDINAL_LEVELS).fit(df, self.metadata_)
        layout = self.transformer_.layout_
        n_numeric = sum(s.kind == "numeric" for s in layout)
        dev = resolve_device(self.device)
        self.device_ = str(dev)
        seed = torch_seed(self._rng)
        X = self.transformer_.transform_tensor(df).to(dev)
        with seeded(seed, dev):
            g = make_generator(seed, dev)
            val = None
            if self.early_stopping:
                n_val = max(1, int(round(self.validation_fraction * len(X))))
                if len(X) - n_val < 2:
                    raise ValueError(f"early stopping needs more rows than {len(X)} to hold some out")
                order = torch.randperm(len(X), generator=g, device=dev)
                val, X = X[order[:n_val]], X[order[n_val:]]
            model = TabularVAE(X.shape[1], int(self.latent_dim), [int(h) for h in self.hidden],
                               n_numeric, float(self.dropout), bool(self.variational)).to(dev)
            model.init_output_bias(X, layout)
            run = _VAETraining(self, model, layout, g, len(X))
            stopper = EarlyStopping(int(self.patience), monitor="val_loss") if self.early_stopping else None
            model.train()
            self.loss_history_ = train_epochs(
                run.step, X, epochs=int(self.epochs), batch_size=int(self.batch_size), generator=g,
                verbose=bool(self.verbose), desc="VAE",
                validate=(lambda: run.validate(val)) if val is not None else None,
                early_stopping=stopper, modules=[model],
            )
        model.eval()
        self.model_ = model.cpu()
        self.n_epochs_ = len(self.loss_history_)
        self.calibrator_ = None
        self.level_offsets_ = torch.zeros(X.shape[1])
        if self.calibrate and self.sample_noise:
            self._fit_calibration(df, seed)
        self.fit_time_ = time.perf_counter() - start

    def _fit_calibration(self, df: pd.DataFrame, seed: int) -> None:
        """Fit ``level_offsets_`` and ``calibrator_`` on a draw from the prior, against the training rows."""
        layout = self.transformer_.layout_
        numeric = [s for s in layout if s.kind == "numeric"]
        encoded = self.transformer_.transform(df).astype(float)
        real = encoded[:, [s.start for s in numeric]]
        # a missing value is encoded as a placeholder: leave it out of the training marginal
        indicator = {s.column: s.start for s in layout if s.kind == "missing"}
        for j, span in enumerate(numeric):
            if span.column in indicator:
                real[encoded[:, indicator[span.column]] > 0.5, j] = np.nan
        idx = [s.start for s in numeric]
        g = make_generator(seed + 1)
        z = torch.randn((int(self.calibration_draws), self.model_.latent_dim), generator=g)
        generated = self._raw_output(z, g)
        self.level_offsets_ = frequency_offsets(torch.from_numpy(generated), torch.from_numpy(encoded.mean(axis=0)), layout)
        if idx:
            self.calibrator_ = MarginalCalibrator().fit(generated[:, idx], real)

    # -- using the model --------------------------------------------------------------
    def _raw_output(self, z: torch.Tensor, g: torch.Generator) -> np.ndarray:
        """Decoder output for codes ``z`` with the learned noise added to numeric columns (not activated)."""
        layout = self.transformer_.layout_
        with torch.no_grad():
            logits = self.model_.decoder(z)
            if self.sample_noise:
                idx = torch.as_tensor([s.start for s in layout if s.kind == "numeric"], dtype=torch.long)
                if len(idx):
                    sd = torch.exp(0.5 * self.model_.output_log_var()) if self.learn_variance else torch.ones(len(idx))
                    logits[:, idx] += sd * torch.randn((len(z), len(idx)), generator=g)
        return logits.numpy()

    def _decode_codes(self, z: torch.Tensor, g: torch.Generator, rng: np.random.Generator) -> pd.DataFrame:
        layout = self.transformer_.layout_
        logits = self._raw_output(z, g)
        calibrator = getattr(self, "calibrator_", None)  # absent in models saved before calibration
        # the map was fitted to noisy output: on decoded means it would hide their shrinkage
        if calibrator is not None and self.sample_noise:
            idx = [s.start for s in layout if s.kind == "numeric"]
            logits[:, idx] = calibrator.transform(logits[:, idx])
        offsets = getattr(self, "level_offsets_", None)
        logits = torch.from_numpy(logits)
        if offsets is not None:
            logits = logits + offsets.to(logits.dtype)
        probs = activate(logits, layout)
        return self.transformer_.inverse_transform(probs, sample=True, random_state=rng)

    def _draw(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        g = make_generator(torch_seed(rng))
        z = torch.randn((n, self.model_.latent_dim), generator=g)
        return self._decode_codes(z, g, rng)

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        if not conditions:
            return self._draw(n, rng)
        accepted: list[pd.DataFrame] = []
        got, drawn = 0, 0
        batch = max(256, 4 * n)
        while got < n and drawn < self.max_rejection_draws:
            size = min(batch, self.max_rejection_draws - drawn)
            rows = self._draw(size, rng)
            drawn += size
            keep = np.ones(size, dtype=bool)
            for col, value in conditions.items():
                keep &= (rows[col] == value).fillna(False).to_numpy(dtype=bool)
            accepted.append(rows[keep])
            got += int(keep.sum())
            rate = got / drawn
            # aim the next draw at what is still missing, with a margin
            batch = int(min(max(256, 1.5 * (n - got) / rate if rate > 0 else 4 * batch), 50_000))
        out = pd.concat(accepted, ignore_index=True).iloc[:n] if accepted else self._empty()
        short = n - len(out)
        if short > 0:
            warnings.warn(
                f"VAESynthesizer: only {len(out)} of {n} rows matched {conditions} in "
                f"{drawn} draws (cap max_rejection_draws={self.max_rejection_draws}); the other "
                f"{short} rows are unconditioned draws with the condition imposed, so their "
                "other columns do not reflect it",
                UserWarning, stacklevel=3,
            )
            extra = self._draw(short, rng)
            self._impose(extra, conditions)
            out = pd.concat([out, extra], ignore_index=True)
        return out.reset_index(drop=True)

    def _impose(self, frame: pd.DataFrame, conditions: dict[str, Any]) -> None:
        for col, value in conditions.items():
            frame[col] = value
            group = self.metadata_[col].group
            if group is None:
                continue
            members = [m for m in self.metadata_.one_hot_groups[group] if m != col]
            if value == 1:
                for m in members:
                    frame[m] = 0
            elif members:
                none_set = frame[members].to_numpy(dtype=float).sum(axis=1) == 0
                frame.loc[none_set, members[0]] = 1

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """The code means of the rows of ``df`` (shape ``(n_rows, latent_dim)``), e.g. to plot the latent space."""
        self._check_fitted()
        X = self.transformer_.transform_tensor(df[self.columns_])
        with torch.no_grad():
            mu, _ = self.model_.encode(X)
        return mu.numpy()

    def decode(self, z: Any, random_state: int | None = None) -> pd.DataFrame:
        """Turn latent codes (array of shape ``(n, latent_dim)``) into table rows."""
        self._check_fitted()
        z = torch.as_tensor(np.asarray(z, dtype=np.float32))
        if z.ndim != 2 or z.shape[1] != self.model_.latent_dim:
            raise ValueError(f"codes must have shape (n, {self.model_.latent_dim}), got {tuple(z.shape)}")
        from ..config import make_rng

        rng = self._rng if random_state is None else make_rng(random_state)
        return self._decode_codes(z, make_generator(torch_seed(rng)), rng)

    def reconstruct(self, df: pd.DataFrame, random_state: int | None = None) -> pd.DataFrame:
        """Encode the rows of ``df`` and decode them again (what the autoencoder learned)."""
        return self.decode(self.encode(df), random_state=random_state)


class _VAETraining:
    """The steps of one VAE training run: the loss, the optimiser step with its schedules, validation."""

    def __init__(self, vae: VAESynthesizer, model: TabularVAE, layout: list, generator: torch.Generator,
                 n_rows: int):
        self.vae, self.model, self.layout, self.generator = vae, model, layout, generator
        self.opt = torch.optim.Adam(model.parameters(), lr=float(vae.learning_rate),
                                    weight_decay=float(vae.weight_decay))
        steps_per_epoch = -(-n_rows // int(vae.batch_size))
        self.total_steps = steps_per_epoch * int(vae.epochs)
        self.warmup_steps = steps_per_epoch * int(vae.kl_warmup)
        self.n_steps = 0

    def kl_weight(self) -> float:
        """The KL term's weight at this step (``beta``, ramped up over ``kl_warmup`` epochs)."""
        # a KL weight rising from 0 lets the codes carry information about the rows
        # before the pull towards N(0, I) sets in (Bowman et al. 2016)
        ramp = min(1.0, self.n_steps / self.warmup_steps) if self.warmup_steps else 1.0
        return float(self.vae.beta) * ramp

    def losses(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of a batch (reconstruction + weighted KL) and its parts for the history."""
        logits, mu, log_var = self.model(batch, self.generator)
        lv = self.model.output_log_var() if self.vae.learn_variance else None
        rec, parts = reconstruction_loss(logits, batch, self.layout, numeric_log_var=lv)
        kl = kl_divergence(mu, log_var) if self.vae.variational else rec.new_zeros(())
        loss = rec + self.kl_weight() * kl if self.vae.variational else rec
        return loss, {"loss": float(loss.detach()), "reconstruction": float(rec.detach()),
                      "kl": float(kl.detach()), **parts}

    def step(self, batch: torch.Tensor) -> dict[str, float]:
        """One optimiser step on a batch (with the cosine learning-rate decay when asked)."""
        if self.vae.lr_decay:
            # cosine decay to a tenth: large steps early, small ones to settle at the end
            frac = min(1.0, self.n_steps / max(1, self.total_steps))
            for group in self.opt.param_groups:
                group["lr"] = float(self.vae.learning_rate) * (0.1 + 0.45 * (1 + np.cos(np.pi * frac)))
        self.opt.zero_grad(set_to_none=True)
        loss, parts = self.losses(batch)
        loss.backward()
        self.opt.step()
        self.n_steps += 1
        return parts

    def validate(self, val: torch.Tensor) -> dict[str, float]:
        """The loss on the held-out rows, without training."""
        self.model.eval()
        with torch.no_grad():
            _, parts = self.losses(val)
        self.model.train()
        return {"val_loss": parts["loss"]}
