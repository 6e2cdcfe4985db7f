"""fastinit.torch under torch.distributed: a sharded model gathers to the one-process init.

Two and four CPU processes in one gloo process group build a model on the meta device,
shard it (FSDP2 ``fully_shard``, DTensor ``distribute_module``, FSDP1 with
``param_init_fn``), initialize it with fastinit, gather every state-dict entry to full
size and send it back; every rank's gathered state dict must equal, bit for bit
(``torch.equal``, buffers included), ``init_module`` of the same model built in this
process, for the default layer schemes, for ``rules=`` (a function scheme among them,
computed at full size on each rank), for ``skip=`` and for captured init code whose
values are computed by re-running it (at full size on each rank).

Layouts: FSDP2 on one mesh dimension, hybrid (replicate x shard), over tensor
parallelism (``_StridedShard``), with ``Shard(1)``, with a tied embedding; DTensor
``Shard(0)``, ``Shard(1)``, ``Replicate`` on 1-D meshes and their pairs on a 2 x 2 mesh;
FSDP1 on the CPU (``device_id=torch.device("cpu")``, flat and original parameters,
a tied weight). Shapes are chosen so shards are uneven (37, 15, 11, 5, 3 over 2 and 4
ranks) and some ranks hold empty shards (a one-row Linear, three input channels over
four ranks); a ``Shard(1)`` local shard is many runs of the global tensor, one per row,
and under ``(Shard(0), _StridedShard(0))`` a shard is a stride of the global rows, not
a block (``test_dtensor_strided_shards``).

The processes of each world size are spawned once per module and serve every test
(``Group``), so a test costs a few collectives, not a torch import per rank. A case
that fails or hangs on any rank fails its test within ``CASE_TIMEOUT`` and the group is
respawned for the next.
"""

import datetime
import functools
import itertools
import os
import queue
import time
import traceback

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import fastinit
import fastinit.torch as ft

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="needs torch.distributed with the gloo backend")

START_TIMEOUT = 300  # seconds for a group to spawn, import torch and join the process group
CASE_TIMEOUT = 120  # seconds for one case on every rank (collectives time out sooner)
SEED = 0x9E3779B97F4A7C15  # above 2**63: the seed travels as an unsigned 64-bit integer


# --- models, rules, checkpoints (built alike here and in every rank) -------------------


class Mixed(nn.Module):
    """One of each kind of layer, with dims that 2 and 4 ranks shard unevenly."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(37, 10, padding_idx=3)
        self.proj = nn.Linear(10, 15)
        self.norm = nn.LayerNorm(15)
        self.conv = nn.Conv2d(3, 5, 3)
        self.bn = nn.BatchNorm2d(5)
        self.attn = nn.MultiheadAttention(15, 3)
        self.lstm = nn.LSTM(15, 7)
        self.head = nn.Linear(15, 3, bias=False)
        self.score = nn.Linear(7, 1)  # one row: every rank but rank 0 holds an empty shard


class Tied(Mixed):
    """``Mixed`` with a second Linear sharing ``head``'s weight (in FSDP1's root unit)."""

    def __init__(self):
        super().__init__()
        self.tied = nn.Linear(15, 3, bias=False)
        self.tied.weight = self.head.weight


class TiedLM(nn.Module):
    """GPT-2's layout: the output projection shares the token embedding (37 x 10)."""

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(37, 10, padding_idx=0)
        self.blocks = nn.ModuleList([nn.Linear(10, 10), nn.Linear(10, 10)])
        self.lm_head = nn.Linear(10, 37, bias=False)
        self.lm_head.weight = self.wte.weight


class MLP(nn.Module):
    """Megatron's MLP: ``up`` column-parallel, ``down`` row-parallel under tensor parallelism."""

    def __init__(self):
        super().__init__()
        self.up = nn.Linear(10, 14)
        self.down = nn.Linear(14, 5)


class Captured(nn.Module):
    """Init code fastinit captures and replays: a clamp after a draw, a buffer computed
    from ``arange``, a parameter computed from random draws (fastinit's streams)."""

    def __init__(self):
        super().__init__()
        self.clamped = nn.Parameter(torch.empty(13, 10))
        self.gate = nn.Parameter(torch.empty(11))
        self.register_buffer("positions", torch.empty(7))
        self.proj = nn.Linear(10, 5)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.clamped, std=1.0)
        with torch.no_grad():
            self.clamped.clamp_(-0.5, 0.5)
            self.gate.copy_(torch.rand(11).exp())
            self.positions.copy_(torch.arange(7) * 2.0)


