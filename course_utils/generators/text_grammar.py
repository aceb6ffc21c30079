"""The grammar of a valid sentence, for guided decoding (lesson 09).

A sentence of :class:`~course_utils.generators.text_rows.RowFormat` is valid when every
pair name appears once, each value is valid for its column, and ``<eos>`` comes after
the last pair. :class:`RowGrammar` follows a sentence token by token and lists the
tokens that keep it valid; a sampler that draws only among those tokens can only write
valid rows.
"""

from __future__ import annotations

from typing import Any

from .text_rows import DIGITS, IS, MISSING, PAIR_SEP, Field, RowFormat, RowTokenizer

__all__ = ["RowGrammar"]


class RowGrammar:
    """Which tokens may come next in a valid sentence: the rules behind guided decoding.

    A sentence is ``pair, pair, ..., pair <eos>`` where each pair is a name not used yet,
    ``" is "`` and a value valid for that name (one of its categories, a number within
    its range written with its decimals, or ``nan`` when the column is nullable). The
    anchor pair of the prompt is skipped. ``start()`` gives a fresh state, ``advance``
    feeds it one token, ``allowed`` lists the token ids that keep the sentence valid.
    """

    def __init__(self, fmt: RowFormat, tokenizer: RowTokenizer):
        self.fmt, self.tok = fmt, tokenizer
        self.field_ids = {tokenizer.id(f.name): f for f in fmt.fields_}
        self.is_id, self.sep_id, self.eos_id = tokenizer.id(IS), tokenizer.id(PAIR_SEP), tokenizer.eos_id
        self.anchor_id = tokenizer.id(fmt.anchor) if fmt.anchor is not None else None
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
        elif state["phase"] == "name":
            if token == self.anchor_id:
                state["field"], state["phase"] = None, "is"
            elif token in self.field_ids:  # (the instruction token leaves the state as it is)
                state["field"], state["phase"] = self.field_ids[token].name, "is"
        elif state["phase"] == "is":
            state["phase"], state["value"] = "value", ""
        elif state["phase"] == "value":
            if token == self.sep_id:
                if state["field"] is not None:
                    state["used"].add(state["field"])
                state["phase"], state["field"] = "name", None
            else:
                state["value"] += self.tok.vocab[token]

    def allowed(self, state: dict[str, Any]) -> list[int]:
        """Token ids that keep the sentence valid from ``state``."""
        if state["done"]:
            return [self.tok.pad_id]
        if state["phase"] == "name":
            return [i for i, f in self.field_ids.items() if f.name not in state["used"]]
        if state["phase"] == "is":
            return [self.is_id]
        if state["field"] is None:  # the anchor's digits: not constrained
            return [self.tok.id(d) for d in DIGITS] + [self.sep_id]
        nxt, complete = self._tables(self.fmt.field(state["field"]))
        ids = list(nxt.get(state["value"], []))
        if state["value"] in complete:
            last = len(state["used"]) + 1 == len(self.fmt.fields_)
            ids.append(self.eos_id if last else self.sep_id)
        return ids
