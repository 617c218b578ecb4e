"""Distributions of times and quantities in a campaign (ring time, talk, patience, ...).

Scenario files write them as inline tables, ``{dist = "lognormal", median = 60,
sigma = 0.9}``; a bare number is a constant. Each distribution knows its analytic
mean and variance and maps uniforms to values through its inverse CDF (``ppf``), so a
customer's uniform draw for "how long is my greeting" gives correlated durations in
two script variants (common random numbers). ``sample(rng, n)`` draws in one batch.

Registry (``DISTRIBUTIONS``): constant, uniform, exponential, lognormal, gamma,
weibull, triangular, empirical, mixture.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .validate import Problems, Section, describe, did_you_mean

__all__ = [
    "DISTRIBUTIONS",
    "MAX_DRAW_S",
    "MAX_TAIL_S",
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "LogNormal",
    "Mixture",
    "Triangular",
    "Uniform",
    "Weibull",
    "check_draws",
    "ndtri",
    "parse_distribution",
]

_TINY = np.finfo(float).tiny

#: A distribution is accepted only if what it would draw is sane: finite and >= 0 at
#: every probed quantile, a finite mean, 99.9 % of draws at most MAX_DRAW_S (about
#: 116 days, in seconds for times) and the one-in-a-billion draw at most MAX_TAIL_S
#: (about 32 years). Beyond that a campaign's timeline or a retry calendar explodes.
MAX_DRAW_S = 1e7
MAX_TAIL_S = 1e9
_PROBES = np.array([0.0, 1e-9, 0.001, 0.25, 0.5, 0.75, 0.999])
_FAR = 1.0 - 1e-9

# Wichura's AS 241 (PPND16): the standard normal quantile to about 1e-16, in numpy.
# It stands in for scipy.special.ndtri because importing scipy.special costs ~0.45 s
# of every dialsim command, and lognormal times are in nearly every scenario.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


def _poly(coef: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape, coef[-1])
    for c in coef[-2::-1]:
        out = out * x + c
    return out


def ndtri(p: np.ndarray) -> np.ndarray:
    """Quantile of the standard normal distribution (vectorised AS 241; ±inf at 0 and 1)."""
    p = np.asarray(p, dtype=float)
    q = p - 0.5
    out = np.empty(p.shape)
    central = np.abs(q) <= 0.425
    if central.any():
        qc = q[central]
        r = 0.180625 - qc * qc
        out[central] = qc * _poly(_A, r) / _poly(_B, r)
    tail = ~central
    if tail.any():
        qt = q[tail]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(-np.log(np.where(qt < 0, p[tail], 1.0 - p[tail])))
            near = r <= 5.0
            val = np.where(near, _poly(_C, r - 1.6) / _poly(_D, r - 1.6),
                           _poly(_E, r - 5.0) / _poly(_F, r - 5.0))
        val = np.where(np.isinf(r), np.inf, val)
        out[tail] = np.where(qt < 0, -val, val)
    return out


class Distribution:
    """Base class: a non-negative random quantity with a vectorised inverse CDF."""

    name = "distribution"

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def var(self) -> float:
        raise NotImplementedError

    @property
    def sd(self) -> float:
        return math.sqrt(self.var)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u`` in [0, 1) (inverse CDF, vectorised)."""
        raise NotImplementedError

    def ppf1(self, u: float) -> float:
        """Scalar inverse CDF (for the odd draw inside the event loop)."""
        return float(self.ppf(np.array([u]))[0])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws using ``rng``."""
        return self.ppf(rng.random(n))

    def draw(self, rng: np.random.Generator, n: int, keep: np.ndarray | None = None) -> np.ndarray:
        """``n`` draws that are a monotone function of ``rng``'s numbers (for common
        random numbers): the inverse CDF of uniforms unless a family has a faster
        monotone transform.

        With ``keep`` (indices into the ``n``), only those draws: the same values as
        ``draw(rng, n)[keep]`` — ``rng`` still advances by all ``n`` — transformed only
        where they are needed.
        """
        u = rng.random(n)
        return self.ppf(u if keep is None else u[keep])

    def spec(self) -> dict[str, Any]:
        """The inline-table spec that parses back to this distribution."""
        raise NotImplementedError

    @property
    def is_constant(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Constant(Distribution):
    value: float
    name = "constant"

    @property
    def mean(self) -> float:
        return self.value

    @property
    def var(self) -> float:
        return 0.0

    @property
    def is_constant(self) -> bool:
        return True

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), float(self.value))

    def ppf1(self, u: float) -> float:
        return float(self.value)

    def spec(self) -> dict[str, Any]:
        return {"dist": "constant", "value": self.value}


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    low: float
    high: float
    name = "uniform"

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def var(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    def ppf1(self, u: float) -> float:
        return self.low + (self.high - self.low) * u

    def spec(self) -> dict[str, Any]:
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    mean_s: float
    name = "exponential"

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def var(self) -> float:
        return self.mean_s**2

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_s * np.log1p(-np.asarray(u, dtype=float))

    def ppf1(self, u: float) -> float:
        return -self.mean_s * math.log1p(-u)

    def spec(self) -> dict[str, Any]:
        return {"dist": "exponential", "mean": self.mean_s}


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """exp(N(mu, sigma²)); write it as median + sigma, mean + sd, or mean + cv."""

    mu: float
    sigma: float
    name = "lognormal"

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def var(self) -> float:
        return (math.exp(self.sigma**2) - 1) * math.exp(2 * self.mu + self.sigma**2)

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), _TINY, None)
        return np.exp(self.mu + self.sigma * ndtri(u))

    def ppf1(self, u: float) -> float:
        import statistics  # rarely needed (lognormal retry delays): not at start-up

        return math.exp(self.mu + self.sigma * statistics.NormalDist().inv_cdf(
            min(max(u, _TINY), 1.0 - 1e-16)))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, n) if self.sigma > 0 else np.full(n, self.median)

    def draw(self, rng: np.random.Generator, n: int, keep: np.ndarray | None = None) -> np.ndarray:
        # exp(mu + sigma z) of standard normals: monotone in z, no quantile function
        z = rng.standard_normal(n)
        return np.exp(self.mu + self.sigma * (z if keep is None else z[keep]))

    def spec(self) -> dict[str, Any]:
        return {"dist": "lognormal", "median": self.median, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    shape: float
    scale: float
    name = "gamma"

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    @property
    def var(self) -> float:
        return self.shape * self.scale**2

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy.special import gammaincinv  # only scenarios with gamma times pay for it

        return self.scale * gammaincinv(self.shape, np.asarray(u, dtype=float))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale, n)

    def draw(self, rng: np.random.Generator, n: int, keep: np.ndarray | None = None) -> np.ndarray:
        # scale × standard gamma: monotone in the scale (a mean change with the same CV
        # keeps the ranking); avoids scipy's gammaincinv and its import
        g = rng.standard_gamma(self.shape, n)
        return self.scale * (g if keep is None else g[keep])

    def spec(self) -> dict[str, Any]:
        return {"dist": "gamma", "shape": self.shape, "scale": self.scale}


@dataclass(frozen=True, slots=True)
class Weibull(Distribution):
    shape: float
    scale: float
    name = "weibull"

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    @property
    def var(self) -> float:
        g1 = math.gamma(1 + 1 / self.shape)
        return self.scale**2 * (math.gamma(1 + 2 / self.shape) - g1**2)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.scale * (-np.log1p(-np.asarray(u, dtype=float))) ** (1 / self.shape)

    def spec(self) -> dict[str, Any]:
        return {"dist": "weibull", "shape": self.shape, "scale": self.scale}


@dataclass(frozen=True, slots=True)
class Triangular(Distribution):
    low: float
    mode: float
    high: float
    name = "triangular"

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def var(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def ppf(self, u: np.ndarray) -> np.ndarray:
        a, c, b = self.low, self.mode, self.high
        u = np.asarray(u, dtype=float)
        if b == a:
            return np.full(u.shape, a)
        fc = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < fc, left, right)

    def spec(self) -> dict[str, Any]:
        return {"dist": "triangular", "low": self.low, "mode": self.mode, "high": self.high}


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """A discrete distribution over observed ``values`` with optional ``weights``."""

    values: tuple[float, ...]
    weights: tuple[float, ...]
    name = "empirical"

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.values, kind="stable")
        v = np.asarray(self.values, dtype=float)[order]
        w = np.asarray(self.weights, dtype=float)[order]
        return v, np.cumsum(w) / w.sum()

    @property
    def mean(self) -> float:
        v, w = np.asarray(self.values), np.asarray(self.weights)
        return float((v * w).sum() / w.sum())

    @property
    def var(self) -> float:
        v, w = np.asarray(self.values), np.asarray(self.weights) / sum(self.weights)
        m = float((v * w).sum())
        return float((w * (v - m) ** 2).sum())

    def ppf(self, u: np.ndarray) -> np.ndarray:
        v, cum = self._arrays()
        idx = np.searchsorted(cum, np.asarray(u, dtype=float), side="right")
        return v[np.minimum(idx, len(v) - 1)]

    def ppf1(self, u: float) -> float:
        # in plain Python: an empirical retry delay is drawn once per retry in the event
        # loop, where numpy's per-call overhead (~0.15 ms) dominated a fitted campaign
        pairs = sorted(zip(self.values, self.weights, strict=True))
        target = u * sum(self.weights)
        acc = 0.0
        for value, weight in pairs:
            acc += weight
            if target < acc:
                return float(value)
        return float(pairs[-1][0])

    def spec(self) -> dict[str, Any]:
        return {"dist": "empirical", "values": list(self.values), "weights": list(self.weights)}


@dataclass(frozen=True, slots=True)
class Mixture(Distribution):
    """Pick component i with probability ``weights[i]`` (e.g. bimodal ring times).

    The uniform is split: the part below the first weight drives the first component,
    and so on, so ``ppf`` stays a deterministic map of one uniform (CRN-friendly).
    """

    components: tuple[Distribution, ...]
    weights: tuple[float, ...]
    name = "mixture"

    @property
    def mean(self) -> float:
        w = np.asarray(self.weights) / sum(self.weights)
        return float(sum(wi * c.mean for wi, c in zip(w, self.components, strict=True)))

    @property
    def var(self) -> float:
        w = np.asarray(self.weights) / sum(self.weights)
        m = self.mean
        return float(sum(wi * (c.var + c.mean**2) for wi, c in
                         zip(w, self.components, strict=True)) - m * m)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        w = np.asarray(self.weights, dtype=float)
        edges = np.concatenate([[0.0], np.cumsum(w / w.sum())])
        edges[-1] = 1.0
        which = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, len(w) - 1)
        out = np.empty(u.shape)
        for i, comp in enumerate(self.components):
            m = which == i
            if m.any():
                lo, hi = edges[i], edges[i + 1]
                out[m] = comp.ppf(np.clip((u[m] - lo) / (hi - lo), 0.0, np.nextafter(1.0, 0)))
        return out

    def draw(self, rng: np.random.Generator, n: int, keep: np.ndarray | None = None) -> np.ndarray:
        # one uniform picks the component, each component draws in its own fast way
        u = rng.random(n)
        if keep is not None:
            u = u[keep]
        edges = np.cumsum(np.asarray(self.weights, dtype=float))
        which = np.searchsorted(edges / edges[-1], u, side="right")
        out = np.empty(len(u))
        for i, comp in enumerate(self.components):
            vals = comp.draw(rng, n, keep)
            m = which == i
            out[m] = vals[m]
        return out

    def spec(self) -> dict[str, Any]:
        return {"dist": "mixture", "components": [c.spec() for c in self.components],
                "weights": list(self.weights)}


# -- parsing ----------------------------------------------------------------------------

def _p_constant(s: Section) -> Distribution | None:
    v = s.number("value", None, lo=0)
    if v is None and not s.has("value"):
        s.problems.add(s.key, "constant needs value")
    return None if v is None else Constant(float(v))


def _p_uniform(s: Section) -> Distribution | None:
    lo, hi = s.number("low", None, lo=0), s.number("high", None, lo=0)
    if lo is None or hi is None:
        if not s.has("low") or not s.has("high"):
            s.problems.add(s.key, "uniform needs low and high")
        return None
    if hi < lo:
        s.problems.must(s.path("high"), f">= low ({lo:g})", hi)
        return None
    return Uniform(float(lo), float(hi))


def _p_exponential(s: Section) -> Distribution | None:
    if s.has("rate"):
        r = s.number("rate", None, lo=0, lo_open=True)
        return None if r is None else Exponential(1.0 / r)
    m = s.number("mean", None, lo=0, lo_open=True)
    if m is None and not s.has("mean"):
        s.problems.add(s.key, "exponential needs mean (or rate)")
    return None if m is None else Exponential(float(m))


def _mean_sd(s: Section, kind: str) -> tuple[float, float] | None:
    m = s.number("mean", None, lo=0, lo_open=True)
    if s.has("cv"):
        cv = s.number("cv", None, lo=0)
        if not s.has("mean"):
            s.problems.add(s.key, f"{kind} with cv needs mean")
        return None if m is None or cv is None else (float(m), float(m) * cv)
    sd = s.number("sd", None, lo=0)
    if m is None or sd is None:
        if not (s.has("mean") and s.has("sd")):
            s.problems.add(s.key, f"{kind} needs mean with sd or cv")
        return None
    return float(m), float(sd)


def _p_lognormal(s: Section) -> Distribution | None:
    if s.has("median") or s.has("mu"):
        sigma = s.number("sigma", None, lo=0)
        if s.has("median"):
            med = s.number("median", None, lo=0, lo_open=True)
            mu = None if med is None else math.log(med)
        else:
            mu = s.number("mu", None)
        if sigma is None and not s.has("sigma"):
            s.problems.add(s.key, "lognormal with median/mu needs sigma")
        return None if mu is None or sigma is None else LogNormal(float(mu), float(sigma))
    ms = _mean_sd(s, "lognormal")
    if ms is None:
        return None
    m, sd = ms
    sigma2 = math.log1p((sd / m) ** 2)
    return LogNormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2))


def _p_gamma(s: Section) -> Distribution | None:
    if s.has("shape"):
        k = s.number("shape", None, lo=0, lo_open=True)
        sc = s.number("scale", None, lo=0, lo_open=True)
        if sc is None and not s.has("scale"):
            s.problems.add(s.key, "gamma with shape needs scale")
        return None if k is None or sc is None else Gamma(float(k), float(sc))
    ms = _mean_sd(s, "gamma")
    if ms is None:
        return None
    m, sd = ms
    if sd == 0:
        return Constant(m)
    return Gamma((m / sd) ** 2, sd * sd / m)


def _p_weibull(s: Section) -> Distribution | None:
    k = s.number("shape", None, lo=0, lo_open=True)
    sc = s.number("scale", None, lo=0, lo_open=True)
    if (k is None and not s.has("shape")) or (sc is None and not s.has("scale")):
        s.problems.add(s.key, "weibull needs shape and scale")
    return None if k is None or sc is None else Weibull(float(k), float(sc))


def _p_triangular(s: Section) -> Distribution | None:
    a, c, b = (s.number(k, None, lo=0) for k in ("low", "mode", "high"))
    if a is None or b is None or c is None:
        if not all(s.has(k) for k in ("low", "mode", "high")):
            s.problems.add(s.key, "triangular needs low, mode and high")
        return None
    if not a <= c <= b:
        s.problems.must(s.key, "low <= mode <= high", [a, c, b])
        return None
    return Triangular(float(a), float(c), float(b))


def _numbers(s: Section, name: str, *, positive: bool) -> list[float] | None:
    raw = s.raw_get(name)
    if not isinstance(raw, list) or not raw:
        s.problems.must(s.path(name), "a non-empty list of numbers", raw)
        return None
    out = []
    for i, x in enumerate(raw):
        v = s.check_number(f"{s.path(name)}[{i}]", x, None, lo=0, lo_open=positive)
        if v is None:
            return None
        out.append(float(v))
    return out


def _p_empirical(s: Section) -> Distribution | None:
    if not s.has("values"):
        s.problems.add(s.key, "empirical needs values (and optional weights)")
        s.raw_get("weights")
        return None
    values = _numbers(s, "values", positive=False)
    weights = _numbers(s, "weights", positive=False) if s.has("weights") else None
    if values is None:
        return None
    if weights is None:
        if s.has("weights"):
            return None
        weights = [1.0] * len(values)
    if len(weights) != len(values):
        s.problems.must(s.path("weights"), f"as many weights as values ({len(values)})",
                        len(weights))
        return None
    if sum(weights) <= 0:
        s.problems.must(s.path("weights"), "weights with a positive sum", weights)
        return None
    return Empirical(tuple(values), tuple(weights))


def _p_mixture(s: Section) -> Distribution | None:
    comps_raw = s.raw_get("components")
    if not isinstance(comps_raw, list) or not comps_raw:
        s.problems.must(s.path("components"), "a non-empty list of distributions", comps_raw)
        s.raw_get("weights")
        return None
    comps = [parse_distribution(c, f"{s.path('components')}[{i}]", s.problems)
             for i, c in enumerate(comps_raw)]
    weights = _numbers(s, "weights", positive=False) if s.has("weights") else [1.0] * len(comps)
    if weights is None:
        return None
    if len(weights) != len(comps) or sum(weights) <= 0:
        s.problems.must(s.path("weights"), f"{len(comps)} weights with a positive sum", weights)
        return None
    if any(c is None for c in comps):
        return None
    return Mixture(tuple(c for c in comps if c is not None), tuple(weights))


DISTRIBUTIONS: Mapping[str, Callable[[Section], Distribution | None]] = {
    "constant": _p_constant,
    "uniform": _p_uniform,
    "exponential": _p_exponential,
    "lognormal": _p_lognormal,
    "gamma": _p_gamma,
    "weibull": _p_weibull,
    "triangular": _p_triangular,
    "empirical": _p_empirical,
    "mixture": _p_mixture,
}


def parse_distribution(raw: Any, key: str, problems: Problems) -> Distribution | None:
    """Parse a distribution spec at ``key``; record problems and return None if bad.

    A bare non-negative number is a constant; otherwise an inline table with ``dist``.
    """
    if isinstance(raw, bool):
        problems.must(key, "a number or a {dist = ...} table", raw)
        return None
    if isinstance(raw, int | float):
        if not (raw >= 0 and (isinstance(raw, int) or math.isfinite(raw))):
            problems.must(key, "a finite number >= 0", raw)
            return None
        if raw > MAX_DRAW_S:  # compared as given: a 400-digit int has no float
            problems.must(key, f"a number <= {MAX_DRAW_S:g}", raw)
            return None
        return Constant(float(raw))
    if not isinstance(raw, Mapping):
        problems.must(key, "a number or a {dist = ...} table", raw)
        return None
    name = raw.get("dist")
    if not isinstance(name, str):
        problems.add(key + ".dist", "is required: one of " + ", ".join(DISTRIBUTIONS)
                     + f" (got {describe(name) if name is not None else 'nothing'})")
        return None
    parser = DISTRIBUTIONS.get(name)
    if parser is None:
        problems.must(key + ".dist", "one of " + ", ".join(DISTRIBUTIONS), name)
        problems.lines[-1] += did_you_mean(name, DISTRIBUTIONS)
        return None
    s = Section(raw, key, problems)
    s.raw_get("dist")
    before = len(problems.lines)
    try:
        dist = parser(s)
    except (OverflowError, ZeroDivisionError, ValueError):  # e.g. (sd / mean) ** 2 = 1e600
        problems.add(key, f"{name} parameters out of range: their arithmetic overflows")
        dist = None
    s.finish()
    if dist is not None and len(problems.lines) == before:
        check_draws(dist, key, problems)
    return dist if len(problems.lines) == before else None


def check_draws(dist: Distribution, key: str, problems: Problems, *,
                hi: float = MAX_DRAW_S, tail: float = MAX_TAIL_S) -> bool:
    """Validate ``dist`` by what it would sample; record a problem at ``key`` if not sane.

    Probes the quantile function (``ppf``) at 0, 1e-9, 0.1 %, quartiles and 99.9 %,
    the one-in-a-billion tail, the mean, and a batch of 64 draws from the sampler the
    engine uses (``draw``, seeded): all must be finite and >= 0, the 99.9 % quantile at
    most ``hi`` and the far tail at most ``tail``. Families whose quantile function
    needs scipy (gamma) are probed through their draws instead, so loading a scenario
    never imports scipy. Verdicts are cached by distribution. Returns True when sane.
    """
    try:
        verdict = _VERDICTS.get((dist, hi, tail))
    except TypeError:  # an unhashable parameter: just check
        verdict = None
    if verdict is None:
        verdict = _verdict(dist, hi, tail)
        if len(_VERDICTS) < 4096:
            with contextlib.suppress(TypeError):
                _VERDICTS[(dist, hi, tail)] = verdict
    if verdict:
        problems.add(key, verdict)
    return not verdict


#: check_draws' verdicts by (distribution, hi, tail): a scenario's variants and a sweep's
#: points validate the same distributions again and again.
_VERDICTS: dict[tuple[Distribution, float, float], str] = {}


def _verdict(dist: Distribution, hi: float, tail: float) -> str:
    """The problem with what ``dist`` draws ('' when sane); see :func:`check_draws`."""
    name = dist.name
    if isinstance(dist, Constant):  # analytic: no numpy for the commonest case
        v = dist.value
        return "" if math.isfinite(v) and 0 <= v <= hi else (
            f"must be a number from 0 to {hi:g} (got {v:g})")
    try:
        with np.errstate(all="ignore"):
            if isinstance(dist, Gamma):
                draws = dist.draw(np.random.default_rng(0), 4096)
                q = np.quantile(draws, [0.0, 0.5, 0.999]) if np.isfinite(draws).all() \
                    else np.array([np.nan])
                far = float(draws.max()) if np.isfinite(draws).all() else math.nan
                # the gamma tail beyond the sample: mean + 30 sd bounds it (Chebyshev-like)
                far = max(far, dist.mean + 30 * dist.sd)
            else:
                q = dist.ppf(_PROBES)
                far = float(dist.ppf(np.array([_FAR]))[0])
                draws = dist.draw(np.random.default_rng(0), 64)
            mean = float(dist.mean)
    except (OverflowError, ValueError, ZeroDivisionError, FloatingPointError):
        return f"{name} parameters out of range: its quantiles or mean overflow"
    if not (np.isfinite(q).all() and np.isfinite(draws).all() and math.isfinite(mean)
            and math.isfinite(far)):
        return (f"{name} parameters out of range: it would draw values that are "
                "not finite numbers (inf or NaN)")
    if (q < 0).any() or (draws < 0).any():
        return f"{name} parameters out of range: it would draw negative values"
    if float(q[-1]) > hi:
        return (f"must be a distribution whose 99.9th percentile is <= {hi:g} "
                f"(got {float(q[-1]):.4g})")
    if far > tail:
        return (f"must be a distribution whose one-in-a-billion draw is <= "
                f"{tail:g} (got {far:.4g})")
    return ""
