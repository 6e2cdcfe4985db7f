"""Every rule of the stream contract, and every storage format, declared once.

A *rule* turns the four 32-bit words of one Philox block into ``E`` values
(docs/stream.md, section 3). Its declaration here says everything about it but the
arithmetic: its name, the family it belongs to, the dtypes it fills, how it reads a
block (``READS``: which words make which value, hence ``E``), its parameters in the
order of ``distributions.Rule.params`` with the type each is computed in, the
precision of its values before rounding to storage, and whether a try may be
rejected and redrawn. The arithmetic is the rule's transform, ``core.<name>`` (for a
rule that retries: ``core.<name>``, ``<name>_rejected`` and ``<name>_value``), which
``kernels/rule_transforms.cuh`` mirrors as ``transform::<name>``.

Every table the backends use is derived from these declarations (``ELEMENTS_PER_BLOCK``,
``FAMILY_RULES``, the parameter records and emitters of ``backends.rules``, the dtypes
each rule fills, the storage formats), and so is ``kernels/rules.cuh``, the CUDA C
structs of the rules: ``cuda_rules()`` writes it, and a test checks that the file is
current. CONTRIBUTING.md lists the steps of adding a rule.
"""

import textwrap
from dataclasses import dataclass

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
MASK_DTYPES = ("bool", "uint8") + FLOAT_DTYPES
INTEGER_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                  "uint64")

# How a rule reads a block -> (elements per block, what its transform takes and gives).
READS = {
    "word": (4, "one word, one value: words 0, 1, 2, 3 make values 0, 1, 2, 3"),
    "half": (8, "one 16-bit half-word, one value, the low half first: word k makes values "
                "2k (its low half) and 2k + 1 (its high half)"),
    "pair": (2, "two words, one value: words (0, 1) make value 0, words (2, 3) value 1"),
    "pair2": (4, "two words, two values: words (0, 1) make values 0 and 1, words (2, 3) "
                 "values 2 and 3"),
    "block2": (2, "four words, two values"),
}

# The types a parameter is computed in -> (numpy type name, slots): "value" is the rule's
# precision; a parameter of two slots comes as its 32-bit halves, the low half first
# (each exact as a double).
PARAM_TYPES = {
    "value": (None, 1),
    "float64": ("float64", 1),
    "uint64": ("uint64", 1),  # an integer below 2**53
    "uint32 halves": ("uint32", 2),
    "uint64 halves": ("uint64", 2),
}
_C_TYPES = {"float32": "float", "float64": "double", "uint32": "unsigned int",
            "uint64": "unsigned long long"}


@dataclass(frozen=True)
class RuleSpec:
    """One rule of the stream contract (see the module docstring)."""

    name: str
    family: str
    dtypes: tuple
    reads: str
    precision: str
    params: tuple  # (name, PARAM_TYPES key) pairs
    retries: bool = False

    @property
    def elements_per_block(self):
        return READS[self.reads][0]

    @property
    def slots(self):
        """How many doubles ``distributions.Rule.params`` holds for this rule."""
        return sum(PARAM_TYPES[kind][1] for _, kind in self.params)

    def param_type(self, kind):
        """The numpy type name of a parameter of ``kind``."""
        return PARAM_TYPES[kind][0] or self.precision


_UNIFORM = (("lo", "value"), ("span", "value"), ("bot", "value"), ("top", "value"))
_NORMAL = (("mean", "value"), ("stddev", "value"))
_TRUNCNORM = (("pa", "float64"), ("qb", "float64"), ("mass", "float64"), ("mean", "float64"),
              ("stddev", "float64"), ("bot", "value"), ("top", "value"))

RULES = {spec.name: spec for spec in (
    RuleSpec("raw", "raw", ("uint32",), "word", "uint32", ()),
    RuleSpec("bernoulli", "bernoulli", MASK_DTYPES, "word", "float32",
             (("threshold", "uint64"),)),
    RuleSpec("uniform32", "uniform", ("float32",), "word", "float32", _UNIFORM),
    RuleSpec("uniform16", "uniform", ("float16", "bfloat16"), "half", "float32", _UNIFORM),
    RuleSpec("uniform64", "uniform", ("float64",), "pair", "float64", _UNIFORM),
    RuleSpec("normal32", "normal", ("float16", "bfloat16", "float32"), "pair2", "float32",
             _NORMAL),
    RuleSpec("normal64", "normal", ("float64",), "block2", "float64", _NORMAL),
    RuleSpec("truncnorm32", "truncnorm", ("float16", "bfloat16", "float32"), "word", "float32",
             _TRUNCNORM),
    RuleSpec("truncnorm64", "truncnorm", ("float64",), "pair", "float64", _TRUNCNORM),
    # The integers' parameters: low mod 2**64, span = high - low, and the rejection
    # threshold 2**n mod (span + 1); integers32 takes spans below 2**32, integers64 the rest.
    RuleSpec("integers32", "integers", INTEGER_DTYPES, "word", "uint64",
             (("low", "uint64 halves"), ("span", "uint32 halves"), ("reject", "uint32 halves")),
             retries=True),
    RuleSpec("integers64", "integers", ("int64", "uint64"), "pair", "uint64",
             (("low", "uint64 halves"), ("span", "uint64 halves"), ("reject", "uint64 halves")),
             retries=True),
)}

