"""fastinit.torch with no rules: the model's own init code, captured and drawn by fastinit.

Specification: a model built on the meta device and materialized with no rules holds,
in every tensor, what its own init code gives it (custom ``reset_parameters``, a
transformers model's ``_init_weights``): the same distributions (a KS test and a 3%
bound on the standard deviation against transformers' own init of the same config),
the same constants and buffers bit for bit, computed on the target device; drawn from
fastinit's stream of the tensor's name. transformers does not redraw it afterwards.
Rules override capture; what fastinit cannot reproduce is one error, grouped by name
pattern, module class and reason, whose patterns work as rules.

transformers models are built from small configs of GPT-2, Llama, BERT, T5, ViT,
Qwen2 and OPT (no weights are downloaded).
"""

import math

import pytest
import torch
from scipy import stats
from torch import nn

import fastinit
import fastinit.torch as ft
from fastinit import Generator, Normal, Uniform
from fastinit.schemes import Constant, KaimingUniform
from fastinit.torch import capture, plan
from fastinit.torch.names import own_tensors

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

CONFIGS = {  # name: (config class, a small config of it)
    "gpt2": ("GPT2Config", dict(n_layer=2, n_embd=128, n_head=4, vocab_size=1000,
                                n_positions=128, bos_token_id=0, eos_token_id=0)),
    "llama": ("LlamaConfig", dict(hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2,
                                  vocab_size=1000)),
    "bert": ("BertConfig", dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=256, vocab_size=1000,
                                max_position_embeddings=128)),
    "t5": ("T5Config", dict(d_model=128, d_ff=256, num_layers=2, num_heads=4, d_kv=32,
                            vocab_size=1000)),
    "vit": ("ViTConfig", dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=256, image_size=64, patch_size=8)),
    "qwen2": ("Qwen2Config", dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2,
                                  vocab_size=1000)),
}


def small_config(name):
    cls, arguments = CONFIGS[name]
    return getattr(transformers, cls)(**arguments)


def meta_model(config, cls=transformers.AutoModel):
    with torch.device("meta"):
        return cls.from_config(config) if cls is transformers.AutoModel else cls(config)


def reference(config, cls=transformers.AutoModel):
    """transformers' own init of ``config``, on the CPU."""
    torch.manual_seed(0)
    return cls.from_config(config) if cls is transformers.AutoModel else cls(config)


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def tensors(module):
    """{first name: tensor} of every tensor of ``module``, tied ones once."""
    return {name: t.detach() for name, _, _, t, _ in own_tensors(module)}


def groups_by_distribution(model):
    """{captured distribution: [names]} of ``model``'s random tensors (on meta)."""
    groups = {}
    for name, (scheme, _, _) in plan.schemes(model, captured=capture.capture(model)).items():
        if isinstance(scheme, (Normal, Uniform, fastinit.TruncatedNormal)) or hasattr(
                scheme, "distribution"):
            groups.setdefault(scheme, []).append(name)
    return groups


# --- the six transformers models --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_no_rules_gives_each_model_transformers_own_init(name):
    model = meta_model(small_config(name))
    groups = groups_by_distribution(model)
    ft.materialize(model, "cpu", seed=0)
    ours, theirs = tensors(model), tensors(reference(small_config(name)))
    assert ours.keys() == theirs.keys()
    assert not any(t.is_meta for t in ours.values())
    random = {n for names in groups.values() for n in names}
    for key, value in ours.items():
        if key not in random:  # constants and buffers: bit for bit
            assert torch.equal(value, theirs[key]), key
    for scheme, names in groups.items():
        a = torch.cat([ours[n].flatten() for n in names]).double().numpy()
        b = torch.cat([theirs[n].flatten() for n in names]).double().numpy()
        assert abs(a.std() / b.std() - 1) < 0.03, (names, a.std(), b.std())
        assert stats.ks_2samp(a, b).pvalue > 1e-4, names


def assert_bert_word_embeddings_drawn(model):
    """BERT's word embeddings hold N(0, 0.02) of their name's stream, but for the
    padding row, zeroed after the draw."""
    weight = model.embeddings.word_embeddings.weight
    drawn = expected("embeddings.word_embeddings.weight", weight, Normal(0.0, 0.02))
    assert not weight[0].any() and torch.equal(weight[1:], drawn[1:])


