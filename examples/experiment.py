r"""The classic initialization experiment: the same network, four initializations.

A fully connected ReLU network (layer sizes :data:`LAYERS`, softmax over the 10 digit
classes, cross-entropy) is trained by plain full-batch gradient descent, forward and
backward written out in numpy float64, on scikit-learn's bundled ``load_digits`` (1797
8x8 images, no download; a fixed stratified 70/30 split, features standardized with the
training statistics). Ten classes rather than a binary task, so that learning nothing is
unmistakable: a cost of :math:`\ln 10 \approx 2.30` and an accuracy of 10%. Only the
initialization of the weights changes, each through ``fastinit.init``; biases start at
zero; the learning rate and the number of steps are the same for all:

* ``zeros``: ``zeros_``. Every hidden unit of a layer computes the same function and
  gets the same gradient, so the units stay identical forever: symmetry is never
  broken. With ReLU it is worse still: ``relu(0) = 0`` passes no gradient, so no hidden
  weight ever moves and only the output bias learns, which can reach no lower than the
  entropy of the class frequencies (:math:`\ln 10` for balanced classes): chance.
* ``normal x10``: ``normal_(std=10)``. Each layer multiplies the signal's scale by about
  :math:`10 \sqrt{\text{fan\_in} / 2}`, so the first logits are of order :math:`10^6`,
  the cost as large, and the first gradient steps so large that they switch off every
  ReLU of a layer: the network dies at chance too.
* ``xavier``: ``xavier_normal_``, :math:`\text{std} = \sqrt{2 / (\text{fan\_in} +
  \text{fan\_out})}` - Glorot, X. & Bengio, Y. (2010), `Understanding the difficulty of
  training deep feedforward neural networks`. Keeps the signal's variance about
  constant through linear (or tanh-like) layers.
* ``he``: ``kaiming_normal_(nonlinearity="relu")``, :math:`\text{std} = \sqrt{2 /
  \text{fan\_in}}` - He, K. et al. (2015), `Delving deep into rectifiers`. The factor 2
  makes up for ReLU zeroing half of its inputs, so the variance is kept exactly through
  ReLU layers.

Both scaled inits train to a cost near zero, He a little faster, as its derivation for
ReLU predicts. The three random inits draw the same standard normals (one fresh
``fastinit.Generator(seed)`` each, layers in order) and differ only in their scales. The
initial weights are the same bits on every machine; the curves then depend only on
numpy's (and its BLAS's) float64 arithmetic.

Weights are in ``torch.nn.Linear``'s layout, ``(out_features, in_features)``, the layout
fastinit's torch-style fans read (``fan_in = shape[1]``, ``fan_out = shape[0]``); a layer
computes ``z = a @ w.T + b`` on a batch ``a`` of shape ``(samples, in_features)``, and
row ``i`` of ``w`` holds the incoming weights of unit ``i``.

:func:`run` returns the curves and diagnostics as plain (JSON-ready) data, :func:`plot`
draws them to a PNG, and ``python examples/experiment.py --plot PATH [--steps N] [--seed
S]`` does both and prints a summary (the default 1500 steps: 10-25 s on 2 busy cores).
Needs scikit-learn (the data; imported when the data is loaded) and matplotlib (the
plot; imported by :func:`plot`).
"""

import argparse
import contextlib
import math
import sys
import time
from pathlib import Path

import numpy as np

from fastinit import init
from fastinit.generator import Generator

LAYERS = (64, 40, 20, 10, 10)
LEARNING_RATE = 0.1
STEPS = 1500
SEED = 0
TEST_FRACTION = 0.3
SPLIT_SEED = 0  # the train/test split is fixed: it does not follow ``seed``


def _zeros(w, generator):
    return init.zeros_(w)


def _normal_x10(w, generator):
    return init.normal_(w, std=10.0, generator=generator)


def _xavier(w, generator):
    return init.xavier_normal_(w, generator=generator)


def _he(w, generator):
    return init.kaiming_normal_(w, nonlinearity="relu", generator=generator)


