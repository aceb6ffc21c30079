"""The small decoder-only transformer of lesson 09 (in the manner of minGPT) and its training step.

:class:`TinyGPT` reads token ids and gives next-token logits; :func:`training_step` is
one step of teacher forcing; :func:`warmup_cosine` is the learning-rate schedule that
:class:`~course_utils.generators.llm.LanguageModelSynthesizer` trains with. Lesson 09
writes the same classes in its own cells, and a test checks that the two agree.

With ``column_tokens`` (the ids of the pair starts ``"age is "``, one per column) the
model also reads its *column memory*: at every position, which columns the sentence
has written so far, as a multi-hot vector computed from the token ids of the prefix,
mapped into the model's vector by one linear layer and added to the token and position
embeddings. It is computed the same way in training and in sampling and uses nothing but
the sentence's own tokens; the model still draws every next token freely (this is not
guided decoding: nothing is masked).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["IGNORE", "CausalSelfAttention", "Block", "TinyGPT", "sequence_loss", "training_step", "warmup_cosine"]

IGNORE = -100  # target id that cross-entropy skips (padding, the anchor's random digits)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position sees only itself and earlier positions."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # queries, keys and values in one product
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # sampling: keys and values of earlier tokens are kept, not recomputed
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        past = k.shape[2] - T
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])
        causal = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        att = self.drop(att.masked_fill(~causal, float("-inf")).softmax(dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.drop(self.proj(y))


class Block(nn.Module):
    """A transformer block: attention then a two-layer MLP, each on a layer-normed residual stream."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    """A decoder-only transformer: token + position embeddings, ``n_layers`` blocks, next-token logits.

    ``column_tokens``: the token ids that start a column's pair, in column order; when
    given, the embedding of every position also gets ``col_emb`` of the columns written
    up to it (:meth:`columns_written`), so that "which columns are left" is in the input
    instead of having to be recovered by attention over the whole prefix.
    """

    column_memory = False  # what a network saved before the column memory existed reads back as

    def __init__(self, vocab_size: int, context: int, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, dropout: float = 0.1, column_tokens: Sequence[int] | None = None):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.context = context
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(context, d_model)
        self.column_memory = column_tokens is not None
        if self.column_memory:
            column_tokens = [int(t) for t in column_tokens]
            if not column_tokens or len(set(column_tokens)) != len(column_tokens) or not all(
                    0 <= t < vocab_size for t in column_tokens):
                raise ValueError(f"column_tokens must be distinct token ids below vocab_size ({vocab_size}), "
                                 f"got {column_tokens}")
            # column_of[token]: the column a pair-start token opens, -1 for every other token
            column_of = torch.full((vocab_size,), -1, dtype=torch.long)
            column_of[torch.as_tensor(column_tokens)] = torch.arange(len(column_tokens))
            self.register_buffer("column_of", column_of)
            self.col_emb = nn.Linear(len(column_tokens), d_model, bias=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, dropout) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def columns_written(self, idx: torch.Tensor, before: torch.Tensor | None = None) -> torch.Tensor:
        """Multi-hot ``(B, T, n_columns)``: 1 where a column's pair start is among tokens ``0..t``.

        ``before`` ``(B, n_columns)``: the columns written by earlier tokens (sampling with a cache).
        """
        opened = F.one_hot(self.column_of[idx] + 1, self.col_emb.in_features + 1)[..., 1:]
        written = opened.cumsum(dim=1)
        if before is not None:
            written = written + before[:, None, :]
        return written.clamp(max=1).float()  # a column written twice is still "written"

    def forward(self, idx: torch.Tensor, cache: list[dict] | None = None) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``; ``cache`` (one dict per block) for sampling."""
        start = cache[0]["k"].shape[2] if cache and "k" in cache[0] else 0
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        if self.column_memory:
            written = self.columns_written(idx, cache[0].get("written") if cache else None)
            if cache:  # the next call continues from the last position's columns
                cache[0]["written"] = written[:, -1]
            x = x + self.col_emb(written)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i])
        return self.head(self.ln_f(x))


def sequence_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions (targets equal to -100 do not count)."""
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE,
                           label_smoothing=label_smoothing)


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                  targets: torch.Tensor, label_smoothing: float = 0.0) -> float:
    """One step of teacher forcing: predict every next token of the true sentence, back-propagate, update."""
    optimizer.zero_grad(set_to_none=True)
    loss = sequence_loss(model, inputs, targets, label_smoothing)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor of step ``s``: a linear rise over ``warmup_steps``, then a cosine decay to 0.

    A high rate early moves the model quickly out of its random start; the decay lets it
    settle on the last epochs instead of jumping around the minimum.
    """
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor
