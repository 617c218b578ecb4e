"""Erlang B, C and A: the queueing formulas a call centre plans with (VALIDATION.md).

A = λ / μ offered load in Erlangs (λ arrival rate of live calls, 1/μ mean handle
time), N agents, θ = 1 / mean patience. Erlang B is insensitive to the handle-time
distribution; C and A assume exponential handle times (and patience).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ErlangA", "erlang_a", "erlang_b", "erlang_c", "erlang_c_asa",
           "erlang_c_service_level"]


def erlang_b(a: float, n: int) -> float:
    """Blocking probability of an M/G/N/N system (recursion, stable for large N)."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(a: float, n: int) -> float:
    """Probability of waiting in an M/M/N queue (A < N)."""
    if a >= n:
        return 1.0
    b = erlang_b(a, n)
    return n * b / (n - a * (1 - b))


def erlang_c_service_level(a: float, n: int, mu: float, t_s: float) -> float:
    """P(wait <= t) in an M/M/N queue: 1 − C·exp(−(N − A)·μ·t)."""
    return 1.0 - erlang_c(a, n) * math.exp(-(n - a) * mu * t_s)


def erlang_c_asa(a: float, n: int, mu: float) -> float:
    """Average speed of answer (mean wait, s) in an M/M/N queue: C / (Nμ − λ)."""
    return erlang_c(a, n) / (n * mu - a * mu)


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady-state figures of an M/M/N+M queue."""

    p_wait: float
    p_abandon: float
    occupancy: float
    mean_queue: float


def erlang_a(lam: float, mu: float, n: int, theta: float, tol: float = 1e-15) -> ErlangA:
    """Erlang A (Palm's M/M/N+M) by its birth–death stationary distribution.

    ``lam`` arrivals per s, ``mu`` = 1 / mean handle (s⁻¹), ``n`` agents, ``theta`` =
    1 / mean patience (s⁻¹). π_j ∝ A^j / j! for j ≤ N; beyond, each step multiplies by
    λ / (Nμ + iθ). P(abandon) = θ·E[queue] / λ.
    """
    a = lam / mu
    # log-space for the first N+1 terms, then the queue tail until negligible
    logs = [j * math.log(a) - math.lgamma(j + 1) if a > 0 else (0.0 if j == 0 else -math.inf)
            for j in range(n + 1)]
    top = max(logs)
    w = [math.exp(x - top) for x in logs]
    tail = []
    last = w[-1]
    i = 1
    while True:
        last *= lam / (n * mu + i * theta)
        tail.append(last)
        if last < tol * sum(w) or i > 1_000_000:
            break
        i += 1
    total = sum(w) + sum(tail)
    p_wait = (w[-1] + sum(tail)) / total
    mean_queue = sum(k * p for k, p in enumerate(tail, start=1)) / total
    busy = (sum(j * p for j, p in enumerate(w)) + n * sum(tail)) / total
    return ErlangA(p_wait=p_wait, p_abandon=theta * mean_queue / lam if lam else 0.0,
                   occupancy=busy / n, mean_queue=mean_queue)