def dense():
    """Parameters of 1, 2 and 4 dimensions, plain buffers beside them (BatchNorm's)."""
    return nn.Sequential(nn.Embedding(37, 11, padding_idx=3), nn.Linear(11, 15),
                         nn.BatchNorm1d(15), nn.Conv2d(3, 5, 3), nn.Linear(15, 1))


def even():
    """Dimension 1 divisible by 4, as FSDP2's ``Shard(1)`` requires; dimension 0 is not."""
    return nn.Sequential(nn.Embedding(15, 8, padding_idx=9), nn.Linear(12, 7),
                         nn.Conv2d(4, 5, 3))


MODELS = {"mixed": Mixed, "tied": Tied, "tied_lm": TiedLM, "mlp": MLP, "dense": dense,
          "even": even, "captured": Captured}
# The modules each gets its own fully_shard (a tied weight stays within one unit).
UNITS = {"mixed": lambda m: list(m.children()), "tied_lm": lambda m: list(m.blocks),
         "mlp": lambda m: [m.up, m.down], "even": lambda m: list(m),
         "captured": lambda m: [m.proj]}


def gpt2_rules():
    """GPT-2's normal(0.02) on Linear and Embedding, plus an orthogonal and a fan_out one."""
    return {
        "attn.in_proj_weight": functools.partial(fastinit.init.orthogonal_, gain=1.0),
        "1.weight": functools.partial(fastinit.init.orthogonal_, gain=1.0),
        "conv.weight": fastinit.schemes.KaimingNormal(mode="fan_out"),
        nn.Linear: {"weight": fastinit.Normal(0.0, 0.02), "bias": fastinit.schemes.ZEROS},
        nn.Embedding: fastinit.Normal(0.0, 0.02),
    }


RULES = {None: lambda: None, "gpt2": gpt2_rules}


def checkpoint():
    """A partial state dict of ``Mixed``: a sharded weight, a bias with empty shards, a
    buffer, and the weight with zeroed rows (loaded as is: its padding row is not zero)."""
    values = lambda *shape: torch.arange(1, 1 + torch.Size(shape).numel(),
                                         dtype=torch.float32).reshape(shape) / 7
    return {"proj.weight": values(15, 10), "score.bias": values(1), "bn.running_var": values(5),
            "embed.weight": values(37, 10), "attn.out_proj.weight": values(15, 15)}


SKIPS = {None: lambda: None, "partial": checkpoint}


def reference(model, rules=None, skip=None):
    """The one-process state dict: ``init_module`` of the model built on the CPU."""
    module = ft.init_module(MODELS[model](), seed=SEED, rules=RULES[rules](), skip=SKIPS[skip]())
    return {name: t.detach().clone() for name, t in module.state_dict().items()}


# --- what each rank runs ---------------------------------------------------------------


def _full(tensor):
    from torch.distributed.tensor import DTensor

    return (tensor.full_tensor() if isinstance(tensor, DTensor) else tensor).detach().clone()


def _gathered(model):
    """Every state-dict entry of ``model`` at full size (DTensors all-gathered)."""
    return {name: _full(t) for name, t in model.state_dict().items()}


def _check_sharded(model, placements=None):
    """Every parameter is a DTensor (with ``placements`` if given) with storage."""
    from torch.distributed.tensor import DTensor

    for name, p in model.named_parameters():
        assert isinstance(p, DTensor), f"{name} is a {type(p).__name__}, not a DTensor"
        assert p.to_local().device.type == "cpu", name
        if placements is not None:
            assert tuple(p.placements) == placements[name], (name, p.placements)
    for name, b in model.named_buffers():
        assert not b.is_meta, name


