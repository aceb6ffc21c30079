"""The arithmetic of differential privacy used in lesson 10 and by the DP generators.

A mechanism ``M`` is epsilon-differentially private when, for any two tables that
differ in one patient and any set ``S`` of outputs,
``P(M(table) in S) <= exp(epsilon) * P(M(table') in S) + delta``. The smaller epsilon,
the less any one patient can change what is released.

- :func:`randomized_response` and :func:`estimate_from_randomized_response`: each
  patient answers truthfully with probability ``e^eps / (1 + e^eps)``; the true rate
  is still recoverable from many answers (Warner, 1965).
- :func:`laplace_scale` and :func:`laplace_count`: a count changes by at most 1 when
  one patient is added or removed (sensitivity 1); Laplace noise of scale
  ``1 / epsilon`` makes it epsilon-DP (Dwork, McSherry, Nissim and Smith, 2006).
- zero-concentrated DP (zCDP, Bun and Steinke, 2016): the Gaussian mechanism with
  noise ``sigma`` on a query of L2 sensitivity ``Delta`` is ``rho = Delta^2 / (2 sigma^2)``
  -zCDP (:func:`gaussian_sigma` inverts this); rho adds up over releases; the
  exponential mechanism at ``epsilon`` is ``epsilon^2 / 8``-zCDP (Cesar and Rogers,
  2021). :func:`cdp_rho`, :func:`cdp_eps` and :func:`cdp_delta` convert between rho and
  (epsilon, delta) with the conversion of Canonne, Kamath and Steinke (2020,
  Proposition 1.3), the one MST uses.
- :func:`exponential_mechanism`: choose the index of a high score, privately.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .config import check_random_state

__all__ = [
    "cdp_delta", "cdp_eps", "cdp_rho", "check_delta", "check_epsilon",
    "estimate_from_randomized_response", "exponential_mechanism", "exponential_mechanism_rho",
    "gaussian_sigma", "laplace_count", "laplace_scale", "randomized_response",
]


# -- checking what the user promised ----------------------------------------------------
def check_epsilon(epsilon: Any, who: str = "this mechanism") -> float:
    """``epsilon`` as a float > 0 (``math.inf``: no privacy, for comparison), or a ValueError.

    ``None`` is refused on purpose: a private method must never run at a budget nobody chose.
    """
    if epsilon is None:
        raise ValueError(f"{who} refuses to run without an explicit epsilon (e.g. epsilon=1.0); "
                         "choose the privacy budget before looking at the data")
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float | np.integer | np.floating):
        raise TypeError(f"{who}: epsilon must be a number, got {type(epsilon).__name__}")
    epsilon = float(epsilon)
    if not epsilon > 0 or math.isnan(epsilon):
        raise ValueError(f"{who}: epsilon must be > 0, got {epsilon!r}")
    return epsilon


def check_delta(delta: Any, who: str = "this mechanism") -> float:
    """``delta`` as a float in (0, 1), or a ValueError (``None`` is refused)."""
    if delta is None:
        raise ValueError(f"{who} refuses to run without an explicit delta (e.g. delta=1e-6, "
                         "well below 1 / number of patients)")
    if isinstance(delta, bool) or not isinstance(delta, int | float | np.integer | np.floating):
        raise TypeError(f"{who}: delta must be a number, got {type(delta).__name__}")
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise ValueError(f"{who}: delta must be in (0, 1), got {delta!r}")
    return delta


# -- randomised response and the Laplace mechanism --------------------------------------
def randomized_response(values: Sequence[int] | np.ndarray, epsilon: float,
                        random_state: int | np.random.Generator | None = None) -> np.ndarray:
    """Each 0/1 answer kept with probability ``e^eps / (1 + e^eps)``, flipped otherwise.

    One patient's answer then changes the probability of any reported answer by at most
    a factor ``e^eps``: epsilon-DP for each patient, without a trusted curator.
    """
    epsilon = check_epsilon(epsilon, "randomized_response")
    x = np.asarray(values)
    if x.size and not np.isin(x, (0, 1)).all():
        raise ValueError("randomized_response takes 0/1 answers")
    rng = check_random_state(random_state)
    p_truth = 1.0 if math.isinf(epsilon) else math.exp(epsilon) / (1.0 + math.exp(epsilon))
    keep = rng.random(x.shape) < p_truth
    return np.where(keep, x, 1 - x).astype(int)


def estimate_from_randomized_response(reported: Sequence[int] | np.ndarray, epsilon: float) -> float:
    """Unbiased estimate of the true rate of 1s from randomised answers.

    ``E[reported mean] = p * rate + (1 - p) * (1 - rate)`` with ``p`` the probability of
    a truthful answer; solving for ``rate`` gives ``(mean - (1 - p)) / (2p - 1)``.
    """
    epsilon = check_epsilon(epsilon, "estimate_from_randomized_response")
    r = np.asarray(reported, dtype=float)
    if r.size == 0:
        raise ValueError("no answers to estimate from")
    p = 1.0 if math.isinf(epsilon) else math.exp(epsilon) / (1.0 + math.exp(epsilon))
    return float((r.mean() - (1.0 - p)) / (2.0 * p - 1.0))


def laplace_scale(epsilon: float, sensitivity: float = 1.0) -> float:
    """Scale ``b = sensitivity / epsilon`` of the Laplace noise that makes a query epsilon-DP."""
    epsilon = check_epsilon(epsilon, "laplace_scale")
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, got {sensitivity!r}")
    return float(sensitivity) / epsilon


def laplace_count(count: float, epsilon: float,
                  random_state: int | np.random.Generator | None = None) -> float:
    """A count of patients released with Laplace noise of scale ``1 / epsilon`` (sensitivity 1)."""
    rng = check_random_state(random_state)
    return float(count) + float(rng.laplace(0.0, laplace_scale(epsilon)))


# -- zCDP -------------------------------------------------------------------------------
def gaussian_sigma(rho: float, sensitivity: float = 1.0) -> float:
    """Noise standard deviation for ``rho``-zCDP: ``sensitivity / sqrt(2 rho)``."""
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    return float(sensitivity) / math.sqrt(2.0 * rho)


def _bisect(lo: float, hi: float, move_up: Callable[[float], bool],
            steps: int = 200) -> tuple[float, float, float]:
    """Bisection: ``move_up(mid)`` moves ``lo`` up to ``mid``, else ``hi`` down; returns ``(lo, hi, last mid)``."""
    mid = lo
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        if move_up(mid):
            lo = mid
        else:
            hi = mid
    return lo, hi, mid


def cdp_delta(rho: float, eps: float) -> float:
    """The delta at which ``rho``-zCDP gives ``(eps, delta)``-DP (Canonne, Kamath, Steinke 2020).

    ``delta = min over alpha > 1 of exp((alpha - 1)(alpha rho - eps) + alpha log(1 - 1/alpha)) / (alpha - 1)``;
    the minimising alpha is found by bisection on the derivative of the exponent.
    """
    if rho < 0 or eps < 0:
        raise ValueError(f"rho and eps must be >= 0, got rho={rho!r}, eps={eps!r}")
    if rho == 0:
        return 0.0
    _, _, alpha = _bisect(1.01, (eps + 1.0) / (2.0 * rho) + 2.0,
                          lambda a: (2.0 * a - 1.0) * rho - eps + math.log1p(-1.0 / a) < 0)
    exponent = (alpha - 1.0) * (alpha * rho - eps) + alpha * math.log1p(-1.0 / alpha)
    return min(1.0, math.exp(exponent) / (alpha - 1.0))


def cdp_eps(rho: float, delta: float) -> float:
    """The smallest epsilon such that ``rho``-zCDP implies ``(epsilon, delta)``-DP."""
    delta = check_delta(delta, "cdp_eps")
    if rho < 0:
        raise ValueError(f"rho must be >= 0, got {rho!r}")
    if math.isinf(rho):
        return math.inf
    if rho == 0:
        return 0.0
    _, hi, _ = _bisect(0.0, rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta)) + 1.0,
                       lambda eps: cdp_delta(rho, eps) > delta)
    return hi


def cdp_rho(eps: float, delta: float) -> float:
    """The largest ``rho`` such that ``rho``-zCDP implies ``(eps, delta)``-DP: the budget MST spends."""
    eps = check_epsilon(eps, "cdp_rho")
    delta = check_delta(delta, "cdp_rho")
    if math.isinf(eps):
        return math.inf
    lo, _, _ = _bisect(0.0, eps + 1.0, lambda rho: cdp_delta(rho, eps) <= delta)
    return lo


# -- the exponential mechanism ----------------------------------------------------------
def exponential_mechanism_rho(epsilon: float) -> float:
    """zCDP cost of one exponential-mechanism choice at ``epsilon``: ``epsilon^2 / 8``."""
    return float(epsilon) ** 2 / 8.0


def exponential_mechanism(scores: Sequence[float] | np.ndarray, epsilon: float, sensitivity: float,
                          random_state: int | np.random.Generator | None = None) -> int:
    """Index ``i`` drawn with probability proportional to ``exp(epsilon * score_i / (2 sensitivity))``.

    ``sensitivity`` bounds how much one patient can change any score. ``epsilon=inf``
    returns the highest score (no privacy).
    """
    q = np.asarray(scores, dtype=float)
    if q.ndim != 1 or q.size == 0 or not np.isfinite(q).all():
        raise ValueError("scores must be a non-empty 1-D array of finite numbers")
    rng = check_random_state(random_state)
    if math.isinf(epsilon):
        return int(np.argmax(q))
    logits = 0.5 * epsilon / sensitivity * (q - q.max())
    p = np.exp(logits)
    p /= p.sum()
    return int(rng.choice(q.size, p=p))
