"""Exercise checks: ``check("01.roundtrip", obj)`` shows a ✅ or ❌ with a hint.

Each lesson has a module ``course_utils/checks/lessonNN.py`` whose functions are
registered by id with :func:`register`. A check function receives the learner's
object and raises :class:`CheckFailed` (or ``AssertionError``) with a message that
says what was expected and what was found; returning normally means it passed.

In a notebook, ``check`` never raises: a learner sees the verdict and carries on.
The grader (``python -m course_utils grade``) runs every registered check of a
lesson, hidden ones included, against the variables the notebook left behind;
each check names that variable in ``target``.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from numbers import Real
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """Raised by a check function when the learner's answer is wrong."""


@dataclass
class CheckSpec:
    """One registered check: its id, the function, points, hint and target variable."""

    id: str
    func: Callable[..., Any]
    target: str
    points: float = 1.0
    hint: str = ""
    hidden: bool = False

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class CheckResult:
    """The verdict of one check on one object."""

    id: str
    passed: bool
    message: str
    points: float
    max_points: float
    hint: str = ""
    status: str = field(default="")  # "passed", "failed", "not answered", "error"


def as_number(obj: Any, what: str) -> float:
    """The learner's answer as one finite float, or a :class:`CheckFailed` naming ``what``."""
    if isinstance(obj, np.ndarray) and obj.ndim == 0:
        obj = obj.item()
    if isinstance(obj, bool | np.bool_) or not isinstance(obj, Real | np.number):
        raise CheckFailed(f"expected {what} as one number, found {type(obj).__name__}")
    value = float(obj)
    if not np.isfinite(value):
        raise CheckFailed(f"expected {what} to be a finite number, found {value}")
    return value


@lru_cache(maxsize=1)
def whas500_split() -> tuple[Any, Any, Any]:
    """The WHAS500 train and holdout parts the lessons use, and the metadata.

    ``train_holdout_split(df, stratify="fstat", random_state=SEED)``: 350 training and
    150 holdout patients. Cached, so checks that need it stay fast.
    """
    from ..config import SEED
    from ..data import WHAS500_TARGET, load_whas500, train_holdout_split

    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, stratify=WHAS500_TARGET, random_state=SEED)
    return train, holdout, meta


REGISTRY: dict[str, CheckSpec] = {}
RESULTS: dict[str, CheckResult] = {}


def register(
    check_id: str, *, target: str, points: float = 1.0, hint: str = "", hidden: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``func`` as the check ``check_id`` (e.g. ``"01.metadata"``).

    ``target`` is the notebook variable the grader passes to the check.
    """
    if "." not in check_id:
        raise ValueError(f"check id {check_id!r} must look like 'NN.name'")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[check_id] = CheckSpec(check_id, func, target, points, hint, hidden)
        return func

    return deco


def load_lesson(lesson: str) -> list[CheckSpec]:
    """Import the check module of a lesson (``"01"``) and return its checks in order."""
    lesson = str(lesson).zfill(2)
    try:
        importlib.import_module(f"{__name__}.lesson{lesson}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.lesson{lesson}":
            raise ValueError(f"no checks exist for lesson {lesson!r}") from None
        raise
    return [spec for spec in REGISTRY.values() if spec.lesson == lesson]


def get_check(check_id: str) -> CheckSpec:
    """The registered check with this id (importing its lesson module on demand)."""
    if check_id not in REGISTRY:
        load_lesson(check_id.split(".", 1)[0])
    try:
        return REGISTRY[check_id]
    except KeyError:
        raise KeyError(f"no check called {check_id!r}") from None


def run_check(check_id: str, obj: Any, **context: Any) -> CheckResult:
    """Run one check and return its :class:`CheckResult` (never raises for a wrong answer)."""
    spec = get_check(check_id)
    if obj is None or obj is Ellipsis:
        return CheckResult(check_id, False, "no answer yet: the variable is empty (None)",
                           0.0, spec.points, spec.hint, "not answered")
    try:
        spec.func(obj, **context)
    except NotImplementedError:
        return CheckResult(check_id, False, "not answered yet (NotImplementedError)",
                           0.0, spec.points, spec.hint, "not answered")
    except AssertionError as exc:  # CheckFailed included
        return CheckResult(check_id, False, str(exc) or "the answer is not right yet",
                           0.0, spec.points, spec.hint, "failed")
    except Exception as exc:  # a learner's object that breaks the check is a wrong answer
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return CheckResult(check_id, False, f"checking your answer raised {last}",
                           0.0, spec.points, spec.hint, "error")
    return CheckResult(check_id, True, "correct", spec.points, spec.points, spec.hint, "passed")


def check(check_id: str, obj: Any, **context: Any) -> None:
    """Check a learner's answer; print ✅ or ❌ with a hint; record the verdict in ``RESULTS``.

    Returns nothing, so a notebook shows only the verdict line under the check cell
    (``RESULTS[check_id].passed`` holds the outcome).

    Never raises: an unknown id or a broken check module is reported as ❌ so that the
    rest of the notebook still runs.
    """
    try:
        result = run_check(check_id, obj, **context)
    except Exception as exc:  # unknown id, a check module that fails to import, ...
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = CheckResult(check_id, False, f"this check could not run: {last}", 0.0, 0.0,
                             "", "error")
    RESULTS[check_id] = result
    if result.passed:
        print(f"✅ {check_id}: correct")
    else:
        print(f"❌ {check_id}: {result.message}")
        if result.hint:
            print(f"   hint: {result.hint}")


MISSING_MESSAGE = (
    "variable `{target}` is not defined at the end of the notebook: was it deleted, renamed, "
    "or did its cell fail before assigning it?"
)


def run_lesson(
    lesson: str, namespace: Mapping[str, Any], *, hidden: bool = True
) -> list[CheckResult]:
    """Run every check of a lesson against the variables in ``namespace`` (e.g. ``globals()``).

    Each check receives ``namespace[spec.target]``; a target that is absent gives a
    failed result with status ``"missing"``. ``hidden=False`` skips the grader-only
    checks (what a learner's self-check runs). Never raises for a learner's answer.
    """
    results = []
    for spec in load_lesson(lesson):
        if spec.hidden and not hidden:
            continue
        if spec.target not in namespace:
            results.append(CheckResult(spec.id, False, MISSING_MESSAGE.format(target=spec.target),
                                       0.0, spec.points, spec.hint, "missing"))
            continue
        results.append(run_check(spec.id, namespace[spec.target]))
    return results


__all__ = [
    "CheckFailed", "CheckResult", "as_number", "CheckSpec", "REGISTRY", "RESULTS",
    "check", "get_check", "load_lesson", "register", "run_check", "whas500_split", "run_lesson",
]
