"""Checks for lesson 10 (differential privacy), used by ``solutions/10_differential_privacy.ipynb``.

1. ``10.noise_scale``: a function giving the Laplace noise scale of a count at a given epsilon;
2. ``10.randomize``: randomised response, one coin flip per patient;
3. ``10.estimate``: the true rate recovered from randomised answers;
4. ``10.smallest_epsilon``: the smallest epsilon whose MST TSTR stays within a margin of TRTR;
5. ``10.plan_noise``: the Gaussian noise per pair of a weighted measurement plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from . import CheckFailed, as_number, register

EPSILON_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""The epsilons of exercise 4."""
SWEEP_SEEDS = (0, 1, 2)
TSTR_MARGIN = 0.05
"""Exercise 4: mean TSTR AUC at least TRTR AUC minus this."""


def _callable(obj: Any, what: str) -> Callable[..., Any]:
    if not callable(obj):
        raise CheckFailed(f"expected {what} (a function), found {type(obj).__name__}")
    return obj


# -- 1. the noise scale of a count -------------------------------------------------------------
# Each check below builds its inputs in trusted code from a seed the grader draws; the export
# calls the learner's function on them inside the learner's kernel and records the outputs;
# the verdict compares them with the formula.
def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(10 if seed is None else seed)


def _scale_inputs(seed: int | None) -> list[float]:
    extra = np.round(_rng(seed).uniform(0.2, 6.0, size=2), 3).tolist()
    return [0.1, 0.5, 1.0, 8.0, *extra]


def _scale_export(func: Any, epsilons: list[float]) -> list[Any]:
    func = _callable(func, "count_noise_scale(epsilon)")
    return [func(eps) for eps in epsilons]


@register("10.noise_scale", target="count_noise_scale", points=1, inputs=_scale_inputs,
          export=_scale_export,
          hint="One patient changes a count by at most 1 (the sensitivity); the Laplace scale is sensitivity / epsilon.")
def noise_scale(outputs: list[Any], epsilons: list[float]) -> None:
    """``count_noise_scale(epsilon)`` returns the Laplace scale ``1 / epsilon`` for several epsilons."""
    for eps, value in zip(epsilons, outputs, strict=True):
        got = as_number(value, f"count_noise_scale({eps})")
        want = 1.0 / eps
        if not math.isclose(got, want, rel_tol=1e-6):
            raise CheckFailed(f"count_noise_scale({eps}) gave {got:.4g}; the Laplace scale for a count at "
                              f"epsilon {eps} is {want:.4g}" + (" (a smaller epsilon needs more noise)"
                                                                 if got < want else ""))


# -- 2. randomised response --------------------------------------------------------------------
def _randomize_inputs(seed: int | None) -> dict[str, Any]:
    rng = _rng(seed)
    return {"truth": (rng.random(20_000) < 0.3).astype(np.int64),
            "seeds": rng.integers(0, 2**31 - 1, size=4).tolist()}


