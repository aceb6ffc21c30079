"""Exercise checks: ``check("01.holdout_roundtrip", obj)`` shows a ✅ or ❌ with a hint.

Each lesson has a module ``course_utils/checks/lessonNN.py`` whose functions are
registered by id with :func:`register`. A check function receives the learner's
answer and raises :class:`CheckFailed` (or ``AssertionError``) with a message that
says what was expected and what was found; returning normally means it passed.

Every verdict is reached in two halves, so that the grader never has to trust the
learner's kernel:

1. **export** (runs where the learner's object lives, i.e. in the learner's kernel):
   the answer is turned into plain values. For most checks that is the value itself;
   a check on a function declares ``inputs`` (built by trusted code, from a seed the
   grader chooses) and an ``export`` that calls the learner's function on them and
   returns what came out.
2. **verdict** (runs in the grader's own process): the values arrive through the
   safe file format of :mod:`course_utils.checks.exchange` and the check function
   compares them with a reference it computes itself.

:func:`run_check` (and ``check`` in a notebook) runs both halves in one process, with
the values making the same trip through the file format; the grader runs the export
in the sandboxed kernel (:mod:`course_utils.checks.export`) and the verdict with
:func:`judge_answers`. In a notebook, ``check`` never raises: a learner sees the
verdict and carries on.
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
    inputs: Callable[[int | None], Any] | None = None
    export: Callable[..., Any] | None = None

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
    check_id: str, *, target: str, points: float = 1.0, hint: str = "", hidden: bool = False,
    inputs: Callable[[int | None], Any] | None = None, export: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``func`` as the check ``check_id`` (e.g. ``"01.metadata"``).

    ``target`` is the notebook variable the check is about. ``export(obj)`` (or
    ``export(obj, inputs)``) turns the learner's object into plain values inside the
    learner's kernel; without it the value itself is exported. ``inputs(seed)`` builds,
    in trusted code, what ``export`` feeds to a learner's function (``seed=None``: the
    fixed default); ``func`` is then called as ``func(exported, inputs)``.
    """
    if "." not in check_id:
        raise ValueError(f"check id {check_id!r} must look like 'NN.name'")
    if (inputs is None) != (export is None) and inputs is not None:
        raise ValueError(f"check {check_id!r}: inputs need an export that uses them")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[check_id] = CheckSpec(check_id, func, target, points, hint, hidden, inputs, export)
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


def require_callable(obj: Any, name: str) -> Callable[..., Any]:
    """``obj`` when it is callable, else a :class:`CheckFailed` naming ``name``."""
    if not callable(obj):
        raise CheckFailed(f"{name} should be a function, found {type(obj).__name__}")
    return obj


def export_answer(spec: CheckSpec, obj: Any, inputs: Any = None) -> Any:
    """The plain values that stand for the learner's ``obj`` in check ``spec`` (export half).

    Runs where ``obj`` lives. What the learner's code raises is recorded as a
    :class:`~course_utils.checks.exchange.Raised` value, never propagated.
    """
    from .exchange import Raised

    if obj is None or obj is Ellipsis or spec.export is None:
        return obj
    try:
        return spec.export(obj, inputs) if spec.inputs is not None else spec.export(obj)
    except NotImplementedError:
        return Raised("not answered", "not answered yet (NotImplementedError)")
    except AssertionError as exc:  # CheckFailed: the export already sees the answer is wrong
        return Raised("failed", str(exc) or "the answer is not right yet")
    except Exception as exc:  # the learner reads this: name the error
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Raised("failed", f"calling your function raised {last}"[:400])


def check_inputs(spec: CheckSpec, seed: int | None = None) -> Any:
    """The inputs ``spec`` feeds to a learner's function (``None`` for a check on a value)."""
    return spec.inputs(seed) if spec.inputs is not None else None


MISSING = object()
"""Stands for an answer variable that was not defined at the end of the notebook."""


