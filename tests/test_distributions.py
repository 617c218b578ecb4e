"""Distributions: analytic moments against samples, inverse CDFs, the spec parser."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from sim.distributions import DISTRIBUTIONS, Distribution, ndtri, parse_distribution
from sim.errors import ScenarioError
from sim.validate import Problems

SPECS = [
    5,
    {"dist": "constant", "value": 3},
    {"dist": "uniform", "low": 2, "high": 9},
    {"dist": "exponential", "mean": 40},
    {"dist": "exponential", "rate": 0.25},
    {"dist": "lognormal", "median": 60, "sigma": 0.9},
    {"dist": "lognormal", "mean": 120, "sd": 120},
    {"dist": "lognormal", "mean": 150, "cv": 1.5},
    {"dist": "gamma", "mean": 30, "sd": 10},
    {"dist": "gamma", "shape": 2, "scale": 3},
    {"dist": "weibull", "shape": 1.5, "scale": 20},
    {"dist": "triangular", "low": 1, "mode": 4, "high": 10},
    {"dist": "empirical", "values": [1, 5, 30], "weights": [0.5, 0.3, 0.2]},
    {"dist": "mixture", "weights": [0.7, 0.3], "components": [
        {"dist": "uniform", "low": 6, "high": 10}, {"dist": "lognormal", "median": 20,
                                                    "sigma": 0.1}]},
]


def parse(spec) -> Distribution:
    p = Problems("t.toml", ScenarioError)
    d = parse_distribution(spec, "x", p)
    p.raise_if_any()
    assert d is not None
    return d


def test_every_registered_distribution_has_a_case():
    names = {s["dist"] if isinstance(s, dict) else "constant" for s in SPECS}
    assert names == set(DISTRIBUTIONS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s)[:40])
def test_moments_match_samples_and_ppf_is_monotone(spec):
    d = parse(spec)
    rng = np.random.default_rng(7)
    x = d.ppf(rng.random(400_000))
    n = len(x)
    # the sample mean lies within 5 standard errors of the analytic mean
    assert abs(x.mean() - d.mean) <= 5 * np.sqrt(d.var / n) + 1e-12
    if d.var > 0:
        assert x.var() == pytest.approx(d.var, rel=0.05)
    u = np.linspace(0, 1, 1001, endpoint=False)
    q = d.ppf(u)
    assert np.all(np.diff(q) >= -1e-12) or spec.get("dist") == "mixture"
    assert np.all(q >= 0)
    assert d.ppf1(0.37) == pytest.approx(float(d.ppf(np.array([0.37]))[0]), rel=1e-9)
    assert parse(d.spec()).mean == pytest.approx(d.mean)


def test_spec_forms_of_the_lognormal_agree():
    a = parse({"dist": "lognormal", "mean": 120, "cv": 1.0})
    assert a.mean == pytest.approx(120) and a.sd == pytest.approx(120)
    b = parse({"dist": "lognormal", "median": a.median, "sigma": a.sigma})
    assert b.mean == pytest.approx(120)


def test_ndtri_matches_scipy():
    p = np.concatenate([np.linspace(1e-12, 1 - 1e-12, 100_001),
                        np.logspace(-300, -1, 500), [0.5, 1 - 1e-16]])
    assert np.max(np.abs(ndtri(p) - special.ndtri(p))) < 1e-13
    assert ndtri(np.array([0.0]))[0] == -np.inf and ndtri(np.array([1.0]))[0] == np.inf


@pytest.mark.parametrize("spec, message", [
    ({"dist": "gama", "mean": 3}, "did you mean 'gamma'"),
    ({"dist": "uniform", "low": 5}, "uniform needs low and high"),
    ({"dist": "lognormal", "median": -1, "sigma": 1}, "median: must be a number > 0"),
    ({"dist": "exponential", "mean": 4, "shape": 2}, "x.shape: unknown key"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "as many weights as values"),
    ({"mean": 4}, "x.dist: is required"),
    ("long", "must be a number or a {dist = ...} table"),
    (-2, "must be a finite number >= 0"),
])
def test_bad_specs_are_reported_with_their_key(spec, message):
    p = Problems("t.toml", ScenarioError)
    assert parse_distribution(spec, "x", p) is None
    assert any(message in line for line in p.lines), p.lines
    assert all(line.startswith("t.toml: x") for line in p.lines)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s)[:40])
def test_drawing_a_subset_gives_those_draws_and_advances_the_stream_as_all(spec):
    # the customer model plays the script only for leads who can answer: their values
    # must not depend on which other leads are drawn (common random numbers)
    d = parse(spec)
    keep = np.array([0, 3, 4, 9, 17, 18, 19])
    full_rng, part_rng = np.random.default_rng(11), np.random.default_rng(11)
    full = d.draw(full_rng, 20)
    part = d.draw(part_rng, 20, keep)
    assert np.array_equal(part, full[keep])
    assert np.array_equal(full_rng.random(3), part_rng.random(3))
