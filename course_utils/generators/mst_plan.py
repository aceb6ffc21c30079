"""Which two-way marginals MST measures, and with what share of the budget (lesson 10).

MST measures the two-way marginals of a tree. The tree can be chosen privately (the
paper) or taken from public knowledge. This module reads the public forms of
``MSTSynthesizer(tree=...)``:

- a column name: the *star* around it (every other column paired with it);
- a list of ``(column, column)`` pairs forming a spanning tree;
- a **measurement plan**: a dict ``{(column, column): weight}`` or a list of
  ``(column, column, weight)`` triples. Only the listed pairs are measured (they must
  form a forest: no cycle, but not every column needs a pair) and the two-way budget is
  split in proportion to the weights. The weights are public, like the pairs: a
  clinician's short list of what drives the outcome, with more weight on what matters
  most.

The stars and spanning trees split the two-way budget equally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MeasurementPlan", "joined_components", "measurement_plan", "public_tree"]


@dataclass
class MeasurementPlan:
    """The public part of what MST measures.

    ``edges``: variable-index pairs; ``shares``: each pair's fraction of the two-way
    budget (summing to 1); ``weighted``: a plan given with weights (a forest, whose
    paired columns are not measured on their own).
    """

    edges: list[tuple[int, int]]
    shares: list[float]
    weighted: bool


def joined_components(component: list[int], a: int, b: int) -> list[int]:
    """Connected parts after adding the edge ``(a, b)``: ``b``'s part joins ``a``'s."""
    old, new = component[b], component[a]
    return [new if c == old else c for c in component]


def public_tree(tree: str | Sequence[tuple[str, str]] | None,
                names: Sequence[str]) -> list[tuple[int, int]] | None:
    """The edges (as variable indices) of a tree given in advance, checked; ``None`` if none.

    ``tree`` is a variable name (the star around it) or ``(name, name)`` pairs that must
    join all ``len(names)`` variables without a cycle.
    """
    if tree is None:
        return None
    index = {n: i for i, n in enumerate(names)}
    if isinstance(tree, str):
        if tree not in index:
            raise ValueError(f"tree={tree!r}: no such column; choose one of {list(names)}")
        centre = index[tree]
        return [(centre, j) for j in range(len(names)) if j != centre]
    edges = _forest(tree, index)
    if len(edges) != len(names) - 1:
        raise ValueError(f"tree: {len(edges)} pairs do not join all {len(names)} columns "
                         f"(a spanning tree has {len(names) - 1})")
    return edges


def _forest(pairs: Sequence[Sequence[str]], index: Mapping[str, int]) -> list[tuple[int, int]]:
    """Variable-index edges of ``pairs``, refusing unknown columns and cycles."""
    edges, component = [], list(range(len(index)))
    for pair in pairs:
        if len(pair) != 2 or any(c not in index for c in pair):
            unknown = [c for c in pair if c not in index] if len(pair) == 2 else []
            why = f": unknown column {unknown[0]!r}" if unknown else ""
            raise ValueError(f"tree: {tuple(pair)!r} is not a pair of columns{why}; columns are {list(index)}")
        a, b = index[pair[0]], index[pair[1]]
        if a == b:
            raise ValueError(f"tree: the pair {tuple(pair)!r} joins column {pair[0]!r} to itself")
        if component[a] == component[b]:
            raise ValueError(f"tree: the pair {tuple(pair)!r} closes a cycle; a tree has none")
        component = joined_components(component, a, b)
        edges.append((a, b))
    return edges


def _weighted_pairs(tree: Any) -> list[tuple[tuple[str, str], float]] | None:
    """``[((a, b), weight), ...]`` when ``tree`` is a weighted plan, else ``None``."""
    if isinstance(tree, Mapping):
        return [(tuple(pair), w) for pair, w in tree.items()]
    if isinstance(tree, str) or not isinstance(tree, Sequence) or not tree:
        return None
    if all(isinstance(t, Sequence) and not isinstance(t, str) and len(t) == 3 for t in tree):
        return [((t[0], t[1]), t[2]) for t in tree]
    return None


def measurement_plan(tree: Any, names: Sequence[str]) -> MeasurementPlan | None:
    """The checked public plan of ``MSTSynthesizer(tree=...)``; ``None`` for a private choice.

    Raises ``ValueError`` naming the pair or column for an unknown column, a cycle, a
    weight that is not a finite number >= 0, or weights summing to zero.
    """
    weighted = _weighted_pairs(tree)
    if weighted is None:
        edges = public_tree(tree, names)
        if edges is None:
            return None
        return MeasurementPlan(edges, [1.0 / len(edges)] * len(edges), weighted=False)
    if not weighted:
        raise ValueError("tree: the measurement plan lists no pair of columns")
    index = {n: i for i, n in enumerate(names)}
    edges = _forest([pair for pair, _ in weighted], index)
    weights = []
    for (a, b), w in weighted:
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(float(w)) or w < 0:
            raise ValueError(f"tree: the pair ({a!r}, {b!r}) has weight {w!r}; a weight is a finite number > 0")
        weights.append(float(w))
    total = sum(weights)
    if total <= 0:
        raise ValueError(f"tree: the weights of the pairs {[p for p, _ in weighted]} sum to zero")
    zero = [pair for (pair, _), w in zip(weighted, weights, strict=True) if w == 0]
    if zero:
        raise ValueError(f"tree: the pair {zero[0]!r} has weight 0: it would be measured with "
                         "infinite noise; leave it out of the plan instead")
    return MeasurementPlan(edges, [w / total for w in weights], weighted=True)