ELEMENTS_PER_BLOCK = {name: spec.elements_per_block for name, spec in RULES.items()}

# Storage formats: a dtype's store (the kernels' ``store::<name>``) -> the numpy type of
# its words. 16-bit floats are stored as their bits, bool as uint8, integers as their
# two's complement words.
STORE_WORDS = {"f32": "float32", "f64": "float64", "bf16": "uint16", "f16": "uint16",
               "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64"}
STORES = {"float32": "f32", "float64": "f64", "bfloat16": "bf16", "float16": "f16",
          "bool": "u8", "int8": "u8", "uint8": "u8", "int16": "u16", "uint16": "u16",
          "int32": "u32", "uint32": "u32", "int64": "u64", "uint64": "u64"}

# The families a multi-tensor fill (``backends.ENTRY`` tables) draws, in the order of
# their indices, then its constant rows.
FAMILIES = ("uniform", "normal", "truncnorm", "constant")


def _family_rules(dtype):
    return tuple(next(spec.name for spec in RULES.values()
                      if spec.family == family and dtype in spec.dtypes)
                 for family in FAMILIES[:-1])


# dtype -> the rule each random family of FAMILIES follows for it.
FAMILY_RULES = {dtype: _family_rules(dtype) for dtype in FLOAT_DTYPES}


def family_dtypes(family):
    """Every dtype that a rule of ``family`` fills, integers first, then floats."""
    filled = {dtype for spec in RULES.values() if spec.family == family for dtype in spec.dtypes}
    return tuple(d for d in INTEGER_DTYPES + FLOAT_DTYPES if d in filled)


# --- kernels/rules.cuh ------------------------------------------------------------------


def cuda_rules():
    """The text of ``kernels/rules.cuh``. For each rule, ``rule_params::<name>``: its
    parameters, in the types the rule computes in, read from a ``Params`` row; then
    ``kernels/rule_transforms.cuh`` (by hand: the rules' transforms, mirroring
    ``fastinit.core``); then ``rule::<name>``: its ``E``, value type and ``emit()``,
    which reads the block as the rule's ``reads`` says (and, for a rule that retries,
    ``rejects()`` and ``retry()``); and the table of each store's family rules.
    Regenerate as kernels/README.md says."""
    lines = [
        "// Generated from fastinit/registry.py by fastinit.registry.cuda_rules(); do not edit:",
        "// regenerate as kernels/README.md says. kernels/rule_transforms.cuh holds the rules'",
        "// transforms, by hand.",
        "#pragma once",
        "",
        "namespace fastinit {",
        "",
        "// Each rule's parameters, in the types it computes in, from a Params row.",
        "namespace rule_params {",
    ]
    for spec in RULES.values():
        lines += ["", *_cuda_params(spec)]
    lines += ["", "}  // namespace rule_params", "}  // namespace fastinit", "",
              '#include "rule_transforms.cuh"', "", "namespace fastinit {", "",
              "// Each rule: a block's words to its E values.", "namespace rule {", "",
              "// The rules that take every try.",
              "struct takes_every_try {",
              "  __device__ bool rejects(uint4) const { return false; }",
              "  template <class Value>",
              "  __device__ void retry(uint4, Value*, const Counter&, unsigned long long) const {}",
              "};"]
    for spec in RULES.values():
        lines += ["", *_cuda_rule(spec)]
    lines += ["", "}  // namespace rule", "", *_cuda_family_table(), "",
              "}  // namespace fastinit", ""]
    return "\n".join(lines)


def _cuda_params(spec):
    """The lines of ``rule_params::<name>``."""
    lines = [f"struct {spec.name} {{"]
    inits, slot = [], 0
    for name, kind in spec.params:
        ctype = _C_TYPES[spec.param_type(kind)]
        lines.append(f"  {ctype} {name};")
        if PARAM_TYPES[kind][1] == 2:
            read = f"static_cast<{ctype}>(from_halves(p.v[{slot}], p.v[{slot + 1}]))"
        else:
            read = f"p.v[{slot}]" if ctype == "double" else f"static_cast<{ctype}>(p.v[{slot}])"
        inits.append(f"{name}({read})")
        slot += PARAM_TYPES[kind][1]
    if inits:
        lines += [f"  __device__ explicit {spec.name}(const Params& p)",
                  "      : " + ",\n        ".join(inits) + " {}"]
    else:
        lines.append(f"  __device__ explicit {spec.name}(const Params&) {{}}")
    return lines + ["};"]