def case_fsdp2(world, model="mixed", rules=None, skip=None, layout="fsdp"):
    """``fully_shard`` every unit (``UNITS``) and the root, ``materialize``; returns the
    state dict gathered twice: as DTensors (``full_tensor``) and by FSDP's own
    all-gather (``unshard``, from the padded shard storage training uses).

    ``layout``: "fsdp" (a 1-D mesh of every rank), "hsdp" (a 2 x world/2 mesh:
    replicated over the first dimension, sharded over the second), "tp" (tensor
    parallel over the second dimension, then FSDP over the first: ``_StridedShard``
    placements) or "shard1" (``shard_placement_fn``: ``Shard(1)`` for matrices)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, fully_shard
    from torch.distributed.tensor import Shard

    if layout == "fsdp" or layout == "shard1":
        mesh = init_device_mesh("cpu", (world,))
    else:
        mesh = init_device_mesh("cpu", (2, world // 2), mesh_dim_names=(
            ("replicate", "shard") if layout == "hsdp" else ("dp", "tp")))
    with torch.device("meta"):
        module = MODELS[model]()
    if layout == "tp":
        from torch.distributed.tensor.parallel import (ColwiseParallel, RowwiseParallel,
                                                       parallelize_module)

        parallelize_module(module, mesh["tp"], {"up": ColwiseParallel(),
                                                "down": RowwiseParallel()})
        mesh = mesh["dp"]
    placement = (lambda p: Shard(1) if p.dim() > 1 else None) if layout == "shard1" else None
    for unit in UNITS[model](module):
        fully_shard(unit, mesh=mesh, shard_placement_fn=placement)
    fully_shard(module, mesh=mesh)
    ft.materialize(module, "cpu", seed=SEED, rules=RULES[rules](), skip=SKIPS[skip]())
    _check_sharded(module)
    kinds = {type(q).__name__ + str(q.dim) for p in module.parameters() for q in p.placements
             if q.is_shard() or type(q).__name__ == "_StridedShard"}
    assert {"tp": "_StridedShard0", "shard1": "Shard1"}.get(layout, "Shard0") in kinds, kinds
    result = {"full_tensor": _gathered(module)}
    if model == "tied_lm":
        assert module.lm_head.weight is module.wte.weight, "the tie is broken"
    units = [m for m in module.modules() if isinstance(m, FSDPModule)]
    for unit in units:
        unit.unshard()
    result["unshard"] = {name: _full(t)  # a DTensor still where tensor parallel
                         for name, t in itertools.chain(
                             module.named_parameters(remove_duplicate=False),
                             module.named_buffers())}
    for unit in units:
        unit.reshard()
    return result


def _placement(code):
    """The placement a code names: R (Replicate), S<d> (Shard(d)), SS<d>
    (_StridedShard(d, split_factor=2))."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.placement_types import _StridedShard

    if code.startswith("SS"):
        return _StridedShard(int(code[2:]), split_factor=2)
    return Replicate() if code == "R" else Shard(int(code[1:]))


def case_dtensor(world, mesh_shape, placements, rules=None):
    """``distribute_module`` with ``placements`` (``_placement`` codes, one per mesh
    dimension; a Shard of a dimension a parameter lacks becomes Replicate), then
    ``materialize``; returns the gathered state dict."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, distribute_module, distribute_tensor

    mesh = init_device_mesh("cpu", mesh_shape)
    wanted = {}

    def partition(prefix, module, mesh):
        for local, p in list(module.named_parameters(recurse=False)):
            fit = tuple(q if q.is_replicate() or q.dim < p.dim() else Replicate()
                        for q in map(_placement, placements))
            wanted[f"{prefix}.{local}" if prefix else local] = fit
            # src_data_rank=None: no scatter (a meta tensor has no data; torch's scatter of
            # uneven _StridedShard pieces asserts)
            module.register_parameter(local, nn.Parameter(distribute_tensor(
                p, mesh, fit, src_data_rank=None if "SS" in "".join(placements) else 0)))

    with torch.device("meta"):
        model = dense()
    distribute_module(model, mesh, partition)
    assert all(p.is_meta for p in model.parameters())
    ft.materialize(model, "cpu", seed=SEED, rules=RULES[rules]())
    _check_sharded(model, wanted)
    return {"full_tensor": _gathered(model)}


def case_fsdp1(world, model="mixed", rules=None, use_orig_params=False):
    """FSDP1 on the CPU (``device_id=cpu``) of a meta ``model`` with fastinit's
    ``param_init_fn``, embedding, conv, attention and LSTM in their own FSDP units;
    returns the full state dict and the parameters under ``summon_full_params``."""
    from torch.distributed.fsdp import FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp._common_utils import clean_tensor_name
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    with torch.device("meta"):
        model = MODELS[model]()
    init_fn = ft.param_init_fn(model, seed=SEED, rules=RULES[rules]())
    policy = ModuleWrapPolicy({nn.Embedding, nn.Conv2d, nn.MultiheadAttention, nn.LSTM})
    model = FSDP(model, param_init_fn=init_fn, device_id=torch.device("cpu"),
                 auto_wrap_policy=policy, use_orig_params=use_orig_params)
    assert not any(t.is_meta for t in itertools.chain(model.parameters(), model.buffers()))
    config = FullStateDictConfig(offload_to_cpu=False, rank0_only=False)
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, config):
        state = _gathered(model)
    with FSDP.summon_full_params(model, writeback=False):
        summoned = {clean_tensor_name(name): p.detach().clone()
                    for name, p in model.named_parameters()}
    return {"full_state_dict": state, "summon_full_params": summoned}


CASES = {"fsdp2": case_fsdp2, "dtensor": case_dtensor, "fsdp1": case_fsdp1}


def serve(rank, world, init_file, out_dir, tasks, results):
    """A rank: joins the group, then runs cases from ``tasks`` until it gets None."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # FSDP1's state_dict_type
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=CASE_TIMEOUT))
    results.put((rank, "ready", None))
    try:
        while (task := tasks.get()) is not None:
            number, case, kwargs = task
            try:
                path = os.path.join(out_dir, f"{number}-{rank}.pt")
                torch.save(CASES[case](world, **kwargs), path)
                results.put((rank, "done", path))
            except BaseException:
                results.put((rank, "error", traceback.format_exc()))
    finally:
        dist.destroy_process_group()


