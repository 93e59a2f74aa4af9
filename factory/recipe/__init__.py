"""Recipes: the YAML schema (pydantic), its field types and distributions, and the located loader."""

from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe

__all__ = ["Recipe", "load_recipe"]
