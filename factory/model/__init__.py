"""Baseline world models: loaders, trivial baselines, a rigid-body model, training and evaluation.

Modules that need torch import it themselves; `import factory.model` alone imports nothing heavy.
"""
