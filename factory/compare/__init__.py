"""`factory compare`: the same episodes on several engines, and how far their data and labels agree.

`runs` simulates one recipe on each engine (the same sampled parameters and actions: an episode
depends only on the recipe, seed and index), `metrics` measures divergence, label agreement and
outcome distributions against the first engine, `laws` each engine's residuals against analytic
laws, `robots` the robots' joint and tool gaps and their labels side by side (robot recipes), and
`page` writes summary.json and index.html with figures.
"""

from factory.compare.summary import compare

__all__ = ["compare"]