# name: (fill of one weight matrix, legend label)
INITS = {
    "zeros": (_zeros, "zeros (zeros_)"),
    "normal x10": (_normal_x10, "N(0, 10²) (normal_(std=10))"),
    "xavier": (_xavier, "Xavier (xavier_normal_)"),
    "he": (_he, 'He (kaiming_normal_, "relu")'),
}


def load_data(test_fraction=TEST_FRACTION, split_seed=SPLIT_SEED):
    """``(x_train, y_train, x_test, y_test)`` from scikit-learn's bundled digits (no
    download): float64 features standardized with the training mean and std (constant
    pixels left at zero), int labels 0-9, a stratified split fixed by ``split_seed``."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise ImportError(f"the experiment's data needs scikit-learn ({exc}); "
                          "pip install scikit-learn") from exc
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(np.float64), digits.target, test_size=test_fraction,
        stratify=digits.target, random_state=split_seed)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def init_params(layers, name, seed=SEED):
    """``[(w, b), ...]`` for ``layers`` (sizes, inputs first): each ``w`` of shape
    ``(out, in)`` filled by the init ``name`` (a key of :data:`INITS`) from one fresh
    ``Generator(seed)`` in layer order, each ``b`` zero."""
    fill, _ = INITS[name]
    generator = Generator(seed)
    params = []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        w = np.empty((n_out, n_in), np.float64)
        fill(w, generator)
        params.append((w, init.zeros_(np.empty(n_out, np.float64))))
    return params


def forward(params, x):
    """The activations ``[x, a1, ..., logits]``: ReLU after every layer but the last."""
    activations = [x]
    for i, (w, b) in enumerate(params):
        z = activations[-1] @ w.T + b
        activations.append(np.maximum(z, 0.0) if i < len(params) - 1 else z)
    return activations


def cross_entropy(logits, y):
    """``(mean cross-entropy, softmax probabilities)`` of integer labels ``y``, through
    a shifted log-sum-exp, so finite for any finite logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(total)
    return -log_probs[np.arange(len(y)), y].mean(), exp / total


def gradients(params, activations, probs, y):
    """``[(dw, db), ...]``: the gradient of the mean cross-entropy with respect to each
    layer's parameters (backpropagation; ``relu'(0) = 0``)."""
    dz = probs.copy()
    dz[np.arange(len(y)), y] -= 1.0
    dz /= len(y)
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = (dz.T @ activations[i], dz.sum(axis=0))
        if i > 0:
            dz = (dz @ params[i][0]) * (activations[i] > 0)
    return grads


def hidden_units_identical(params, rtol=1e-12):
    """Whether, in every hidden layer, all units have the same incoming weights and
    bias (every row of ``w`` and every entry of ``b`` equal, to ``rtol`` of the
    largest magnitude): the symmetry that makes units interchangeable."""
    for w, b in params[:-1]:
        both = np.column_stack([w, b])
        if np.ptp(both, axis=0).max() > rtol * max(np.abs(both).max(), 1.0):
            return False
    return True


def accuracy(params, x, y):
    """The fraction of ``x`` whose largest logit is at its label."""
    return float(np.mean(forward(params, x)[-1].argmax(axis=1) == y))


