"""The rule registry: each declaration agrees with what the distributions, the transforms,
the stores and the kernels make of it, and the tables derived from it are whole."""

import re
from pathlib import Path

import numpy as np
import pytest

from fastinit import core
from fastinit.backends import STORAGE, cpu
from fastinit.backends.rules import CODE, CONVERT, row_params
from fastinit.distributions import (Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform,
                                    rule_for)
from fastinit.registry import (ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES, FLOAT_DTYPES, READS,
                               RULES, STORE_WORDS, STORES, family_dtypes)

KERNELS = Path(__file__).resolve().parent.parent / "kernels"

# A distribution that draws by each rule, and the dtypes to ask it for.
MAKES = {"raw": Raw(), "bernoulli": Bernoulli(0.3), "uniform32": Uniform(-1, 2),
         "uniform16": Uniform(-1, 2), "uniform64": Uniform(-1, 2), "normal32": Normal(1, 2),
         "normal64": Normal(1, 2), "truncnorm32": TruncatedNormal(0, 1, -1, 2),
         "truncnorm64": TruncatedNormal(0, 1, -1, 2), "integers32": Integers(0, 1),
         "integers64": Integers(0, 2**40)}


def test_every_rule_has_a_case_here():
    assert set(MAKES) == set(RULES)


@pytest.mark.parametrize("name", RULES)
def test_the_distributions_draw_each_rule_for_exactly_its_dtypes(name):
    spec = RULES[name]
    drawn = []
    for dtype in STORES:
        try:
            rule = rule_for(MAKES[name], dtype)
        except (TypeError, ValueError):
            continue
        if rule.name == name:
            drawn.append(dtype)
            assert len(rule.params) == spec.slots  # one double per parameter slot
    assert set(drawn) == set(spec.dtypes)


@pytest.mark.parametrize("name", RULES)
def test_each_rule_has_its_transforms_in_python_and_cuda(name):
    spec = RULES[name]
    names = [name, f"{name}_rejected", f"{name}_value"] if spec.retries else [name]
    source = (KERNELS / "rule_transforms.cuh").read_text()
    for function in names:
        assert callable(getattr(core, function))
        assert re.search(rf"\b{function}\(const rule_params::{name}&", source), function


@pytest.mark.parametrize("name", RULES)
def test_a_rules_parameter_record_holds_its_parameters_in_their_types(name):
    spec, code = RULES[name], CODE[name]
    rule = rule_for(MAKES[name], spec.dtypes[-1])
    record = code.from_row(row_params(rule))
    if not spec.params:
        assert record._fields == ("unused",)
        return
    assert record._fields == tuple(field for field, _ in spec.params)
    for (field, kind), value in zip(spec.params, record):
        assert np.asarray(value).dtype == np.dtype(spec.param_type(kind)), field
    assert np.dtype(code.precision) == np.dtype(spec.precision)


def test_integer_parameters_come_whole_from_their_halves():
    rule = rule_for(Integers(-3, 2**40), "int64")
    record = CODE["integers64"].from_row(row_params(rule))
    assert int(record.low) == (-3) % 2**64
    assert int(record.span) == 2**40 + 3
    assert int(record.reject) == 2**64 % (2**40 + 4)


def test_family_rules_name_a_rule_of_the_family_for_each_float_dtype():
    assert set(FAMILY_RULES) == set(FLOAT_DTYPES)
    for dtype, names in FAMILY_RULES.items():
        assert len(names) == len(FAMILIES) - 1
        for family, name in zip(FAMILIES, names):
            assert RULES[name].family == family and dtype in RULES[name].dtypes


def test_family_dtypes_are_what_the_familys_rules_fill():
    assert family_dtypes("uniform") == FLOAT_DTYPES
    assert family_dtypes("integers")[:3] == ("bool", "int8", "uint8")
    for family in {spec.family for spec in RULES.values()}:
        filled = {d for spec in RULES.values() if spec.family == family for d in spec.dtypes}
        assert set(family_dtypes(family)) == filled


def test_every_dtype_a_rule_fills_has_a_store_in_every_backend():
    kernels = (KERNELS / "fill.cuh").read_text()
    for spec in RULES.values():
        assert set(spec.dtypes) <= set(STORES)
    for dtype, store in STORES.items():
        assert np.dtype(STORAGE[dtype]) == np.dtype(STORE_WORDS[store])
        assert store in CONVERT
        assert re.search(rf"^struct {store} {{", kernels, re.MULTILINE), store
        assert dtype in cpu.STORE_MARKERS


def test_elements_per_block_follow_from_how_each_rule_reads_a_block():
    for name, spec in RULES.items():
        assert ELEMENTS_PER_BLOCK[name] == READS[spec.reads][0]
        assert cpu.CHUNK % ELEMENTS_PER_BLOCK[name] == 0


def test_a_cache_index_naming_a_record_class_since_removed_is_still_read():
    """Numba unpickles every signature of a disk cache index before it finds the index
    stale: a record class an earlier fastinit had (Truncnorm32CNParams) must unpickle."""
    import pickle

    import numba

    from fastinit.backends import rules

    record = rules._record(rules.SPECS["truncnorm32"], "Gone")
    signature = pickle.dumps(numba.typeof(record(*([0.0] * len(record._fields)))))
    del rules.Truncnorm32GoneParams
    assert pickle.loads(signature).name.startswith("Truncnorm32GoneParams")
    assert not hasattr(rules, "NotAParameterRecord")
