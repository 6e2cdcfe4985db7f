"""examples/experiment.py teaches what the classic initialization experiment teaches.

On the digits data, with every init trained for the same steps at the same learning
rate: zero init never breaks the symmetry of the hidden units and its cost stays at
chance (the entropy of the labels, all a bias-only model can reach); N(0, 10^2) starts
with an exploding cost; Xavier and He train to a cost far below both. Around that: the
hand-written backward pass is the gradient of the cost, runs are reproducible from
their seed, and the plot is a PNG.
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from fastinit import init

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import experiment  # noqa: E402

STEPS = 200  # enough for the lesson at a fraction of the default 1500 steps


@pytest.fixture(scope="module")
def results():
    return experiment.run(steps=STEPS)


def test_run_returns_every_init_with_its_diagnostics(results):
    assert list(results["inits"]) == ["zeros", "normal x10", "xavier", "he"]
    assert results["train_size"] + results["test_size"] == 1797
    for res in results["inits"].values():
        assert len(res["cost"]) == len(res["train_accuracy_curve"]) == STEPS + 1
        assert all(math.isfinite(c) for c in res["cost"])
        assert 0 <= res["train_accuracy"] <= 1 and 0 <= res["test_accuracy"] <= 1
        assert len(res["dead_units"]) == len(experiment.LAYERS) - 2


def test_zero_init_never_breaks_symmetry(results):
    assert results["inits"]["zeros"]["hidden_units_identical"]
    for name in ("normal x10", "xavier", "he"):
        assert not results["inits"][name]["hidden_units_identical"]


def test_zero_init_learns_only_the_class_frequencies(results):
    # Only the output bias moves: the cost starts at ln 10 (uniform softmax), never goes
    # below the label entropy (the best a prediction ignoring the input can do), and the
    # classes are balanced, so both are ~2.30 and the curve is flat.
    zeros = results["inits"]["zeros"]
    entropy = results["label_entropy"]
    assert zeros["cost"][0] == pytest.approx(math.log(10), abs=1e-12)
    assert min(zeros["cost"]) >= entropy - 1e-12
    assert max(zeros["cost"]) - min(zeros["cost"]) < 1e-3
    assert zeros["test_accuracy"] < 0.15  # one class for every image: chance
    for name in ("xavier", "he"):
        assert zeros["cost"][-1] > 20 * results["inits"][name]["cost"][-1]


def test_any_constant_init_keeps_the_units_identical_while_they_learn():
    # Symmetry, not zero, is the trap: from a constant the weights do move, but every
    # unit of a layer gets the same gradient and stays a copy of its neighbours.
    x, y, _, _ = experiment.load_data()
    params = [(init.constant_(w, 0.05), b)
              for w, b in experiment.init_params(experiment.LAYERS, "zeros")]
    costs, _, symmetric = experiment.train(params, x, y, 50, experiment.LEARNING_RATE)
    assert symmetric and experiment.hidden_units_identical(params)
    assert not np.allclose(params[0][0], 0.05)  # they learned...
    assert costs[-1] > 1.5  # ...as much as one unit per layer can


def test_hidden_units_identical_sees_one_differing_weight():
    params = experiment.init_params((64, 40, 10), "zeros")
    assert experiment.hidden_units_identical(params)
    params[0][0][7, 3] = 1e-9
    assert not experiment.hidden_units_identical(params)
    params = experiment.init_params((64, 40, 10), "zeros")
    params[1][0][2, 5] = 1.0  # the output layer has no symmetry to keep
    assert experiment.hidden_units_identical(params)


def test_scaled_inits_beat_a_large_random_init(results):
    big = results["inits"]["normal x10"]
    assert big["cost"][0] > 1e4  # activations exploding through the layers
    for name in ("xavier", "he"):
        res = results["inits"][name]
        assert res["cost"][0] < 5  # the signal keeps its scale: logits of order 1
        assert res["cost"][-1] < 0.2 and res["cost"][-1] < big["cost"][-1] / 10
        assert res["train_accuracy"] > 0.95 and res["test_accuracy"] > 0.9
        assert res["test_accuracy"] > big["test_accuracy"] + 0.5


def test_weights_in_torch_layout_with_zero_biases():
    params = experiment.init_params((64, 40, 10), "he", seed=3)
    assert [(w.shape, b.shape) for w, b in params] == [((40, 64), (40,)), ((10, 40), (10,))]
    assert all(not b.any() for _, b in params)
    # one fresh Generator(3), layers in order: the same draws as kaiming_normal_'s
    from fastinit import Generator

    gen = Generator(3)
    for w, _ in params:
        assert np.array_equal(w, init.kaiming_normal_(np.empty_like(w), nonlinearity="relu",
                                                      generator=gen))


def test_random_inits_share_their_normals_and_differ_in_scale():
    layers = (64, 40, 10)
    big, xavier, he = (experiment.init_params(layers, n, seed=1)
                       for n in ("normal x10", "xavier", "he"))
    for (wb, _), (wx, _), (wh, _) in zip(big, xavier, he):
        n_out, n_in = wb.shape
        np.testing.assert_allclose(wx / math.sqrt(2 / (n_in + n_out)), wb / 10, rtol=1e-12)
        np.testing.assert_allclose(wh / math.sqrt(2 / n_in), wb / 10, rtol=1e-12)


def test_backward_is_the_gradient_of_the_cost():
    x, y, _, _ = experiment.load_data()
    x, y = x[:16], y[:16]
    params = experiment.init_params((64, 6, 5, 10), "he", seed=0)
    activations = experiment.forward(params, x)
    _, probs = experiment.cross_entropy(activations[-1], y)
    grads = experiment.gradients(params, activations, probs, y)
    eps = 1e-6
    for layer, grad in zip(params, grads):
        for array, analytic in zip(layer, grad):
            numeric = np.empty_like(array)
            for i in np.ndindex(array.shape):
                saved = array[i]
                array[i] = saved + eps
                up = experiment.cross_entropy(experiment.forward(params, x)[-1], y)[0]
                array[i] = saved - eps
                down = experiment.cross_entropy(experiment.forward(params, x)[-1], y)[0]
                array[i] = saved
                numeric[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_cross_entropy_is_finite_for_huge_logits():
    cost, probs = experiment.cross_entropy(np.array([[1e8, 0.0, -1e8]]), np.array([1]))
    assert cost == pytest.approx(1e8)
    np.testing.assert_allclose(probs, [[1.0, 0.0, 0.0]])


def test_same_seed_same_curves_other_seed_other_curves():
    a, b, c = (experiment.run(steps=5, seed=s, inits=["xavier", "zeros"]) for s in (7, 7, 8))
    assert a["inits"]["xavier"]["cost"] == b["inits"]["xavier"]["cost"]
    assert a["inits"]["xavier"]["cost"] != c["inits"]["xavier"]["cost"]
    assert a["inits"]["zeros"]["cost"] == c["inits"]["zeros"]["cost"]  # nothing random


def test_plot_writes_a_png(results, tmp_path):
    import matplotlib.image

    path = experiment.plot(results, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(path).shape
    assert width > 500 and height > 300


def test_main_prints_the_results_and_draws_the_plot(tmp_path, capsys):
    path = tmp_path / "out.png"
    assert experiment.main(["--plot", str(path), "--steps", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 steps" in out and "seed 2" in out
    assert all(name in out for name in experiment.INITS)
    assert f"wrote {path}" in out and path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--steps", "x"], ["--seed", "-1"],
                                  ["--plot", "/no/such/dir/x.png"]])
def test_main_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        experiment.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err