# The arguments of a rule's transform per way of reading a block, for each of its calls.
_LANES = {"word": ("w.x", "w.y", "w.z", "w.w"),
          "half": ("w.x & 0xFFFFu", "w.x >> 16", "w.y & 0xFFFFu", "w.y >> 16", "w.z & 0xFFFFu",
                   "w.z >> 16", "w.w & 0xFFFFu", "w.w >> 16"),
          "pair": ("w.x, w.y", "w.z, w.w"),
          "pair2": ("w.x, w.y", "w.z, w.w"),
          "block2": ("w.x, w.y, w.z, w.w",)}


def _cuda_rule(spec):
    """The lines of ``rule::<name>``: emit() calls ``transform::<name>`` once per value
    (``pair2``, ``block2``: once per two values, through a pair of outputs)."""
    base = "" if spec.retries else ", takes_every_try"
    lines = [*textwrap.wrap(f"{spec.name} ({', '.join(spec.dtypes)}): {READS[spec.reads][1]}.",
                            96, initial_indent="// ", subsequent_indent="// "),
             f"struct {spec.name} : rule_params::{spec.name}{base} {{",
             f"  static constexpr int E = {spec.elements_per_block};",
             f"  using value = {_C_TYPES[spec.precision]};",
             f"  using rule_params::{spec.name}::{spec.name};"]
    if spec.retries:
        return lines + _cuda_retrying(spec) + ["};"]
    lines.append("  __device__ void emit(uint4 w, value v[E]) const {")
    lanes = _LANES[spec.reads]
    if spec.reads in ("pair2", "block2"):
        lines += [f"    transform::{spec.name}(*this, {lane}, &v[{2 * k}], &v[{2 * k + 1}]);"
                  for k, lane in enumerate(lanes)]
    else:
        lines += [f"    v[{k}] = transform::{spec.name}(*this, {lane});"
                  for k, lane in enumerate(lanes)]
    return lines + ["  }", "};"]


def _cuda_retrying(spec):
    """A retrying rule's members. ``transform::<name>`` gives a lane's try (from its word,
    or word pair), ``<name>_rejected`` whether that try is rejected and ``<name>_value``
    its value: emit() takes the first tries' values, rejects() says whether any is
    rejected, and retry() gives each rejected lane its word(s) of the block's retry rounds
    in turn (docs/stream.md, "bounded integers")."""
    lanes = _LANES[spec.reads]
    ms = [f"m{k}" for k in range(len(lanes))]
    name = f"transform::{spec.name}"
    any_rejected = " | ".join(f"rejected({m})" for m in ms)
    helpers = [
        f"    const auto try_of = [this](auto... x) {{ return {name}(*this, x...); }};",
        "    const auto rejected = [this](const auto& m) {",
        f"      return {name}_rejected(*this, m);",
        "    };",
    ]
    return [
        "  __device__ void emit(uint4 w, value v[E]) const {",
        *[f"    v[{k}] = {name}_value(*this, {name}(*this, {lane}));"
          for k, lane in enumerate(lanes)],
        "  }",
        "  __device__ bool rejects(uint4 w) const {",
        *helpers,
        "    return " + " |\n           ".join(f"rejected(try_of({lane}))" for lane in lanes) + ";",
        "  }",
        "  __device__ void retry(uint4 w, value v[E], const Counter& c,",
        "                        unsigned long long block) const {",
        *helpers,
        *[f"    auto {m} = try_of({lane});" for m, lane in zip(ms, lanes)],
        "    for (unsigned long long key = c.seed;",
        f"         {any_rejected}; key += RETRY_KEY_STEP) {{",
        "      const uint4 r = philox_block(key, c.stream, block ^ RETRY_BLOCK_BIT);",
        *[f"      if (rejected({m})) {m} = try_of({lane.replace('w.', 'r.')});"
          for m, lane in zip(ms, lanes)],
        "    }",
        *[f"    v[{k}] = {name}_value(*this, {m});" for k, m in enumerate(ms)],
        "  }",
    ]


def _cuda_family_table():
    """The families' indices (FAMILIES) and ``family_rules<Store>``: the rule each random
    family follows for a store (FAMILY_RULES)."""
    lines = ["namespace family {  // fastinit.registry.FAMILIES, in order",
             "constexpr int " + ", ".join(f"{f} = {k}" for k, f in enumerate(FAMILIES)) + ";",
             "}", "",
             "// The rule each random family follows for a store (fastinit.registry.FAMILY_RULES).",
             "template <class Store>", "struct family_rules;"]
    stores = {}
    for dtype, rules in FAMILY_RULES.items():
        stores.setdefault(STORES[dtype], rules)
    for store, rules in stores.items():
        lines += ["", "template <>", f"struct family_rules<store::{store}> {{"]
        lines += [f"  using {family} = rule::{name};" for family, name in zip(FAMILIES, rules)]
        lines.append("};")
    return lines