def _randomize_export(func: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    func = _callable(func, "randomize(answers, epsilon, rng)")
    truth, seeds = np.asarray(inputs["truth"]), inputs["seeds"]
    out = {f"eps{eps}": np.asarray(func(truth.copy(), eps, np.random.default_rng(s)))
           for eps, s in ((0.5, seeds[0]), (2.0, seeds[1]))}
    out["a"] = np.asarray(func(truth.copy(), 1.0, np.random.default_rng(seeds[2])))
    out["b"] = np.asarray(func(truth.copy(), 1.0, np.random.default_rng(seeds[3])))
    return out


@register("10.randomize", target="randomize", points=1, inputs=_randomize_inputs,
          export=_randomize_export,
          hint="Keep each answer with probability e^eps / (1 + e^eps), flip it otherwise; draw with the rng given.")
def randomize(outputs: dict[str, Any], inputs: dict[str, Any]) -> None:
    """``randomize(answers, epsilon, rng)`` keeps each 0/1 answer with probability ``e^eps/(1+e^eps)``."""
    truth = np.asarray(inputs["truth"])
    for eps in (0.5, 2.0):
        out = np.asarray(outputs[f"eps{eps}"])
        if out.shape != truth.shape:
            raise CheckFailed(f"expected one answer per patient ({truth.shape[0]}), got shape {out.shape}")
        if not np.isin(out, (0, 1)).all():
            raise CheckFailed("every reported answer should still be 0 or 1")
        kept = float((out == truth).mean())
        want = math.exp(eps) / (1 + math.exp(eps))
        if abs(kept - want) > 0.015:
            raise CheckFailed(f"at epsilon {eps}, {kept:.1%} of the answers were kept; a truthful answer "
                              f"should be reported with probability {want:.1%}")
        flipped_ones = float(((truth == 1) & (out == 0)).sum() / (truth == 1).sum())
        flipped_zeros = float(((truth == 0) & (out == 1)).sum() / (truth == 0).sum())
        if abs(flipped_ones - flipped_zeros) > 0.03:
            raise CheckFailed(f"1s were flipped {flipped_ones:.1%} of the time, 0s {flipped_zeros:.1%}: "
                              "both should be flipped with the same probability")
    if np.array_equal(np.asarray(outputs["a"]), np.asarray(outputs["b"])):
        raise CheckFailed("two different rngs gave the same answers: draw the coin flips from the rng argument")


# -- 3. the estimate ---------------------------------------------------------------------------
def _estimate_inputs(seed: int | None) -> list[dict[str, Any]]:
    rng = _rng(seed)
    cases = []
    for eps, rate in ((0.5, 0.1), (1.0, 0.3), (3.0, 0.6)):
        p = math.exp(eps) / (1 + math.exp(eps))
        reported = (rng.random(5000) < p * rate + (1 - p) * (1 - rate)).astype(np.int64)
        cases.append({"epsilon": eps, "reported": reported})
    return cases


def _estimate_export(func: Any, cases: list[dict[str, Any]]) -> list[Any]:
    func = _callable(func, "estimate_rate(reported, epsilon)")
    return [func(np.asarray(c["reported"]).copy(), c["epsilon"]) for c in cases]


@register("10.estimate", target="estimate_rate", points=1, inputs=_estimate_inputs,
          export=_estimate_export,
          hint="E[reported mean] = p * rate + (1 - p) * (1 - rate) with p = e^eps / (1 + e^eps); solve for rate.")
def estimate(outputs: list[Any], cases: list[dict[str, Any]]) -> None:
    """``estimate_rate(reported, epsilon)`` is the unbiased estimate ``(mean - (1 - p)) / (2p - 1)``."""
    for case, value in zip(cases, outputs, strict=True):
        eps, reported = case["epsilon"], np.asarray(case["reported"])
        p = math.exp(eps) / (1 + math.exp(eps))
        want = (reported.mean() - (1 - p)) / (2 * p - 1)
        got = as_number(value, f"estimate_rate(reported, {eps})")
        if not math.isclose(got, want, abs_tol=1e-6):
            raise CheckFailed(f"at epsilon {eps} the reported rate is {reported.mean():.3f} and the unbiased "
                              f"estimate is {want:.3f}; you gave {got:.3f}")


# -- 4. the smallest useful epsilon ------------------------------------------------------------
@lru_cache(maxsize=1)
def tstr_by_epsilon() -> dict[float, tuple[float, float]]:
    """``{epsilon: (mean TSTR AUC, TRTR AUC)}`` of MST on WHAS500 as exercise 4 computes them.

    ``MSTSynthesizer(epsilon=eps, delta=1e-6, bounds=WHAS500_PUBLIC_BOUNDS, random_state=seed)``
    fitted on the lesson's training split, ``len(train)`` rows sampled, logistic TSTR on the
    holdout (``tstr(..., metadata=meta)``), averaged over seeds 0, 1, 2.
    """
    from ..evaluation import tstr
    from ..generators.dp_domain import WHAS500_PUBLIC_BOUNDS
    from ..generators.mst import MSTSynthesizer
    from . import whas500_split

    train, holdout, meta = whas500_split()
    out = {}
    for eps in EPSILON_GRID:
        aucs, trtr = [], 0.0
        for seed in SWEEP_SEEDS:
            gen = MSTSynthesizer(epsilon=eps, delta=1e-6, bounds=WHAS500_PUBLIC_BOUNDS, random_state=seed,
                                 verbose=False).fit(train, meta)
            res = tstr(train, gen.sample(len(train)), holdout, "fstat", metadata=meta, n_bootstrap=20)
            auc = res[res["metric"] == "auc"].set_index("trained_on")["value"]
            aucs.append(float(auc["synthetic"]))
            trtr = float(auc["real"])
        out[eps] = (float(np.mean(aucs)), trtr)
    return out


@register("10.smallest_epsilon", target="smallest_epsilon", points=1,
          hint="For each epsilon of the grid average TSTR over seeds 0, 1, 2; keep those within 0.05 of TRTR; take the smallest.")
def smallest_epsilon(obj: Any) -> None:
    """The smallest epsilon of :data:`EPSILON_GRID` whose mean MST TSTR AUC is within 0.05 of TRTR."""
    eps = as_number(obj, "smallest_epsilon")
    if not any(math.isclose(eps, g) for g in EPSILON_GRID):
        raise CheckFailed(f"choose one of the epsilons of the grid {list(EPSILON_GRID)}, found {eps}")
    curve = tstr_by_epsilon()
    ok = [g for g, (t, r) in curve.items() if t >= r - TSTR_MARGIN]
    if not ok:
        raise CheckFailed("no epsilon of the grid keeps TSTR within the margin: report this to the course team")
    best = min(ok)
    mean, trtr = curve[min(EPSILON_GRID, key=lambda g: abs(g - eps))]
    if eps not in ok and not any(math.isclose(eps, g) for g in ok):
        raise CheckFailed(f"at epsilon {eps} MST's mean TSTR AUC is {mean:.3f}, more than {TSTR_MARGIN} "
                          f"below TRTR ({trtr:.3f}): that epsilon costs too much utility")
    if not math.isclose(eps, best):
        raise CheckFailed(f"epsilon {eps} keeps TSTR within the margin, but a smaller epsilon of the grid "
                          "does too: the smallest one protects patients more for the same promise of utility")


# -- 5. the noise per pair of a measurement plan -----------------------------------------------
def _plan_inputs(seed: int | None) -> list[dict[str, Any]]:
    rng = _rng(seed)
    weights = np.round(rng.uniform(0.5, 6.0, size=3), 2).tolist()
    return [{"pairs": [["fstat", "lenfol"], ["fstat", "age"], ["fstat", "chf"], ["fstat", "bmi"]],
             "weights": [4.0, 2.0, 1.0, 1.0], "rho": 0.012},
            {"pairs": [["a", "b"], ["a", "c"], ["c", "d"]], "weights": weights,
             "rho": float(np.round(rng.uniform(0.005, 0.5), 4))}]


def _plan_export(func: Any, cases: list[dict[str, Any]]) -> list[list[Any]]:
    func = _callable(func, "pair_noise(weights, rho_two_way)")
    out = []
    for case in cases:
        pairs = [tuple(p) for p in case["pairs"]]
        got = func(dict(zip(pairs, case["weights"], strict=True)), case["rho"])
        if not hasattr(got, "get"):
            raise CheckFailed(f"pair_noise should return a dict {{pair: noise sd}}, found {type(got).__name__}")
        out.append([got.get(pair) for pair in pairs])
    return out


@register("10.plan_noise", target="pair_noise", points=1, inputs=_plan_inputs, export=_plan_export,
          hint="A pair with weight w gets rho_pair = rho_two_way * w / (sum of the weights); "
               "its noise sd is 1 / sqrt(2 * rho_pair).")
def plan_noise(outputs: list[list[Any]], cases: list[dict[str, Any]]) -> None:
    """``pair_noise(weights, rho)`` gives each pair the sd ``1 / sqrt(2 rho w / sum w)``."""
    for case, values in zip(cases, outputs, strict=True):
        total = sum(case["weights"])
        for pair, w, value in zip(case["pairs"], case["weights"], values, strict=True):
            if value is None:
                raise CheckFailed(f"the result has no entry for the pair {tuple(pair)}: key it by the plan's pairs")
            got = as_number(value, f"the noise of {tuple(pair)}")
            want = 1.0 / math.sqrt(2.0 * case["rho"] * w / total)
            if not math.isclose(got, want, rel_tol=1e-6):
                equal = 1.0 / math.sqrt(2.0 * case["rho"] / len(case["weights"]))
                why = (" (that is an equal split: the weights decide each pair's share)"
                       if math.isclose(got, equal, rel_tol=1e-6) else "")
                raise CheckFailed(f"with rho {case['rho']} and weights {case['weights']}, the pair {tuple(pair)} "
                                  f"(weight {w}) should get noise sd {want:.4g}; you gave {got:.4g}{why}")