def test_padding_rows_of_embeddings_are_zero():
    model = meta_model(small_config("bert"))
    ft.materialize(model, "cpu", seed=0)
    assert_bert_word_embeddings_drawn(model)


def test_computed_buffers_are_the_models_own():
    config = small_config("llama")
    model = meta_model(config, transformers.LlamaForCausalLM)
    ft.materialize(model, "cpu", seed=0)
    ref = reference(config, transformers.LlamaForCausalLM)
    for (name, ours), (_, theirs) in zip(model.named_buffers(), ref.named_buffers()):
        assert torch.equal(ours, theirs), name


def test_a_model_built_on_meta_gets_what_its_constructor_gives():
    """Values only a constructor gives (openai-gpt's Conv1D draws N(0, 0.02) in __init__,
    CLIP's logit_scale): taken from the model's class built again from its config."""
    config = transformers.OpenAIGPTConfig(n_layer=2, n_embd=64, n_head=4, vocab_size=500,
                                          n_positions=64)
    model = meta_model(config)
    ft.materialize(model, "cpu", seed=0)
    w = model.h[1].mlp.c_fc.weight
    assert torch.equal(w, expected("h.1.mlp.c_fc.weight", w, Normal(0.0, 0.02)))
    config = transformers.CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, vocab_size=100),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=8))
    model = meta_model(config)
    ft.materialize(model, "cpu", seed=0)
    assert torch.equal(model.logit_scale, reference(config).logit_scale)


def test_opt_draws_its_init_weights_not_torch_defaults():
    config = transformers.OPTConfig(hidden_size=128, ffn_dim=256, num_hidden_layers=2,
                                    num_attention_heads=4, vocab_size=1000,
                                    max_position_embeddings=128, word_embed_proj_dim=128)
    model = meta_model(config)
    ft.materialize(model, "cpu", seed=0)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert abs(weights.std().item() / 0.02 - 1) < 0.03  # torch's default: U(+-1/sqrt(128))
    assert not any(m.bias.any() for m in linears if m.bias is not None)
    embed = model.decoder.embed_tokens.weight
    assert abs(embed.std().item() / 0.02 - 1) < 0.03
    assert not embed[config.pad_token_id].any()


def test_from_config_gives_what_materialize_gives():
    config = small_config("gpt2")
    built = ft.from_config(transformers.GPT2LMHeadModel, config, seed=5)
    assert built.lm_head.weight is built.transformer.wte.weight
    model = meta_model(config, transformers.GPT2LMHeadModel)
    ft.materialize(model, "cpu", seed=5)
    ours, again = state(built), state(model)
    assert all(torch.equal(ours[k], again[k]) for k in ours)
    assert type(ft.from_config(small_config("qwen2"), seed=5)).__name__ == "Qwen2Model"


def test_gpt2_residual_projections_get_their_scaled_std():
    config = small_config("gpt2")
    model = ft.from_config(config, seed=5)
    w = model.h[1].attn.c_proj.weight
    std = 0.02 / math.sqrt(2 * config.n_layer)
    assert torch.equal(w, Generator(5, ft.stream_of("h.1.attn.c_proj.weight")).fill(
        torch.empty_like(w), Normal(0.0, std)))


def test_transformers_does_not_redraw_a_materialized_model():
    model = meta_model(small_config("llama"), transformers.LlamaForCausalLM)
    ft.materialize(model, "cpu", seed=0)
    before = state(model)
    model.init_weights()
    model.post_init()
    model.initialize_weights()
    assert all(torch.equal(before[k], v) for k, v in state(model).items())
    assert all(m._is_hf_initialized for m in model.modules())
    assert all(t._is_hf_initialized for t in [*model.parameters(), *model.buffers()])


def test_rules_override_captured_init():
    model = meta_model(small_config("llama"))
    ft.materialize(model, "cpu", seed=0, rules={"*.q_proj.weight": Constant(0.5)})
    assert (model.layers[0].self_attn.q_proj.weight == 0.5).all()
    assert abs(model.layers[0].self_attn.k_proj.weight.std().item() / 0.02 - 1) < 0.1