# --- the parent's side -----------------------------------------------------------------


class Group:
    """``world`` spawned processes in one gloo process group, serving cases."""

    def __init__(self, world, directory):
        reference("mixed")  # compiles the fill kernels here once; the ranks load the cache
        self.world, self.directory, self.broken, self.cases = world, directory, False, 0
        context = mp.get_context("spawn")
        self.tasks = [context.Queue() for _ in range(world)]
        self.results = context.Queue()
        self.processes = [
            context.Process(target=serve, daemon=True,
                            args=(rank, world, str(directory / "rendezvous"), str(directory),
                                  self.tasks[rank], self.results))
            for rank in range(world)]
        for p in self.processes:
            p.start()
        self._collect("ready", START_TIMEOUT)

    def _collect(self, expected, timeout):
        """{rank: payload} once every rank has reported ``expected``; fails the test on
        an error, a dead process or the timeout."""
        deadline = time.monotonic() + timeout
        got = {}
        while len(got) < self.world:
            try:
                rank, status, payload = self.results.get(timeout=1.0)
            except queue.Empty:
                dead = [r for r, p in enumerate(self.processes) if not p.is_alive()]
                if dead or time.monotonic() > deadline:
                    self.close()
                    pytest.fail(f"{self.world} processes, waiting for {expected!r}: "
                                + (f"rank(s) {dead} died" if dead else f"{timeout} s passed "
                                   f"with ranks {sorted(set(range(self.world)) - set(got))} "
                                   "silent (hang?)"), pytrace=False)
                continue
            if status == "error":
                self.close()
                pytest.fail(f"rank {rank} of {self.world}:\n{payload}", pytrace=False)
            got[rank] = payload
        return got

    def run(self, case, **kwargs):
        """Every rank's result of ``CASES[case](world, **kwargs)``, by rank."""
        self.cases += 1
        for q in self.tasks:
            q.put((self.cases, case, kwargs))
        paths = self._collect("done", CASE_TIMEOUT)
        return {rank: torch.load(path, weights_only=True) for rank, path in paths.items()}

    def close(self):
        self.broken = True
        for q in self.tasks:
            q.put(None)
        for p in self.processes:
            p.join(timeout=10)
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """``group(world)``: the module's process group of ``world`` ranks (respawned after
    a failure)."""
    groups = {}

    def get(world):
        if world not in groups or groups[world].broken:
            groups[world] = Group(world, tmp_path_factory.mktemp(f"world{world}"))
        return groups[world]

    yield get
    for g in groups.values():
        if not g.broken:
            g.close()


def assert_all_equal(results, expected, parameters=()):
    """Every rank's every gathered state dict equals ``expected`` bit for bit (the
    parameters named ``parameters`` only, where the gathering gives only those)."""
    assert results, "no rank reported"
    for rank, gathered in results.items():
        for how, state in gathered.items():
            names = set(parameters) if how == "summon_full_params" else expected.keys()
            assert state.keys() == names, (rank, how, sorted(state.keys() ^ names))
            for name, value in state.items():
                want = expected[name]
                assert value.dtype == want.dtype and value.shape == want.shape, (rank, how, name)
                assert torch.equal(value, want), f"rank {rank}, {how}: {name} differs"


# --- tests -----------------------------------------------------------------------------


