"""The README's examples run as written."""

import pathlib
import re

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()


def _run(section):
    code = re.search(rf"## {section}\n\n```python\n(.*?)```", README, re.S).group(1)
    scope = {}
    exec(code, scope)
    return scope


def test_readme_whole_model_example_runs():
    scope = _run(re.escape("Whole models (PyTorch)"))
    torch, model, tuned = scope["torch"], scope["model"], scope["tuned"]
    assert torch.equal(tuned[3].weight, model[3].weight)  # loaded from the state dict
    assert tuned[3].weight is not model[3].weight


def test_readme_tour_runs():
    scope = _run("Tour")
    assert scope["k"].shape == (3, 3, 64, 128)
    assert scope["raw"].dtype.name == "uint32"