def test_skip_loads_the_checkpoint_and_captures_the_rest():
    config = small_config("bert")
    pretrained = {k: v for k, v in state(reference(config)).items() if "encoder" in k}
    model = meta_model(config)
    ft.materialize(model, "cpu", seed=0, skip=pretrained)
    ours = state(model)
    assert all(torch.equal(ours[k], v) for k, v in pretrained.items())
    assert_bert_word_embeddings_drawn(model)


def test_capture_leaves_the_module_and_torchs_random_state_alone():
    torch.manual_seed(3)
    expected_draw = torch.rand(4)
    torch.manual_seed(3)
    ft.materialize(meta_model(small_config("gpt2")), "cpu", seed=0)
    assert torch.equal(torch.rand(4), expected_draw)
    model = meta_model(small_config("gpt2"))
    tensors = [t for _, _, _, t, _ in own_tensors(model)]
    capture.capture(model)
    assert [t for _, _, _, t, _ in own_tensors(model)] == tensors
    assert not any(hasattr(m, "_is_hf_initialized") for m in model.modules())


# --- custom modules ---------------------------------------------------------------------


class Custom(nn.Module):
    """A module whose reset_parameters uses each kind of write capture follows."""

    def __init__(self, d=64):
        super().__init__()
        self.w = nn.Parameter(torch.empty(d, d))
        self.scaled = nn.Parameter(torch.empty(d, d))
        self.rows = nn.Parameter(torch.empty(d, d))
        self.ortho = nn.Parameter(torch.empty(d, d))
        self.clamped = nn.Parameter(torch.empty(d, d))
        self.drawn = nn.Parameter(torch.empty(d))
        self.bias = nn.Parameter(torch.empty(d))
        self.register_buffer("positions", torch.empty(d))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.w, a=math.sqrt(5))
        with torch.no_grad():
            self.scaled.normal_(0.0, 1.0)
            self.scaled.mul_(0.1)
            nn.init.normal_(self.rows, std=0.05)
            self.rows[3].zero_()
        nn.init.orthogonal_(self.ortho, gain=2.0)
        nn.init.trunc_normal_(self.clamped, std=1.0, a=-3.0, b=3.0)
        with torch.no_grad():
            self.clamped.clamp_(-0.5, 0.5)
            self.drawn.copy_(torch.rand(self.drawn.shape[0]).exp())
            self.bias.fill_(0.25)
            self.positions.copy_(torch.arange(self.positions.shape[0]) * 2.0)


def expected(name, tensor, dist, seed=0):
    return Generator(seed, ft.stream_of(name)).fill(torch.empty_like(tensor), dist)


def test_custom_reset_parameters_are_captured():
    with torch.device("meta"):
        model = nn.Sequential(Custom())
    ft.materialize(model, "cpu", seed=0)
    m = model[0]
    kaiming = KaimingUniform(a=math.sqrt(5)).distribution((64, 64))  # torch's bound, 1/8
    assert math.isclose(kaiming.high, 1 / 8)
    assert torch.equal(m.w, expected("0.w", m.w, kaiming))
    assert torch.equal(m.scaled, expected("0.scaled", m.scaled, Normal(0.0, 0.1)))
    rows = expected("0.rows", m.rows, Normal(0.0, 0.05))
    rows[3] = 0
    assert torch.equal(m.rows, rows)
    gram = m.ortho @ m.ortho.T
    assert torch.allclose(gram, 4 * torch.eye(64), atol=1e-4)
    clamped = expected("0.clamped", m.clamped, fastinit.TruncatedNormal(0.0, 1.0, -3.0, 3.0))
    assert torch.equal(m.clamped, clamped.clamp(-0.5, 0.5))
    # the sixth random call of the replayed reset_parameters (five skipped before it)
    drawn = Generator(0, ft.stream_of("0:reset_parameters#5")).fill(torch.empty(64),
                                                                     Uniform(0.0, 1.0))
    assert torch.equal(m.drawn, drawn.exp())
    assert (m.bias == 0.25).all()
    assert torch.equal(m.positions, torch.arange(64) * 2.0)


