"""Small scenarios for tests: a complete raw dict with constant times, overridable."""

from __future__ import annotations

from typing import Any

from sim.scenario import Scenario, scenario_from_dict


def tiny_dict() -> dict[str, Any]:
    """One agent, a few leads, everything constant and certain unless overridden."""
    return {
        "name": "tiny",
        "campaign": {"start": "2026-03-02", "days": 1, "timezone": "Asia/Shanghai",
                     "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                     "windows": [["09:00", "17:00"]]},
        "list": {"size": 5, "max_attempts": 1, "max_per_24h": 10, "max_per_5min": 10},
        "customers": {"p_fail": 0.0, "p_busy": 0.0, "p_pickup": 1.0, "p_machine": 0.0,
                      "ring": 8, "machine_ring": 8, "fail_time": 3, "busy_time": 4,
                      "patience": 0, "machine_talk": 5},
        "agents": {"count": 1, "wrap": 10, "preview": 5},
        "dialer": {"mode": "progressive", "ratio": 1, "ring_timeout_s": 25,
                   "abandon_threshold_s": 2},
        "script": {"p_convert": 0.0, "decline_exit": 0,
                   "stages": [{"name": "talk", "duration": 60}]},
    }


def tiny(overrides: dict[str, Any] | None = None, **sections: dict[str, Any]) -> Scenario:
    """``tiny_dict()`` with whole-section updates (``list={"size": 9}``) and dotted overrides."""
    raw = tiny_dict()
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return scenario_from_dict(raw, overrides=overrides or {})
