"""Fast mode, seeding, threads, device, random states."""

from __future__ import annotations

import random

import numpy as np
import pytest

from course_utils import config


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False), ("no", False)])
def test_fast_mode(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_FAST", value)
    assert config.fast_mode() is expected


def test_seed_everything_reaches_python_numpy_and_torch():
    import torch

    config.seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    config.seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    with pytest.raises(TypeError):
        config.seed_everything("7")


def test_make_rng():
    g = np.random.default_rng(0)
    assert config.make_rng(g) is g
    assert config.make_rng(3).integers(1000) == np.random.default_rng(3).integers(1000)
    with pytest.raises(TypeError, match="random_state"):
        config.make_rng(1.5)


def test_threads_and_device(monkeypatch):
    import torch

    monkeypatch.setenv("COURSE_TORCH_THREADS", "1")
    assert config.configure_threads() == 1 and torch.get_num_threads() == 1
    assert config.device("cpu").type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.device().type == "cpu"


def test_make_rng_is_the_one_name_and_the_old_one_is_an_alias():
    assert config.check_random_state is config.make_rng
    assert isinstance(config.make_rng(0), np.random.Generator)
