"""Genesis (genesis-world) adapter: rigid-body collision episodes on batched scenes."""

from engines.genesis.engine import GenesisEngine

__all__ = ["GenesisEngine"]
