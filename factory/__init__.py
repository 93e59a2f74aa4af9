"""Physics data factory: YAML recipes → engine episodes → labeled state-action-result datasets."""

__version__ = "0.1.0"

from factory.dataset import Dataset, open_dataset  # noqa: E402
from factory.recipe_loader import load_recipe  # noqa: E402

__all__ = ["Dataset", "__version__", "load_recipe", "open_dataset"]