def judge(spec: CheckSpec, answer: Any, inputs: Any = None, **context: Any) -> CheckResult:
    """The verdict half: compare an exported ``answer`` (plain values) with the reference.

    Runs in trusted code. ``inputs`` must be what :func:`check_inputs` built for the
    export, from the same seed. Never raises for a learner's answer.
    """
    from .exchange import Raised

    if answer is MISSING:
        return CheckResult(spec.id, False, MISSING_MESSAGE.format(target=spec.target),
                           0.0, spec.points, spec.hint, "missing")
    if isinstance(answer, Raised):
        return CheckResult(spec.id, False, answer.message or "the answer is not right yet", 0.0,
                           spec.points, spec.hint, answer.kind if answer.kind == "not answered" else "failed")
    found = _unsupported_part(answer)
    if found is not None:
        where, part = found
        why = f" ({part.reason})" if part.reason else ""
        if spec.export is None:
            what = f"`{spec.target}` holds{where}"
        else:  # the probe's internal layout means nothing to a learner
            what = f"what `{spec.target}` gave holds"
        return CheckResult(spec.id, False, f"{what} a value of type {part.type_name}{why}, which the "
                           "grader cannot read back; answer with the kind of value the exercise asks for",
                           0.0, spec.points, spec.hint, "failed")
    return _verdict(spec, answer, inputs, context)


def _unsupported_part(value: Any, where: str = "", depth: int = 0) -> tuple[str, Any] | None:
    """The first :class:`~course_utils.checks.exchange.Unsupported` inside ``value``, and where."""
    from .exchange import Unsupported

    if isinstance(value, Unsupported):
        return (f" (at {where})" if where else ""), value
    if depth > 30:
        return None
    if isinstance(value, list | tuple):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return None
    for key, item in items:
        found = _unsupported_part(item, f"{where}[{key!r}]", depth + 1)
        if found is not None:
            return found
    return None


def run_check(check_id: str, obj: Any, **context: Any) -> CheckResult:
    """Run one check and return its :class:`CheckResult` (never raises for a wrong answer).

    Both halves run here, and the exported values make the trip through the grader's
    file format, so a notebook's ✅ means what the grader's verdict means.
    """
    from .exchange import AnswerFormatError, Unsupported, roundtrip

    spec = get_check(check_id)
    inputs = check_inputs(spec)
    try:
        answer = roundtrip(export_answer(spec, obj, roundtrip(inputs)))
    except AnswerFormatError as exc:
        answer = Unsupported(type(obj).__name__, str(exc))
    return judge(spec, answer, inputs, **context)


def _verdict(spec: CheckSpec, obj: Any, inputs: Any, context: dict[str, Any]) -> CheckResult:
    check_id = spec.id
    if obj is None or obj is Ellipsis:
        return CheckResult(check_id, False, "no answer yet: the variable is empty (None)",
                           0.0, spec.points, spec.hint, "not answered")
    try:
        if spec.inputs is not None:
            spec.func(obj, inputs)
        else:
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
            results.append(judge(spec, MISSING))
            continue
        results.append(run_check(spec.id, namespace[spec.target]))
    return results


def judge_answers(
    lesson: str, answers: Mapping[str, Any], seed: int | None, *, hidden: bool = True
) -> list[CheckResult]:
    """Verdicts of every check of ``lesson`` on exported answers (check id -> plain value).

    This is the grader's trusted half: the check functions come from this package,
    the inputs are rebuilt from ``seed``, and an id absent from ``answers`` counts as
    a missing variable. Ids in ``answers`` that the lesson does not define are ignored.
    """
    results = []
    for spec in load_lesson(lesson):
        if spec.hidden and not hidden:
            continue
        answer = answers.get(spec.id, MISSING)
        try:
            inputs = check_inputs(spec, seed) if answer is not MISSING else None
        except Exception as exc:  # a broken reference is the course's fault: say so
            results.append(CheckResult(spec.id, False, f"the check could not build its inputs: {exc}",
                                       0.0, spec.points, spec.hint, "error"))
            continue
        results.append(judge(spec, answer, inputs))
    return results


def clip_results(lesson: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results as the registry allows them: points within [0, the check's maximum].

    A result whose id the lesson does not define raises ``ValueError``: nothing but
    this package's own checks may add to a score.
    """
    specs = {spec.id: spec for spec in load_lesson(lesson)}
    out = []
    for res in results:
        spec = specs.get(str(res.get("id")))
        if spec is None:
            raise ValueError(f"lesson {lesson} defines no check {res.get('id')!r}")
        points = float(res.get("points", 0.0))
        passed = bool(res.get("passed")) and res.get("status") == "passed"
        points = min(max(points if np.isfinite(points) else 0.0, 0.0), float(spec.points))
        out.append({**res, "points": points if passed else 0.0, "max_points": float(spec.points),
                    "passed": passed})
    return out


__all__ = [
    "CheckFailed", "CheckResult", "as_number", "CheckSpec", "MISSING", "REGISTRY", "RESULTS",
    "check", "check_inputs", "clip_results", "export_answer", "get_check", "judge", "judge_answers",
    "load_lesson", "register", "require_callable", "run_check", "whas500_split", "run_lesson",
]
