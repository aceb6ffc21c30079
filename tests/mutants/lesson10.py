"""Right answers and plausible wrong answers for the lesson 10 (differential privacy) checks."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


# -- 10.noise_scale ----------------------------------------------------------------------------
def _scale_right():
    return lambda epsilon: 1.0 / epsilon


def _scale_epsilon():
    return lambda epsilon: epsilon  # more noise for a larger budget: backwards


def _scale_squared():
    return lambda epsilon: 1.0 / epsilon**2


def _scale_gaussian():
    return lambda epsilon: math.sqrt(2 * math.log(1.25 / 1e-5)) / epsilon  # the (eps, delta) Gaussian sigma


def _scale_number():
    return 2.0  # the value at epsilon 0.5, not a function


# -- 10.randomize ------------------------------------------------------------------------------
def _randomize_right():
    def randomize(answers, epsilon, rng):
        keep = rng.random(len(answers)) < math.exp(epsilon) / (1 + math.exp(epsilon))
        return np.where(keep, answers, 1 - answers)
    return randomize


def _randomize_fixed_coin():
    def randomize(answers, epsilon, rng):  # Warner's fair coin: ignores epsilon
        keep = rng.random(len(answers)) < 0.75
        return np.where(keep, answers, 1 - answers)
    return randomize


def _randomize_inverted():
    def randomize(answers, epsilon, rng):
        keep = rng.random(len(answers)) < 1 / (1 + math.exp(epsilon))
        return np.where(keep, answers, 1 - answers)
    return randomize


def _randomize_only_ones():
    def randomize(answers, epsilon, rng):  # flips only the 1s: a reported 1 is then always true
        flip = (rng.random(len(answers)) >= math.exp(epsilon) / (1 + math.exp(epsilon))) & (answers == 1)
        return np.where(flip, 0, answers)
    return randomize


def _randomize_global_rng():
    def randomize(answers, epsilon, rng):
        keep = np.random.default_rng(0).random(len(answers)) < math.exp(epsilon) / (1 + math.exp(epsilon))
        return np.where(keep, answers, 1 - answers)
    return randomize


# -- 10.estimate -------------------------------------------------------------------------------
def _estimate_right():
    def estimate_rate(reported, epsilon):
        p = math.exp(epsilon) / (1 + math.exp(epsilon))
        return (np.mean(reported) - (1 - p)) / (2 * p - 1)
    return estimate_rate


def _estimate_raw_mean():
    return lambda reported, epsilon: float(np.mean(reported))


def _estimate_wrong_sign():
    def estimate_rate(reported, epsilon):
        p = math.exp(epsilon) / (1 + math.exp(epsilon))
        return (np.mean(reported) - p) / (1 - 2 * p)
    return estimate_rate


def _estimate_divided_by_p():
    def estimate_rate(reported, epsilon):
        p = math.exp(epsilon) / (1 + math.exp(epsilon))
        return np.mean(reported) / p
    return estimate_rate


# -- 10.smallest_epsilon -----------------------------------------------------------------------
def _smallest_right():
    from course_utils.checks.lesson10 import TSTR_MARGIN, tstr_by_epsilon

    return min(e for e, (t, r) in tstr_by_epsilon().items() if t >= r - TSTR_MARGIN)


def _smallest_largest():
    return 8.0


def _smallest_smallest_of_grid():
    return 0.25


def _smallest_off_grid():
    return 1.5


def _smallest_one():
    return 1.0  # the customary choice, without looking at the curve


# -- 10.plan_noise ----------------------------------------------------------------------------
def _plan_right():
    def pair_noise(weights, rho_two_way):
        total = sum(weights.values())
        return {pair: 1 / math.sqrt(2 * rho_two_way * w / total) for pair, w in weights.items()}
    return pair_noise


def _plan_equal_split():
    def pair_noise(weights, rho_two_way):  # the star's equal split: the weights are ignored
        return {pair: 1 / math.sqrt(2 * rho_two_way / len(weights)) for pair in weights}
    return pair_noise


def _plan_unnormalised():
    def pair_noise(weights, rho_two_way):  # spends rho * w on each pair: more than the budget
        return {pair: 1 / math.sqrt(2 * rho_two_way * w) for pair, w in weights.items()}
    return pair_noise


def _plan_no_sqrt():
    def pair_noise(weights, rho_two_way):
        total = sum(weights.values())
        return {pair: 1 / (2 * rho_two_way * w / total) for pair, w in weights.items()}
    return pair_noise


def _plan_returns_rho():
    def pair_noise(weights, rho_two_way):  # each pair's budget, not its noise
        total = sum(weights.values())
        return {pair: rho_two_way * w / total for pair, w in weights.items()}
    return pair_noise


def _plan_inverse_weights():
    def pair_noise(weights, rho_two_way):  # the heavier pair gets the noisier table
        total = sum(1 / w for w in weights.values())
        return {pair: 1 / math.sqrt(2 * rho_two_way * (1 / w) / total) for pair, w in weights.items()}
    return pair_noise


def _plan_list():
    def pair_noise(weights, rho_two_way):  # the right numbers, but no pair to read them by
        total = sum(weights.values())
        return [1 / math.sqrt(2 * rho_two_way * w / total) for w in weights.values()]
    return pair_noise


RIGHT: dict[str, Callable[[], object]] = {
    "10.noise_scale": _scale_right,
    "10.randomize": _randomize_right,
    "10.estimate": _estimate_right,
    "10.smallest_epsilon": _smallest_right,
    "10.plan_noise": _plan_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "10.noise_scale": [_scale_epsilon, _scale_squared, _scale_gaussian, _scale_number],
    "10.randomize": [_randomize_fixed_coin, _randomize_inverted, _randomize_only_ones, _randomize_global_rng],
    "10.estimate": [_estimate_raw_mean, _estimate_wrong_sign, _estimate_divided_by_p],
    "10.smallest_epsilon": [_smallest_largest, _smallest_smallest_of_grid, _smallest_off_grid, _smallest_one],
    "10.plan_noise": [_plan_equal_split, _plan_unnormalised, _plan_no_sqrt, _plan_returns_rho, _plan_inverse_weights,
                      _plan_list],
}