WORLDS = pytest.mark.parametrize("world", [2, 4])


@WORLDS
def test_fsdp2_default_schemes(group, world):
    assert_all_equal(group(world).run("fsdp2"), reference("mixed"))


@WORLDS
def test_fsdp2_rules(group, world):
    expected = reference("mixed", rules="gpt2")
    default = reference("mixed")
    for name in ("attn.in_proj_weight", "conv.weight", "proj.weight", "embed.weight"):
        assert not torch.equal(expected[name], default[name]), f"the rule for {name} is unused"
    assert_all_equal(group(world).run("fsdp2", rules="gpt2"), expected)


@WORLDS
def test_fsdp2_skip_loads_checkpoint_tensors_and_initializes_the_rest(group, world):
    expected = reference("mixed", skip="partial")
    for name, value in checkpoint().items():
        assert torch.equal(expected[name], value), name
    assert torch.equal(expected["head.weight"], reference("mixed")["head.weight"])
    assert_all_equal(group(world).run("fsdp2", skip="partial"), expected)


def test_fsdp2_hybrid_sharding_on_a_2d_mesh(group):
    assert_all_equal(group(4).run("fsdp2", rules="gpt2", layout="hsdp"),
                     reference("mixed", rules="gpt2"))


@WORLDS
def test_fsdp2_tied_embedding_and_output_are_one_tensor_drawn_once(group, world):
    expected = reference("tied_lm")
    assert torch.equal(expected["lm_head.weight"], expected["wte.weight"])
    assert_all_equal(group(world).run("fsdp2", model="tied_lm"), expected)


@WORLDS
def test_fsdp2_replays_captured_init_code_at_full_size(group, world):
    expected = reference("captured")
    assert expected["clamped"].abs().max() == 0.5
    assert_all_equal(group(world).run("fsdp2", model="captured"), expected)


@pytest.mark.parametrize("rules", [None, "gpt2"])
def test_fsdp2_over_tensor_parallel(group, rules):
    """TP over one mesh dimension, FSDP over the other: ``_StridedShard`` placements
    whose local shards are still blocks of the global tensor."""
    assert_all_equal(group(4).run("fsdp2", model="mlp", rules=rules, layout="tp"),
                     reference("mlp", rules=rules))


@WORLDS
def test_fsdp2_shard_placement_fn_shard_1(group, world):
    assert_all_equal(group(world).run("fsdp2", model="even", layout="shard1"),
                     reference("even"))


@pytest.mark.parametrize("rules", [None, "gpt2"])
@pytest.mark.parametrize("world, mesh, placements", [
    (2, (2,), ("S0",)), (2, (2,), ("S1",)), (2, (2,), ("R",)),
    (4, (4,), ("S0",)), (4, (4,), ("S1",)), (4, (4,), ("R",)),
    (4, (2, 2), ("S0", "S1")), (4, (2, 2), ("S1", "S0")), (4, (2, 2), ("S0", "S0")),
    (4, (2, 2), ("R", "S1")),
], ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else None)
def test_dtensor_placements(group, world, mesh, placements, rules):
    results = group(world).run("dtensor", mesh_shape=mesh, placements=placements, rules=rules)
    assert_all_equal(results, reference("dense", rules=rules))


@pytest.mark.parametrize("placements", [("SS0", "S0"), ("S0", "SS0")],
                         ids=lambda v: "x".join(v))
def test_dtensor_strided_shards(group, placements):
    results = group(4).run("dtensor", mesh_shape=(2, 2), placements=placements)
    assert_all_equal(results, reference("dense"))


@pytest.mark.parametrize("use_orig_params", [False, True], ids=["flat", "orig_params"])
@pytest.mark.parametrize("rules", [None, "gpt2"])
@WORLDS
def test_fsdp1_param_init_fn(group, world, rules, use_orig_params):
    results = group(world).run("fsdp1", rules=rules, use_orig_params=use_orig_params)
    parameters = dict(Mixed().named_parameters())
    assert_all_equal(results, reference("mixed", rules=rules), parameters)


@pytest.mark.parametrize("use_orig_params", [False, True], ids=["flat", "orig_params"])
def test_fsdp1_tied_weights_are_drawn_once_under_the_first_name(group, use_orig_params):
    results = group(2).run("fsdp1", model="tied", use_orig_params=use_orig_params)
    expected = reference("tied")
    assert torch.equal(expected["tied.weight"], expected["head.weight"])
    assert_all_equal(results, expected, dict(Tied().named_parameters()))
