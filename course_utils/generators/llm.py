"""Language-model synthesis, GReaT-style (lesson 09): rows as sentences, a small transformer, rows back.

The trauma-registry study fine-tuned a large language model on rows written as
``"age is 63, gender is female, ..."`` (:mod:`.text_rows`), generated new sentences
and parsed them back into a table. No model can be downloaded here and a laptop has
no GPU, so :class:`LanguageModelSynthesizer` trains a small decoder-only transformer
(:class:`TinyGPT`, in the manner of minGPT) from scratch on those sentences:

- training: every training row written ``n_permutations`` times with the pairs in a
  random order, each copy starting with a random ``patient_id`` anchor (written anew
  before every epoch with ``redraw``, the default); next-token prediction with teacher forcing
  (:func:`training_step`), the learning rate warmed up then decayed on a cosine
  (:func:`warmup_cosine`); the anchor's random digits are left out of the loss, there
  is nothing to learn in them; each batch is cut after its longest sentence (the rest
  is padding, which causal attention never lets change an earlier position);
- column memory (``column_memory=True``): the model also reads, at every position,
  which columns the sentence has written so far (:class:`TinyGPT` ``column_tokens``),
  computed from the sentence's own tokens in training and in sampling alike;
- sampling: a prompt ``<bos> patient_id is 4821, `` (plus ``column is value, `` for
  each condition), then one token at a time with a temperature and an optional top-k
  cut; with ``guided=True`` only tokens that keep the sentence valid may be drawn
  (:class:`~.text_grammar.RowGrammar`). Sentences are parsed strictly; invalid ones are
  counted by reason (``sample_report_``) and replaced by new draws, never repaired;
- checkpoints: the weights after the epochs in ``checkpoint_epochs`` are kept in
  memory (and written with ``torch.save`` when ``checkpoint_dir`` is set), and
  :meth:`LanguageModelSynthesizer.at_epoch` gives the generator as it was then, so a
  lesson can compare short and long training without training twice.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .base import Synthesizer
from .neural import make_generator, resolve_device, seeded, torch_seed, train_epochs
from .text_grammar import RowGrammar
from .text_rows import (
    DIGITS,
    INSTRUCTION,
    IS,
    PAIR_SEP,
    ParseReport,
    RowFormat,
    RowParseError,
    RowTokenizer,
    check_tokenizer_version,
)
from .tiny_gpt import (
    IGNORE,
    Block,
    CausalSelfAttention,
    TinyGPT,
    sequence_loss,
    training_step,
    warmup_cosine,
)

# the model and its training step live in .tiny_gpt; they are named here too, where lesson 09 imports them
__all__ = ["CausalSelfAttention", "Block", "TinyGPT", "LanguageModelSynthesizer", "training_step",
           "sequence_loss", "warmup_cosine", "RowParseError", "IGNORE"]

CHECKPOINT_FORMAT = "course_utils.LanguageModelSynthesizer.checkpoint"
# 2: the file says whether the network has the column memory (files of version 1 do not)
CHECKPOINT_VERSION = 2


# -- the generator ----------------------------------------------------------------------
class LanguageModelSynthesizer(Synthesizer):
    """Rows as sentences, a small transformer trained from scratch, sentences parsed back into rows.

    Args:
        d_model, n_layers, n_heads, dropout: size of :class:`TinyGPT` (the defaults
            have about 110,000 weights: enough for a table of a few dozen columns).
        column_memory: add to every position's embedding a learned projection of the
            columns written so far in the sentence (a multi-hot vector read from the
            sentence's own tokens; :class:`TinyGPT` ``column_tokens``). A model this
            small does not learn "each column once" from the sentences alone; with the
            set of written columns as an input it does not have to. The model still
            chooses every token freely: nothing is masked, this is not guided decoding.
            Measured on WHAS500 (seed 0, 80 epochs, fixed sentences, temperature 1):
            70% of unguided sentences valid with it, 63% without; with ``redraw`` too,
            82% (see ``redraw``).
        epochs, batch_size, learning_rate, weight_decay: AdamW training on the sentences.
            The default 125 epochs is what fits in 5 minutes of one CPU core on WHAS500
            (350 rows, 3 copies each; each batch is cut after its longest sentence, which
            saves the padding's cost). More epochs kept raising TSTR AUC there, and the
            DCR share with it: in the benchmark (3 seeds) 110 epochs left TSTR 0.056
            below TRTR, 125 epochs 0.026 (DCR share 0.54); 145 epochs (2 seeds) 0.021,
            with a DCR share of 0.56. A larger batch does not help on a CPU: 64 or 128
            sentences per step cost as much per epoch as 32.
        lr_schedule: ``"cosine"`` (a linear warm-up over the first ``warmup`` share of
            the steps, then a cosine decay to 0 at the last epoch) or ``"constant"``.
            With ``"cosine"`` an early checkpoint is taken while the rate is still high.
        warmup: share of all training steps spent warming up (``"cosine"`` only).
        label_smoothing: share of each target's probability spread over all tokens. It
            teaches the model to give every token some probability, invalid ones too:
            on WHAS500 (80 epochs, no column memory) 0.05 left 8% of unguided
            sentences valid, against 63% without.
        n_permutations: copies of each training row, each with its pairs in a random
            order (3, as in the trauma-registry study); ``permute=False`` keeps the
            table's order in every copy.
        redraw: write the copies again before every epoch, with new orders and new
            anchor ids (``False``: the same sentences every epoch, as the study did).
            Without the column memory, redrawing left only 4% of unguided sentences
            valid on WHAS500 (60 epochs), against 54% without, nearly all lost to a
            repeated column: the model partly recalled the orders it had seen instead
            of learning "each column once". With the column memory it is the other way
            round (seed 0, 80 epochs, temperature 1): 82% valid with redrawing, 70%
            with fixed sentences.
        max_decimals: decimals of continuous columns in the sentences.
        anchor: name of the random id pair that starts every sentence (``None``: none).
        instruction: put the study's instruction in front of every sentence.
        temperature: divides the logits before sampling (below 1: safer, less varied).
            The default 0.8 was chosen on WHAS500 (seed 0, the other defaults): 97%
            of unguided sentences valid, against 89% at 1.0, for a quality score
            0.02 lower (0.92 against 0.94). ``be_great`` samples at 0.7 by default.
        top_k: sample only among the ``top_k`` most likely tokens (``None``: all).
        guided: allow only tokens that keep the sentence a valid row.
        checkpoint_epochs: epochs after which the weights are kept (the last is always kept).
        checkpoint_dir: also write each checkpoint there (``epoch_NNNN.pt``, ``torch.save``).
        max_draws: at most ``max_draws * n + 100`` sentences per ``sample(n)`` call.
        sample_batch_size: sentences generated at once.
        device: ``None``/``"auto"`` (a GPU when one is found), ``"cpu"`` or ``"cuda"``.

    Fitted attributes: ``format_`` (:class:`~.text_rows.RowFormat`), ``tokenizer_``
    (:class:`~.text_rows.RowTokenizer`), ``model_`` (on the CPU), ``loss_history_`` (one
    dict per epoch), ``checkpoints_`` (epoch -> state dict), ``epoch_`` (the epoch of
    the current weights), ``context_``, ``fit_time_``, ``device_``. After each
    ``sample``: ``sample_report_`` (a :class:`~.text_rows.ParseReport`) and
    ``validity_rate_``.
    """

    supports_conditions = True
    column_memory = False  # what a generator file saved before the column memory existed reads back as

    def __init__(self, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, dropout: float = 0.1,
                 column_memory: bool = True,
                 epochs: int = 125, batch_size: int = 32, learning_rate: float = 5e-3,
                 weight_decay: float = 0.01, lr_schedule: str = "cosine", warmup: float = 0.05,
                 label_smoothing: float = 0.0, n_permutations: int = 3, permute: bool = True,
                 redraw: bool = True,
                 max_decimals: int = 1, anchor: str | None = "patient_id", instruction: bool = False,
                 temperature: float = 0.8, top_k: int | None = None, guided: bool = False,
                 checkpoint_epochs: Sequence[int] | None = None, checkpoint_dir: str | Path | None = None,
                 max_draws: int = 20, sample_batch_size: int = 500, device: str | None = None,
                 random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.d_model, self.n_layers, self.n_heads, self.dropout = d_model, n_layers, n_heads, dropout
        self.column_memory = column_memory
        self.epochs, self.batch_size = epochs, batch_size
        self.learning_rate, self.weight_decay = learning_rate, weight_decay
        self.lr_schedule, self.warmup, self.label_smoothing = lr_schedule, warmup, label_smoothing
        self.n_permutations, self.permute, self.max_decimals = n_permutations, permute, max_decimals
        self.redraw = redraw
        self.anchor, self.instruction = anchor, instruction
        self.temperature, self.top_k, self.guided = temperature, top_k, guided
        self.checkpoint_epochs, self.checkpoint_dir = checkpoint_epochs, checkpoint_dir
        self.max_draws, self.sample_batch_size, self.device = max_draws, sample_batch_size, device

    def _check_params(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "epochs", "batch_size", "n_permutations",
                     "max_draws", "sample_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not isinstance(self.column_memory, bool | np.bool_):
            raise ValueError(f"column_memory must be True or False, got {self.column_memory!r}")
        for name in ("learning_rate", "temperature"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        for name in ("warmup", "label_smoothing"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v < 1.0):
                raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1):
            raise ValueError(f"top_k must be None or a positive integer, got {self.top_k!r}")
        for e in self.checkpoint_epochs or ():
            if isinstance(e, bool) or not isinstance(e, int | np.integer) or not 1 <= e <= self.epochs:
                raise ValueError(f"checkpoint_epochs: {e!r} is not an epoch between 1 and epochs={self.epochs}")

    # -- fitting ----------------------------------------------------------------------
    def encode_sentences(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids of sentences as ``(inputs, targets)`` for teacher forcing, padded to the context.

        ``targets`` is ``inputs`` shifted by one token, with padding and the anchor's
        digits set to -100 (not predicted).
        """
        tok = self.tokenizer_
        rows = [tok.encode(t) for t in texts]
        width = self.context_ + 1
        if max(map(len, rows)) > width:
            raise ValueError(f"a sentence has {max(map(len, rows))} tokens, more than the context {width}")
        seq = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            seq[i, :len(r)] = torch.as_tensor(r)
        targets = seq[:, 1:].clone()
        targets[targets == tok.pad_id] = IGNORE
        if self.anchor is not None:
            anchor, digits = tok.id(tok.pair_token(self.anchor)), {tok.id(d) for d in DIGITS}
            for i, r in enumerate(rows):
                if anchor in r:
                    a = end = r.index(anchor)
                    while end + 1 < len(r) and r[end + 1] in digits:
                        end += 1
                    targets[i, a:end] = IGNORE  # targets[j] is token j + 1: the digits
        return seq[:, :-1], targets

    def column_tokens(self) -> list[int]:
        """The token ids of the pair starts ``"name is "``, one per column (one-hot group) in table order."""
        tok = self.tokenizer_
        return [tok.id(tok.pair_token(name)) for name in self.format_.field_names]

    def _fit(self, df: pd.DataFrame) -> None:
        self._check_params()
        start = time.perf_counter()
        self.format_ = RowFormat(int(self.max_decimals), self.anchor, bool(self.instruction)).fit(df, self.metadata_)
        self.tokenizer_ = RowTokenizer.from_format(self.format_)
        texts = self.format_.serialize_table(df, int(self.n_permutations), bool(self.permute), self._rng)
        longest = max(len(self.tokenizer_.encode(t)) for t in texts)
        # a sentence's length does not depend on its order or its anchor id (always 4 digits): every
        # redraw fits; the rest is room for conditions written with more digits
        self.context_ = longest + 8
        dev = resolve_device(self.device)
        self.device_ = str(dev)
        current: dict[str, torch.Tensor] = {}

        def draw(texts: list[str]) -> None:
            inputs, targets = self.encode_sentences(texts)
            current["inputs"], current["targets"] = inputs.to(dev), targets.to(dev)
            current["lengths"] = (targets != IGNORE).cumsum(dim=1).argmax(dim=1).to(dev) + 1

        draw(texts)
        seed = torch_seed(self._rng)
        data = torch.arange(len(texts), device=dev)[:, None]  # train_epochs shuffles the sentences' numbers
        keep = set(int(e) for e in (self.checkpoint_epochs or ())) | {int(self.epochs)}
        self.checkpoints_ = {}
        with seeded(seed, dev):
            model = TinyGPT(len(self.tokenizer_), self.context_, int(self.d_model), int(self.n_layers),
                            int(self.n_heads), float(self.dropout),
                            column_tokens=self.column_tokens() if self.column_memory else None).to(dev)
            opt = torch.optim.AdamW(model.parameters(), lr=float(self.learning_rate),
                                    weight_decay=float(self.weight_decay))
            total = int(self.epochs) * math.ceil(len(data) / int(self.batch_size))
            if self.lr_schedule == "cosine":
                schedule = torch.optim.lr_scheduler.LambdaLR(
                    opt, warmup_cosine(total, int(round(float(self.warmup) * total))))
            epoch = [0]

            def step(batch: torch.Tensor) -> dict[str, float]:
                rows = batch[:, 0]
                # the positions after the batch's longest sentence are padding: causal attention never lets
                # them change an earlier position, so cutting them saves their cost and leaves the loss as it is
                width = int(current["lengths"][rows].max())
                loss = training_step(model, opt, current["inputs"][rows, :width], current["targets"][rows, :width],
                                     float(self.label_smoothing))
                if self.lr_schedule == "cosine":
                    schedule.step()
                return {"loss": loss}

            def after_epoch() -> dict[str, float]:
                epoch[0] += 1
                if epoch[0] in keep:
                    self._keep_checkpoint(epoch[0], model)
                if self.redraw and epoch[0] < int(self.epochs):
                    # new orders and new anchor ids: the model cannot tie a row to its id or to one order
                    draw(self.format_.serialize_table(df, int(self.n_permutations), bool(self.permute), self._rng))
                return {}

            model.train()
            self.loss_history_ = train_epochs(step, data, epochs=int(self.epochs), batch_size=int(self.batch_size),
                                              generator=make_generator(seed, dev), verbose=bool(self.verbose),
                                              desc="language model", validate=after_epoch)
        model.eval()
        self.model_ = model.cpu()
        self.epoch_ = int(self.epochs)
        self.fit_time_ = time.perf_counter() - start

    def _keep_checkpoint(self, epoch: int, model: nn.Module) -> None:
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        self.checkpoints_[epoch] = state
        if self.checkpoint_dir is not None:
            folder = Path(self.checkpoint_dir)
            folder.mkdir(parents=True, exist_ok=True)
            # the vocabulary goes with the weights: a file only fits the tokeniser it was trained with
            torch.save({"format": CHECKPOINT_FORMAT, "checkpoint_version": CHECKPOINT_VERSION,
                        "version": self.tokenizer_.version, "column_memory": bool(model.column_memory),
                        "vocab": list(self.tokenizer_.vocab), "state_dict": state}, folder / f"epoch_{epoch:04d}.pt")

    def at_epoch(self, epoch: int) -> LanguageModelSynthesizer:
        """A copy of this generator with the weights kept after ``epoch`` (see ``checkpoint_epochs``)."""
        self._check_fitted()
        if epoch not in self.checkpoints_:
            raise KeyError(f"no checkpoint of epoch {epoch!r}; kept: {sorted(self.checkpoints_)}")
        return self._with_weights(self.checkpoints_[epoch], int(epoch))

    def load_checkpoint(self, path: str | Path) -> LanguageModelSynthesizer:
        """A copy of this generator with weights read from a checkpoint file (``torch.load(weights_only=True)``).

        The file must come from a model with this generator's vocabulary; a file of the
        first version of the course (bare weights, another tokeniser) is refused with a
        ``ValueError`` that says to retrain.
        """
        self._check_fitted()
        path = Path(path)
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not (isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT):
            raise ValueError(f"{path.name} is not a language-model checkpoint of this course's current format "
                             "(files written before the tokeniser gave one token per 'column is' pair start "
                             "hold bare weights and cannot be used); retrain and save the checkpoints again")
        if data.get("checkpoint_version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path.name} is a checkpoint of version {data.get('checkpoint_version', 1)!r}, written "
                             f"before the model read the columns already written (this course writes version "
                             f"{CHECKPOINT_VERSION}); retrain and save the checkpoints again")
        check_tokenizer_version(data.get("version"))
        if bool(data.get("column_memory")) != bool(self.model_.column_memory):
            raise ValueError(f"{path.name} holds a model with column_memory={bool(data.get('column_memory'))}, "
                             f"this generator's has column_memory={bool(self.model_.column_memory)}; "
                             "load it into a generator built with the same setting")
        if list(data.get("vocab", ())) != list(self.tokenizer_.vocab):
            raise ValueError(f"{path.name} was trained with another vocabulary (other columns or categories) "
                             "than this generator's; load it into the generator it was trained with")
        match = path.stem.removeprefix("epoch_")
        return self._with_weights(data["state_dict"], int(match) if match.isdigit() else -1)

    def _with_weights(self, state: Mapping[str, torch.Tensor], epoch: int) -> LanguageModelSynthesizer:
        new = copy.copy(self)
        new.model_ = copy.deepcopy(self.model_)
        new.model_.load_state_dict(state)  # strict: a file of another architecture is refused
        new.model_.eval()
        new.epoch_ = epoch
        new._rng = copy.deepcopy(self._rng)
        return new

    def _check_fitted(self) -> None:
        super()._check_fitted()
        # a generator saved with the first tokeniser (no ``version``) cannot drive this code
        if hasattr(self, "tokenizer_"):
            check_tokenizer_version(getattr(self.tokenizer_, "version", 1))

    # -- sampling ---------------------------------------------------------------------
    def _prompt(self, conditions: Mapping[str, Any] | None, rng: np.random.Generator, n: int) -> torch.Tensor:
        tok, fmt = self.tokenizer_, self.format_
        pairs = []
        for col, value in (conditions or {}).items():
            group = self.metadata_[col].group
            if group is not None:
                if value != 1:
                    raise ValueError(f"condition {col!r}={value!r}: a column of the one-hot group {group!r} "
                                     "can only be fixed to 1 (fix the member that should be 1)")
                pairs.append((group, col))
                continue
            text = fmt.value_text(col, {col: value})
            if fmt.parse_value(col, text) != value:
                raise ValueError(f"condition {col!r}={value!r}: the sentences write this column with "
                                 f"{fmt.field(col).precision} decimal(s); pick a value such as {text}")
            pairs.append((col, text))
        if len({name for name, _ in pairs}) == len(fmt.fields_):
            raise ValueError("the conditions fix every column: there is nothing left to generate")
        rows = []
        for _ in range(n):
            head = [f"{fmt.anchor}{IS}{int(rng.integers(1000, 10_000))}"] if fmt.anchor else []
            # the prompt ends after a value: the model's first choice is which pair comes next
            body = PAIR_SEP.join(head + [f"{name}{IS}{text}" for name, text in pairs])
            rows.append(tok.encode((INSTRUCTION if fmt.instruction else "") + body, eos=False))
        return torch.as_tensor(rows, dtype=torch.long)

    @torch.no_grad()
    def _generate_ids(self, prompt: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        model, tok = self.model_, self.tokenizer_
        guided = bool(self.guided)
        grammar = RowGrammar(self.format_, tok) if guided else None
        states = []
        if guided:
            for row in prompt.tolist():
                s = grammar.start()
                for t in row[1:]:
                    grammar.advance(s, t)
                states.append(s)
        cache = [{} for _ in model.blocks]
        logits = model(prompt, cache)[:, -1, :]
        out = [prompt]
        done = torch.zeros(len(prompt), dtype=torch.bool)
        for _ in range(self.context_ - prompt.shape[1]):
            logits = logits / float(self.temperature)
            if guided:
                mask = torch.full_like(logits, float("-inf"))
                for i, s in enumerate(states):
                    mask[i, grammar.allowed(s)] = 0.0
                logits = logits + mask
            if self.top_k is not None and self.top_k < logits.shape[1]:
                kth = torch.topk(logits, int(self.top_k), dim=1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g).squeeze(1)
            nxt[done] = tok.pad_id
            done |= nxt == tok.eos_id
            out.append(nxt[:, None])
            if bool(done.all()):
                break
            if guided:
                for s, t in zip(states, nxt.tolist(), strict=True):
                    grammar.advance(s, t)
            logits = model(nxt[:, None], cache)[:, -1, :]
        return torch.cat(out, dim=1)

    def generate_text(self, n: int, conditions: Mapping[str, Any] | None = None,
                      random_state: int | np.random.Generator | None = None) -> list[str]:
        """``n`` generated sentences as they come out of the model, before any parsing."""
        from ..config import check_random_state

        self._check_fitted()
        conditions = self._check_conditions(conditions)
        rng = self._rng if random_state is None else check_random_state(random_state)
        texts: list[str] = []
        while len(texts) < n:
            size = min(int(self.sample_batch_size), n - len(texts))
            g = make_generator(torch_seed(rng))
            ids = self._generate_ids(self._prompt(conditions, rng, size), g)
            texts += [self.tokenizer_.decode(r) for r in ids.tolist()]
        return texts

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        report, frames, got = ParseReport(), [], 0
        budget = int(self.max_draws) * n + 100
        while got < n:
            if report.n_total >= budget:
                raise RuntimeError(
                    f"LanguageModelSynthesizer: only {got} of {n} requested rows were valid after "
                    f"{report.n_total} sentences (validity {report.validity_rate:.1%}; rejected: "
                    f"{dict(report.reasons)}); train longer, lower the temperature or use guided=True")
            rate = report.validity_rate if report.n_total else 1.0
            size = int(min(budget - report.n_total, max(16, 1.2 * (n - got) / max(rate, 0.05))))
            rows, part = self.format_.parse_many(self.generate_text(size, conditions, rng))
            report.add(part)
            frames.append(rows)
            got += len(rows)
        self.sample_report_ = report
        self.validity_rate_ = report.validity_rate
        return pd.concat(frames, ignore_index=True).iloc[:n].reset_index(drop=True)

    def parse(self, texts: Sequence[str]) -> tuple[pd.DataFrame, ParseReport]:
        """Parse sentences with this generator's format: the valid rows and a report of the rejected."""
        self._check_fitted()
        return self.format_.parse_many(texts)

    @torch.no_grad()
    def row_loss(self, df: pd.DataFrame, random_state: int | None = 0) -> np.ndarray:
        """Mean next-token loss of each row of ``df`` (written once, in a random order).

        A model that has memorised its training rows gives them a lower loss than new
        patients: lesson 09 uses this for a loss-based membership-inference attack.
        """
        self._check_fitted()
        texts = self.format_.serialize_table(df[self.columns_], 1, bool(self.permute), random_state)
        inputs, targets = self.encode_sentences(texts)
        logits = self.model_(inputs)
        per_token = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")
        counted = (targets != IGNORE).sum(dim=1).clamp_min(1)
        return (per_token.sum(dim=1) / counted).numpy()
