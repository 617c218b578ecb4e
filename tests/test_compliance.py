"""Compliance rules on hand-made CDR tables, and on simulated campaigns."""

from __future__ import annotations

import numpy as np
import pytest
from _factory import tiny

import sim
from sim.analysis.compliance import ComplianceLimits, evaluate
from sim.cdr import CDRTable, empty_columns, encode, open_categories


def table(rows: list[dict]) -> CDRTable:
    """rows: start, answer (None), connect (None), who ('person'/'machine'/None), lead."""
    n = len(rows)
    c = empty_columns(n)
    for i, r in enumerate(rows):
        c["start"][i] = r["start"]
        c["lead_id"][i] = r.get("lead", i)
        c["attempt"][i] = 1
        ans = r.get("answer")
        con = r.get("connect")
        c["answer"][i] = np.nan if ans is None else ans
        c["connect"][i] = np.nan if con is None else con
        c["end"][i] = r.get("end", (con if con is not None else ans or r["start"]) + 30)
        c["disposition"][i] = encode("disposition", "ANSWERED" if ans is not None else
                                     "NO ANSWER")
        c["answered_by"][i] = encode("answered_by", r.get("who") or "none")
        if ans is not None:
            c["wait_s"][i] = (con if con is not None else c["end"][i]) - ans
            c["abandoned"][i] = r.get("who") == "person" and con is None
            c["agent_id"][i] = 0 if con is not None else -1
    return CDRTable(c, open_categories(), epoch="2026-03-02T00:00:00", tz="UTC")


def by_rule(results):
    return {r.rule: r for r in results}


def test_us_rule_counts_late_connections_as_abandoned():
    rows = [{"start": 36000 + 100 * i, "answer": 36010 + 100 * i,
             "connect": 36010 + 100 * i, "who": "person"} for i in range(97)]
    rows += [{"start": 50000, "answer": 50010, "connect": None, "who": "person"},
             {"start": 50100, "answer": 50110, "connect": 50113, "who": "person"},  # 3 s
             {"start": 50200, "answer": 50210, "connect": 50212, "who": "person"}]  # 2 s ok
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("us",))))
    assert res["us"].value == pytest.approx(2 / 100)
    assert res["us"].passed
    rows.append({"start": 50300, "answer": 50310, "connect": None, "who": "person"})
    rows.append({"start": 50400, "answer": 50410, "connect": None, "who": "person"})
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("us",))))
    assert res["us"].value == pytest.approx(4 / 102) and not res["us"].passed


def test_uk_worst_24h_window_and_machine_adjustment():
    # day 1: 29 drops (answered, never connected), 9 live and 7 machines connected:
    # the V9 case, without AMD the dialer cannot tell who the drops were.
    rows = []
    t = 36000
    for i in range(29):
        rows.append({"start": t + i, "answer": t + i + 5, "connect": None,
                     "who": "person" if i % 2 else "machine"})
    for i in range(9):
        rows.append({"start": t + 100 + i, "answer": t + 105 + i, "connect": t + 105 + i,
                     "who": "person"})
    for i in range(7):
        rows.append({"start": t + 200 + i, "answer": t + 205 + i, "connect": t + 205 + i,
                     "who": "machine"})
    # days 3-4: a clean day, so the worst window is the first
    for i in range(200):
        rows.append({"start": 3 * 86400 + 36000 + 60 * i, "answer": 3 * 86400 + 36005 + 60 * i,
                     "connect": 3 * 86400 + 36005 + 60 * i, "who": "person"})
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("uk",)), amd_used=False))
    assert res["uk"].value == pytest.approx(0.6444, abs=1e-4)
    assert res["uk"].worst_window[0] == pytest.approx(36005)
    assert not res["uk"].passed
    # with AMD the truth is used: 14 abandoned people over 9 + 14 live calls
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("uk",)), amd_used=True))
    assert res["uk"].value == pytest.approx(14 / 23)


def test_uk_lockout_violation_is_found():
    rows = [{"start": 36000, "answer": 36005, "connect": None, "who": "person", "lead": 7},
            {"start": 36000 + 3600, "answer": 36000 + 3605, "connect": 36000 + 3605,
             "who": "person", "lead": 7},
            {"start": 36000, "answer": 36005, "connect": None, "who": "person", "lead": 8},
            {"start": 36000 + 73 * 3600, "answer": None, "lead": 8}]
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("uk",))))
    assert res["uk_lockout"].value == 1 and not res["uk_lockout"].passed


def test_china_hours_and_frequency():
    rows = [{"start": 7.5 * 3600, "lead": 1}, {"start": 12 * 3600, "lead": 1},
            {"start": 12 * 3600 + 60, "lead": 1}, {"start": 12 * 3600 + 120, "lead": 1},
            {"start": 12 * 3600 + 180, "lead": 1}, {"start": 21 * 3600, "lead": 2}]
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("china",))))
    assert res["china_hours"].value == 2  # 07:30 and 21:00
    assert res["china_frequency"].value == 5
    assert not res["china_frequency"].passed  # 4 calls within 5 minutes > 3
    assert "max 4 per 5 min" in res["china_frequency"].detail


@pytest.mark.parametrize("leads, per_24h, per_5min", [
    ([1, 2, 3, 4], 1, 1),  # every callee once: no window to search
    ([1, 2, 1, 3], 2, 1),  # lead 1 again 10 min later
    ([], 0, 0),
    ([10**12, 5, 10**12], 2, 1),  # sparse ids (an import's): no count array that large
])
def test_china_frequency_counts_only_repeated_callees(leads, per_24h, per_5min):
    rows = [{"start": 36000 + 600 * i, "lead": lead} for i, lead in enumerate(leads)]
    res = by_rule(evaluate(table(rows), ComplianceLimits(rules=("china",))))
    assert res["china_frequency"].value == per_24h
    assert f"max {per_5min} per 5 min" in res["china_frequency"].detail


def test_simulated_campaigns_respect_caps_lockout_and_hours():
    s = tiny({"dialer.ratio": 2.5, "customers.p_pickup": 0.6, "list.size": 2000,
              "agents.count": 4, "list.max_attempts": 4, "list.retry.no_answer_s": 400,
              "list.retry.busy_s": 200, "list.max_per_24h": 3, "list.max_per_5min": 1,
              "list.lockout_after_abandon_h": 72, "customers.p_busy": 0.2,
              "campaign.days": 5, "campaign.windows": [["08:00", "21:00"]]})
    r = sim.run(s, seed=3)
    res = {x["rule"]: x for x in r.compliance}
    assert r.kpis["abandoned"] > 10  # the ratio makes abandons happen
    assert res["uk_lockout"]["passed"], res["uk_lockout"]
    assert res["china_hours"]["passed"]
    assert res["china_frequency"]["value"] <= 3