def _one_blas_thread():
    """Limit BLAS to one thread while training: products this small (1257 x 64 at most)
    gain nothing from threads, and on a busy 2-core machine OpenBLAS's spinning threads
    made training 10-20 times slower. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train(params, x, y, steps, learning_rate):
    """Run ``steps`` full-batch gradient-descent steps on ``params`` in place.

    Returns ``(cost, train accuracy, symmetric)``: lists of ``steps + 1`` floats, entry
    ``k`` after ``k`` steps (0: at initialization), and whether the hidden units were
    identical (:func:`hidden_units_identical`) at every one of them. A non-finite cost
    stops training; the rest of both curves is NaN.
    """
    costs, accuracies = [], []
    symmetric = True
    with _one_blas_thread():
        for step in range(steps + 1):
            activations = forward(params, x)
            cost, probs = cross_entropy(activations[-1], y)
            costs.append(float(cost))
            accuracies.append(float(np.mean(activations[-1].argmax(axis=1) == y)))
            symmetric = symmetric and hidden_units_identical(params)
            if not math.isfinite(cost):
                costs += [math.nan] * (steps - step)
                accuracies += [math.nan] * (steps - step)
                break
            if step == steps:
                break
            for (w, b), (dw, db) in zip(params, gradients(params, activations, probs, y)):
                w -= learning_rate * dw
                b -= learning_rate * db
    return costs, accuracies, symmetric


def dead_units(params, x):
    """Per hidden layer, the fraction of units whose ReLU is off for every row of ``x``
    (they pass no gradient: nothing before them can learn through them)."""
    return [float(np.mean(~(a > 0).any(axis=0))) for a in forward(params, x)[1:-1]]


def run(steps=STEPS, seed=SEED, learning_rate=LEARNING_RATE, layers=LAYERS, inits=None):
    """Train the network once per initialization; return the results as plain data.

    ``inits`` is a sequence of :data:`INITS` names (default all four). Returns
    ``{"layers", "steps", "learning_rate", "seed", "train_size", "test_size",
    "label_entropy", "inits": {name: {...}}}``, where ``label_entropy`` is the entropy of
    the training labels (the lowest cost a network that ignores its input can reach) and
    each init has ``cost`` and ``train_accuracy_curve`` (``steps + 1`` floats, entry
    ``k`` after ``k`` steps), ``train_accuracy``, ``test_accuracy`` (at the end),
    ``hidden_units_identical`` (at every step), ``dead_units`` (per hidden layer, at the
    end, on the training set) and ``seconds``.
    """
    layers = tuple(int(n) for n in layers)
    x_train, y_train, x_test, y_test = load_data()
    if layers[0] != x_train.shape[1] or layers[-1] != 10:
        raise ValueError(f"layers must start at {x_train.shape[1]} inputs and end at 10 "
                         f"classes, got {layers}")
    frequencies = np.bincount(y_train, minlength=10) / len(y_train)
    frequencies = frequencies[frequencies > 0]
    results = {
        "layers": list(layers), "steps": int(steps), "learning_rate": float(learning_rate),
        "seed": int(seed), "train_size": len(y_train), "test_size": len(y_test),
        "label_entropy": float(-(frequencies * np.log(frequencies)).sum()), "inits": {},
    }
    for name in (INITS if inits is None else inits):
        start = time.perf_counter()
        params = init_params(layers, name, seed)
        costs, curve, symmetric = train(params, x_train, y_train, steps, learning_rate)
        results["inits"][name] = {
            "cost": costs,
            "train_accuracy_curve": curve,
            "train_accuracy": accuracy(params, x_train, y_train),
            "test_accuracy": accuracy(params, x_test, y_test),
            "hidden_units_identical": symmetric,
            "dead_units": dead_units(params, x_train),
            "seconds": time.perf_counter() - start,
        }
    return results


_COLORS = {"zeros": "0.45", "normal x10": "C3", "xavier": "C0", "he": "C2"}


def _legend_label(name, res):
    """An init's name and what became of it: final cost, test accuracy, symmetry, dead
    layers."""
    lines = [INITS[name][1] if name in INITS else name,
             f"cost {res['cost'][0]:.4g} → {res['cost'][-1]:.4g}, "
             f"test accuracy {res['test_accuracy']:.0%}"]
    if res["hidden_units_identical"]:
        lines.append("hidden units identical throughout")
    dead = [str(i + 1) for i, fraction in enumerate(res["dead_units"]) if fraction == 1.0]
    if dead and not res["hidden_units_identical"]:
        lines.append(f"every ReLU off in hidden layer {', '.join(dead)}")
    return "\n".join(lines)


def plot(results, path):
    """A PNG at ``path`` of :func:`run`'s ``results``: the training cost (log scale) and
    the training accuracy against steps (linear to 1, logarithmic after, so the first
    steps show), one line per init, chance dotted, a legend saying what became of each
    init. Needs matplotlib (drawn with its Agg canvas; pyplot's global state is left
    alone). Returns ``path``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6.0), dpi=100, layout="constrained")
    cost_ax, acc_ax = fig.subplots(1, 2)
    for name, res in results["inits"].items():
        steps = np.arange(len(res["cost"]))
        style = {"color": _COLORS.get(name), "linewidth": 1.8,
                 "label": _legend_label(name, res)}
        if name == "zeros":  # drawn wide and pale: normal x10 may end on the same plateau
            style.update(linewidth=5, alpha=0.5)
        cost_ax.plot(steps, res["cost"], **style)
        acc_ax.plot(steps, res["train_accuracy_curve"], **style)
    chance = [(cost_ax, results["label_entropy"],
               f"chance: label entropy {results['label_entropy']:.3f} (ln 10 = 2.303)"),
              (acc_ax, 0.1, "chance: 10%")]
    for ax, level, text in chance:
        ax.axhline(level, color="black", linestyle=":", linewidth=1)
        ax.annotate(text, (0.98, level), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", ha="right", va="bottom",
                    fontsize=8)
    cost_ax.set_yscale("log")
    cost_ax.set_ylabel("training cost (mean cross-entropy)")
    cost_ax.set_title("training cost", fontsize=10)
    acc_ax.set_ylim(0, 1.02)
    acc_ax.set_ylabel("training accuracy")
    acc_ax.set_title("training accuracy", fontsize=10)
    for ax in (cost_ax, acc_ax):
        ax.set_xscale("symlog", linthresh=1, linscale=0.5)
        ax.set_xlim(0, results["steps"])
        ax.set_xlabel("gradient-descent steps (linear to 1, then logarithmic)")
        ax.grid(True, alpha=0.3)
    handles, labels = cost_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    sizes = "-".join(map(str, results["layers"]))
    fig.suptitle(f"Four initializations of one {sizes} ReLU network (softmax output) on "
                 f"scikit-learn's digits ({results['train_size']} training images)\n"
                 f"full-batch gradient descent, learning rate {results['learning_rate']:g}, "
                 f"seed {results['seed']}; fastinit.init fills the weights, biases start at 0",
                 fontsize=10)
    fig.savefig(path, format="png")
    return path


