"""Training a conditional WGAN-GP: the objective's pieces, the networks and one training run.

:class:`~course_utils.generators.gan.GANSynthesizer` prepares the data (encoding,
condition column, sampling weights) and hands it to :class:`WGANTraining`, which holds
what one run needs (the generator, the critic, their optimisers, an averaged copy of
the generator, the data and one random stream) and does the steps: draw real rows
with their conditions, update the critic ``discriminator_steps`` times, update the
generator, update the average.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .neural import activate, build_mlp, make_generator, train_epochs

if TYPE_CHECKING:
    from .gan import GANSynthesizer


# -- the pieces of the objective (also used in the lesson) ------------------------------
def critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The Wasserstein critic loss ``mean(D(fake)) - mean(D(real))`` (to minimise).

    Its negative, ``mean(D(real)) - mean(D(fake))``, is the critic's estimate of the
    Wasserstein distance between the real and generated distributions (when the
    critic is 1-Lipschitz): the number to watch in the training curves.
    """
    return d_fake.mean() - d_real.mean()


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty: ``mean((||grad D(x_hat)||_2 - 1)**2)`` on random interpolates.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U(0, 1)`` per row
    (shape ``(n, 1)``; pass ``eps`` to fix it, or a ``generator`` to draw it
    reproducibly). A 1-Lipschitz critic has gradient norm at most 1 everywhere; the
    penalty pushes it towards 1 along the lines between real and fake rows, which is
    what keeps WGAN-GP training stable (Gulrajani et al. 2017, eq. 3).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    if eps is None:
        eps = torch.rand(len(real), 1, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(x_hat)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def log_frequency_probabilities(counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Training-by-sampling probabilities of the levels: proportional to ``log(1 + count)``.

    A level with 10 rows out of 500 is drawn with probability 0.28 instead of 0.02,
    so the generator practises it; a level with no rows gets 0.
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 1 or len(c) == 0 or (c < 0).any() or c.sum() <= 0:
        raise ValueError(f"counts must be non-negative with a positive total, got {c.tolist()}")
    w = np.log1p(c)
    return w / w.sum()


# -- the networks ------------------------------------------------------------------------
class _Residual(nn.Module):
    """Linear -> BatchNorm -> ReLU, with the input passed on beside the output (CTGAN)."""

    def __init__(self, i: int, o: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


def _generator_net(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """The generator: residual blocks (each sees the noise and condition again), then Linear."""
    layers, width = [], in_dim
    for h in hidden:
        layers.append(_Residual(width, int(h)))
        width += int(h)
    return nn.Sequential(*layers, nn.Linear(width, out_dim))


# -- one training run ------------------------------------------------------------------------
class WGANTraining:
    """One WGAN-GP training run on the encoded rows ``X`` with the settings of ``gan``.

    Build it inside ``seeded(seed, device)``: the networks' first weights come from the
    seeded torch stream, every later draw from the run's own generator (``gen``), in
    the same order on every run, so the same seed gives the same networks.
    """

    def __init__(self, gan: GANSynthesizer, X: np.ndarray, cond_dim: int, seed: int, device: Any):
        self.gan, self.cond_dim, self.device = gan, cond_dim, device
        data_dim = X.shape[1]
        self.G = _generator_net(gan.latent_dim + cond_dim, list(gan.generator_dim), data_dim).to(device)
        self.D = build_mlp(gan.pac * (data_dim + cond_dim), list(gan.discriminator_dim), 1,
                           activation="leaky_relu", dropout=gan.discriminator_dropout).to(device)
        self.G_avg = copy.deepcopy(self.G) if gan.ema_decay else None
        self.n_steps = 0
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=gan.generator_lr, betas=(0.5, 0.9),
                                      weight_decay=1e-6)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=gan.discriminator_lr, betas=(0.5, 0.9),
                                      weight_decay=1e-6)
        self.gen = make_generator(seed, device)
        self.X = torch.from_numpy(X).to(device)
        self.train_p = torch.as_tensor(getattr(gan, "_train_p", np.ones(1)), dtype=torch.float32, device=device)
        self.order = torch.as_tensor(gan._rows_by_level[0], device=device) if cond_dim else None
        self.starts = torch.as_tensor(gan._rows_by_level[1], device=device) if cond_dim else None

    def draw(self, batch: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Real rows and their condition vectors (training-by-sampling)."""
        if not self.cond_dim:
            return batch[:b], None
        level = torch.multinomial(self.train_p, b, replacement=True, generator=self.gen)
        size = self.starts[level + 1] - self.starts[level]
        u = torch.rand(b, generator=self.gen, device=self.device)
        rows = self.order[self.starts[level] + (u * size).long().clamp_max(size - 1)]
        return self.X[rows], F.one_hot(level, self.cond_dim).float()

    def generate(self, b: int, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generator logits and their activated rows for ``b`` noise vectors (and conditions)."""
        z = torch.randn(b, self.gan.latent_dim, generator=self.gen, device=self.device)
        logits = self.G(z if cond is None else torch.cat([z, cond], dim=1))
        return logits, activate(logits, self.gan.gan_layout_, tau=self.gan.tau, generator=self.gen)

    def pack(self, rows: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Rows (with their conditions) grouped ``pac`` at a time for the critic."""
        full = rows if cond is None else torch.cat([rows, cond], dim=1)
        return full.reshape(-1, self.gan.pac * full.shape[1])

    def critic_step(self, batch: torch.Tensor, b: int) -> dict[str, torch.Tensor]:
        """One critic update on ``b`` real and ``b`` generated rows; returns its losses."""
        real, cond = self.draw(batch, b)
        _, fake = self.generate(b, cond)
        real_p, fake_p = self.pack(real, cond), self.pack(fake.detach(), cond)
        d_real, d_fake = self.D(real_p), self.D(fake_p)
        gp = gradient_penalty(self.D, real_p, fake_p, generator=self.gen)
        loss_d = critic_loss(d_real, d_fake) + self.gan.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return {"critic": loss_d, "wasserstein": d_real.mean() - d_fake.mean(), "gradient_penalty": gp}

    def generator_step(self, batch: torch.Tensor, b: int) -> dict[str, torch.Tensor]:
        """One generator update; returns its Wasserstein loss and the condition's cross-entropy."""
        _, cond = self.draw(batch, b)
        logits, fake = self.generate(b, cond)
        loss_g = -self.D(self.pack(fake, cond)).mean()
        ce = torch.zeros((), device=self.device)
        if cond is not None:
            # the condition must show in the output, or the critic's hint is all G gets
            s = self.gan.condition_span_
            ce = F.cross_entropy(logits[:, s.start : s.end], cond.argmax(dim=1))
        self.opt_g.zero_grad(set_to_none=True)
        (loss_g + ce).backward()
        self.opt_g.step()
        return {"generator": loss_g, "condition": ce}

    def update_average(self) -> None:
        """Move the averaged generator towards the current one (exponential moving average)."""
        if self.G_avg is None:
            return
        # a shorter memory at first, so a short run is not an average of its start
        self.n_steps += 1
        decay = min(self.gan.ema_decay, (1 + self.n_steps) / (10 + self.n_steps))
        with torch.no_grad():
            for p_avg, p in zip(self.G_avg.parameters(), self.G.parameters(), strict=True):
                p_avg.lerp_(p, 1.0 - decay)
            for b_avg, b in zip(self.G_avg.buffers(), self.G.buffers(), strict=True):
                b_avg.copy_(b)

    def step(self, batch: torch.Tensor) -> dict[str, float]:
        """One training step on a batch: the critic's updates, then the generator's."""
        b = max(self.gan.pac, len(batch) - len(batch) % self.gan.pac)
        if len(batch) < b:  # the only batch of a small table: draw with replacement
            batch = self.X[torch.randint(len(self.X), (b,), generator=self.gen, device=self.device)]
        for _ in range(self.gan.discriminator_steps):
            critic = self.critic_step(batch, b)
        generator = self.generator_step(batch, b)
        self.update_average()
        losses = {**critic, **generator}
        return {k: losses[k].item() for k in ("critic", "generator", "wasserstein", "gradient_penalty",
                                              "condition")}

    def train(self, epochs: int, batch_size: int) -> list[dict[str, float]]:
        """Run ``epochs`` passes over the rows in batches; returns the loss history."""
        self.G.train()
        self.D.train()
        return train_epochs(self.step, self.X, epochs=epochs, batch_size=batch_size, generator=self.gen,
                            verbose=self.gan.verbose, desc="GAN", drop_last=True)

    def final_networks(self) -> tuple[nn.Module, nn.Module]:
        """The trained generator (its average when ``ema_decay`` is set) and critic, in eval mode."""
        G = self.G_avg if self.G_avg is not None else self.G
        G.eval()
        self.D.eval()
        return G, self.D
