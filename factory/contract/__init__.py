"""The engine contract: what the orchestrator hands an engine and what the engine hands back.

`engine` is the protocol every adapter implements, `sampling` turns (recipe, seed, episode index) into
an `EpisodeSpec` (with `seeds`, its per-parameter generators, and `robots`, a robot's drawn start and
policy parameters), `policies` holds the scripted robot policies engines run in their loop, and
`rollout` holds the arrays an engine fills (`Layout`, `Rollout`, `Contacts`) and the labelled
`EpisodeRecord` writers take. Engines and the orchestrator both import this package; it imports only
the recipe models and errors.
"""
