"""Build step that pyproject.toml cannot express: ship the top-level `recipes/` folder in the wheel.

The repository keeps its recipes at the top (`recipes/collision/push_target.yaml`); a wheel needs
them inside the package, so `build_py` copies them to `factory/_recipes/`, where
`factory.recipe.shipped` looks first. Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithRecipes(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "recipes"
        target = Path(self.build_lib) / "factory" / "_recipes"
        if target.exists():
            shutil.rmtree(target)
        for path in sorted(source.rglob("*.yaml")):
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(source))


setup(cmdclass={"build_py": BuildPyWithRecipes})
