"""Named random streams.

Every random number in dialsim comes from a generator made here from the run's seed
and a stream key, never from global state. Customer behaviour is keyed by what the
customer is — (lead, attempt) — not by when the dialer happens to call, so two
scenarios that differ only in script or dialer face the *same* customers (common
random numbers). Streams are PCG64, named explicitly, so results do not change if
numpy changes its default bit generator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "derive_seed", "stream"]

#: Stream families. Numbers are part of the results' identity: never renumber.
STREAMS: dict[str, int] = {
    "leads": 1,  # per-lead latent traits (segment, reachability, interest)
    "customers": 2,  # per (attempt number, draw purpose) customer reactions
    "dialer": 3,  # the dialer's own randomness (Poisson pacing, fractional ratios)
    "agents": 4,  # agent-side times (wrap-up, preview)
    "replications": 5,  # seeds of replications
    "sweep": 6,  # seeds and samples of sweeps
    "amd": 7,  # answering-machine detector
}


def stream(seed: int, name: str, *key: int) -> np.random.Generator:
    """A PCG64 generator for stream ``name`` and sub-key ``key`` under ``seed``.

    The same (seed, name, key) always gives the same sequence; different keys give
    statistically independent sequences (``SeedSequence`` spawn keys).
    """
    ss = np.random.SeedSequence(int(seed), spawn_key=(STREAMS[name], *map(int, key)))
    return np.random.Generator(np.random.PCG64(ss))


def derive_seed(seed: int, name: str, *key: int) -> int:
    """A 63-bit child seed of ``seed`` for stream ``name`` and ``key`` (replications, sweeps)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(STREAMS[name], *map(int, key)))
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
