"""Many `np.random.default_rng([seed, index, crc])` generators at once, each the same as numpy's own.

Sampling gives every parameter of every episode its own generator (`sampling.episode_rng`).
Building one is almost all `SeedSequence`'s hashing of its few entropy words, and a run builds
one per parameter per episode. Here that hashing (numpy's SeedSequence algorithm,
pool size 4, on uint32 words with wrap-around) runs for a whole shard's generators as array
arithmetic, and each draw then re-seeds one reused PCG64 the way `PCG64(seed_sequence)` seeds
itself, so the draws are numpy's own: the tests compare them with `default_rng` value for value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4  # SeedSequence's default pool size (uint32 words)
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341  # PCG64's 128-bit LCG multiplier
_MASK128 = (1 << 128) - 1


def seed_words(n: int) -> list[int]:
    """A non-negative int as SeedSequence reads it: little-endian 32-bit words, [0] for 0."""
    if n < 0:
        raise ValueError(f"seeds and episode indices must be non-negative, got {n}")
    words = [n & 0xFFFFFFFF]
    while n := n >> 32:
        words.append(n & 0xFFFFFFFF)
    return words


def pcg64_seeds(entropy: np.ndarray) -> np.ndarray:
    """(n, L) uint32 entropy words → (n, 4) uint64: `SeedSequence(row).generate_state(4, np.uint64)` of each row."""
    entropy = np.asarray(entropy, np.uint32)
    n, length = entropy.shape
    with np.errstate(over="ignore"):
        hash_const = np.full(n, _INIT_A, np.uint32)

        def hashmix(value: np.ndarray) -> np.ndarray:
            nonlocal hash_const
            value = value ^ hash_const
            hash_const = hash_const * np.uint32(_MULT_A)
            value = value * hash_const
            return value ^ (value >> np.uint32(16))

        def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            result: np.ndarray = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
            return result ^ (result >> np.uint32(16))

        zero = np.zeros(n, np.uint32)
        mixer = [hashmix(entropy[:, i] if i < length else zero) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    mixer[dst] = mix(mixer[dst], hashmix(mixer[src]))
        for src in range(_POOL, length):
            for dst in range(_POOL):
                mixer[dst] = mix(mixer[dst], hashmix(entropy[:, src]))
        out = np.empty((n, 8), np.uint32)
        hash_const = np.full(n, _INIT_B, np.uint32)
        for i in range(8):
            value = mixer[i % _POOL] ^ hash_const
            hash_const = hash_const * np.uint32(_MULT_B)
            value = value * hash_const
            out[:, i] = value ^ (value >> np.uint32(16))
    return out.astype("<u4").view("<u8")


class Reseeded:
    """One Generator, re-seeded in place for each draw from a row of `pcg64_seeds`."""

    def __init__(self) -> None:
        self._bits = np.random.PCG64(0)
        self.rng = np.random.Generator(self._bits)

    def seeded(self, s: Sequence[int]) -> np.random.Generator:
        """The generator in the state `PCG64(SeedSequence(...))` starts in, for that sequence's 4 words."""
        initstate, initseq = (s[0] << 64) | s[1], (s[2] << 64) | s[3]
        inc = ((initseq << 1) | 1) & _MASK128  # pcg64_srandom: state 0, one step, add initstate, one step
        state = ((inc + initstate) * _PCG_MULT + inc) & _MASK128
        self._bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                            "has_uint32": 0, "uinteger": 0}
        return self.rng
