"""The grammar of a valid sentence, for guided decoding (lesson 09).

A sentence of :class:`~course_utils.generators.text_rows.RowFormat` is valid when every
pair name appears once, each value is valid for its column, and ``<eos>`` comes after
the last pair. :class:`RowGrammar` follows a sentence token by token and lists the
tokens that keep it valid; a sampler that draws only among those tokens can only write
valid rows.
"""

from __future__ import annotations

from typing import Any

from .text_rows import DIGITS, MISSING, PAIR_SEP, Field, RowFormat, RowTokenizer

__all__ = ["RowGrammar"]


class RowGrammar:
    """Which tokens may come next in a valid sentence: the rules behind guided decoding.

    A sentence is ``name is value, name is value, ... <eos>``; in tokens, a pair start
    ``"name is "`` for a name not used yet, a value valid for that name (one of its
    categories, a number within its range written with its decimals, or ``nan`` when
    the column is nullable), then ``", "`` before the next pair or ``<eos>`` after the
    last. The anchor pair of the prompt is skipped. ``start()`` gives a fresh state,
    ``advance`` feeds it one token, ``allowed`` lists the token ids that keep the
    sentence valid.
    """

    def __init__(self, fmt: RowFormat, tokenizer: RowTokenizer):
        self.fmt, self.tok = fmt, tokenizer
        self.pair_ids = {tokenizer.id(tokenizer.pair_token(f.name)): f.name for f in fmt.fields_}
        self.sep_id, self.eos_id = tokenizer.id(PAIR_SEP), tokenizer.eos_id
        self.anchor_id = tokenizer.id(tokenizer.pair_token(fmt.anchor)) if fmt.anchor is not None else None
        self.digit_ids = [tokenizer.id(d) for d in DIGITS]
        self._values: dict[str, dict[str, list[int]]] = {}  # field -> value prefix -> next token ids
        self._complete: dict[str, set[str]] = {}

    def _tables(self, f: Field) -> tuple[dict[str, list[int]], set[str]]:
        if f.name not in self._values:
            nxt: dict[str, set[int]] = {}
            texts = f.value_texts()
            for text in texts:
                # a category or nan is one token; a number is spelt one character at a time
                pieces = [text] if (f.kind == "category" or text == MISSING) else list(text)
                for k, piece in enumerate(pieces):
                    nxt.setdefault("".join(pieces[:k]), set()).add(self.tok.id(piece))
            self._values[f.name] = {p: sorted(ids) for p, ids in nxt.items()}
            self._complete[f.name] = set(texts)
        return self._values[f.name], self._complete[f.name]

    def start(self) -> dict[str, Any]:
        """A state at the start of a sentence (after ``<bos>``)."""
        return {"used": set(), "field": None, "phase": "name", "value": "", "done": False}

    def advance(self, state: dict[str, Any], token: int) -> None:
        """Move ``state`` past one token (the token is assumed allowed)."""
        token = int(token)
        if token == self.eos_id:
            state["done"] = True
        elif token == self.sep_id:
            state["phase"] = "name"
        elif token == self.anchor_id:
            state["field"], state["phase"], state["value"] = None, "value", ""
        elif token in self.pair_ids:
            name = self.pair_ids[token]
            state["used"].add(name)
            state["field"], state["phase"], state["value"] = name, "value", ""
        elif state["phase"] == "value":  # (the instruction token leaves the start state as it is)
            state["value"] += self.tok.vocab[token]

    def _after_value(self, state: dict[str, Any]) -> list[int]:
        return [self.sep_id] if len(state["used"]) < len(self.pair_ids) else [self.eos_id]

    def allowed(self, state: dict[str, Any]) -> list[int]:
        """Token ids that keep the sentence valid from ``state``."""
        if state["done"]:
            return [self.tok.pad_id]
        if state["phase"] == "name":
            return [i for i, name in self.pair_ids.items() if name not in state["used"]]
        if state["field"] is None:  # the anchor's digits: not constrained
            return self.digit_ids + (self._after_value(state) if state["value"] else [])
        nxt, complete = self._tables(self.fmt.field(state["field"]))
        ids = list(nxt.get(state["value"], []))
        if state["value"] in complete:
            ids += self._after_value(state)
        return ids