def _positive(text):
    if not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _seed(text):
    if not (text.isdigit() and int(text) < 1 << 64):
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed in [0, 2**64)")
    return int(text)


def _out_path(text):
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {path.parent} to write {path.name} in")
    return path


def _parser():
    parser = argparse.ArgumentParser(
        prog="python examples/experiment.py",
        description="Train one ReLU network on the digits data from four initializations "
        "(zeros, N(0, 10^2), Xavier, He) and compare the costs.")
    parser.add_argument("--plot", type=_out_path, metavar="PATH",
                        help="draw the cost curves to this PNG (needs matplotlib)")
    parser.add_argument("--steps", type=_positive, default=STEPS,
                        help=f"gradient-descent steps per init (default {STEPS})")
    parser.add_argument("--seed", type=_seed, default=SEED,
                        help=f"seed of the random inits (default {SEED}; the train/test "
                        "split is fixed)")
    return parser


def summary(results):
    """The results as text: one line per init."""
    lines = [f"{'init':<12}{'cost at 0':>12}{'final cost':>12}{'train acc':>11}"
             f"{'test acc':>10}  hidden units identical  dead ReLUs per layer"]
    for name, res in results["inits"].items():
        dead = " ".join(f"{d:.0%}" for d in res["dead_units"])
        lines.append(f"{name:<12}{res['cost'][0]:>12.4g}{res['cost'][-1]:>12.4g}"
                     f"{res['train_accuracy']:>11.1%}{res['test_accuracy']:>10.1%}  "
                     f"{str(res['hidden_units_identical']):<24}{dead}")
    return "\n".join(lines)


def main(argv=None):
    """``python examples/experiment.py``: run, print the summary, draw ``--plot``."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            parser.error(f"--plot needs matplotlib: {exc} (pip install matplotlib)")
    results = run(steps=args.steps, seed=args.seed)
    print(f"layers {'-'.join(map(str, results['layers']))}, {results['steps']} steps, "
          f"learning rate {results['learning_rate']:g}, seed {results['seed']}, "
          f"{results['train_size']} train / {results['test_size']} test images")
    print(summary(results))
    if args.plot is not None:
        print(f"wrote {plot(results, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
