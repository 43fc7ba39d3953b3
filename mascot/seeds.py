"""Seeds derived from a base seed and what identifies one unit of work (a context, a persona, a
sample, a turn): the same on every machine and in every run, whatever else is generated before it,
so a resumed or reordered run samples exactly what an uninterrupted one would."""

from __future__ import annotations

from mascot.resume import stable_hash


def derive_seed(seed: int, *parts: object) -> int:
    return int(stable_hash(seed, *parts)[:8], 16) & 0x7FFFFFFF
