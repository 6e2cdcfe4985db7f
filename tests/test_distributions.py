"""Distributions as data: ``rule_for`` turns one into the rule a fill of a dtype
follows, once per (distribution, dtype), and rejects what no rule can write."""

import numpy as np
import pytest

from fastinit.distributions import DtypeError, Normal, ParameterError, cached, rule_for


def test_a_rule_is_computed_once_per_distribution_and_dtype():
    assert rule_for(Normal(0.5, 2.0), "float32") is rule_for(Normal(0.5, 2.0), "float32")
    assert rule_for(Normal(0.5, 2.0), "float64").name == "normal64"


def test_an_unhashable_distribution_gets_the_same_rule_uncached():
    unhashable = Normal(np.array(0.5), 2.0)
    with pytest.raises(TypeError):
        hash(unhashable)
    assert rule_for(unhashable, "float32") == rule_for(Normal(0.5, 2.0), "float32")


def test_a_rejected_distribution_raises_its_own_error():
    with pytest.raises(DtypeError, match="fills dtypes"):
        rule_for(Normal(), "int32")
    with pytest.raises(ParameterError, match="std must be >= 0"):
        rule_for(Normal(0.0, -1.0), "float32")


def test_cached_remembers_results_by_hashable_arguments_and_never_an_exception():
    calls = []

    @cached
    def half(x):
        calls.append(x)
        if x < 0:
            raise TypeError("negative")
        return x / 2

    assert half(4) == half(4) == 2.0 and calls == [4]  # the same arguments: computed once
    assert half(np.array(6)) == half(np.array(6)) == 3.0 and len(calls) == 3  # unhashable
    for _ in range(2):
        with pytest.raises(TypeError, match="negative"):
            half(-1)
    assert calls[3:] == [-1, -1]
