"""The README's tour runs as written."""

import pathlib
import re


def test_readme_tour_runs():
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Tour\n\n```python\n(.*?)```", readme, re.S).group(1)
    scope = {}
    exec(code, scope)
    assert scope["k"].shape == (3, 3, 64, 128)
    assert scope["raw"].dtype.name == "uint32"