def test_from_config_records_init_in_the_constructor():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(1e-5 * torch.ones(32))
            self.noise = nn.Parameter(torch.randn(32, 32) * 0.02)
            self.temperature = nn.Parameter(torch.log(torch.tensor(1 / 0.07)))

    model = ft.from_config(Scaled, seed=0)
    assert torch.equal(model.scale, torch.full((32,), 1e-5))
    assert torch.equal(model.noise, expected("noise", model.noise, Normal(0.0, 0.02)))
    assert torch.equal(model.temperature, torch.log(torch.tensor(1 / 0.07)))


def test_from_config_recomputes_what_a_constructor_derives_from_other_tensors():
    class Normed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(8, 16, 3), dim=0)
            self.register_buffer("decay", torch.log(torch.arange(1.0, 9.0)) * 0.5)

    model = ft.from_config(Normed, seed=0)
    weight = model.conv.parametrizations.weight
    kaiming = KaimingUniform(a=math.sqrt(5)).distribution((16, 8, 3))
    assert torch.equal(weight.original1, expected("conv.parametrizations.weight.original1",
                                                       weight.original1, kaiming))
    assert torch.equal(weight.original0, torch.norm_except_dim(weight.original1, 2, 0))
    assert torch.equal(model.decay, torch.log(torch.arange(1.0, 9.0)) * 0.5)


# --- what cannot be captured ------------------------------------------------------------


class Computed(nn.Module):
    """Values computed in ``__init__``: on the meta device, nothing can recompute them."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(8))
        with torch.no_grad():
            self.w.copy_(torch.arange(8.0).sqrt())


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(Computed() for _ in range(3))
        self.head = nn.Linear(8, 2)


def test_uncapturable_values_are_one_grouped_error_whose_pattern_works_as_a_rule():
    with pytest.raises(ValueError) as error:
        ft.from_config(Stack, seed=0)
    message = str(error.value)
    assert ("`layers.*.w` (3 tensors, Computed): values computed in __init__ (copy_)"
            in message)
    assert "head" not in message
    model = ft.from_config(Stack, seed=0, rules={"layers.*.w": lambda t, generator:
                                                 t.copy_(torch.arange(8.0).sqrt())})
    assert torch.equal(model.layers[2].w, torch.arange(8.0).sqrt())


def test_a_never_initialized_parameter_names_its_pattern():
    config = small_config("vit")
    model = meta_model(config)
    model.register_parameter("extra", nn.Parameter(torch.empty(4, device="meta")))
    model.embeddings.register_parameter("extra", nn.Parameter(torch.empty(4, device="meta")))
    with pytest.raises(ValueError, match=r"`embeddings.extra` \(1 tensor, ViTEmbeddings\): "
                                         "nothing initializes it"):
        ft.materialize(model, "cpu", seed=0)
    assert model.embeddings.cls_token.is_meta
    ft.materialize(model, "cpu", seed=0, rules={"*.extra": Constant(1.0),
                                                "extra": Constant(2.0)})
    assert (model.embeddings.extra == 1).all() and (model.extra == 2).all()


def test_an_init_that_fails_on_meta_is_reported():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(4))

        def reset_parameters(self):
            if self.w.sum() > 0:  # needs values: meta tensors have none
                self.w.zero_()

    with torch.device("meta"):
        model = nn.Sequential(Fails())
    with pytest.raises(ValueError, match=r"`\*\.w` \(1 tensor, Fails\): Fails.reset_parameters "
                                         "raised"):
        ft.materialize(model, "cpu", seed=0)


def test_unsupported_random_draws_are_reported():
    class Sparse(nn.Module):
        def __init__(self):
            super().__init__()
            self.mask = nn.Parameter(torch.empty(16))

        def reset_parameters(self):
            with torch.no_grad():
                self.mask.bernoulli_(0.5)

    with torch.device("meta"):
        model = Sparse()
    with pytest.raises(ValueError, match="bernoulli_ \\(fastinit has no such distribution\\)"):
        ft.materialize(model, "cpu", seed=0)
