"""The scenario loader: every problem reported at once, with file, key, expectation, value."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from _factory import tiny, tiny_dict
from conftest import SCENARIOS
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.scenario import apply_overrides, parse_override, scenario_from_dict

SCENARIO_FILES = sorted(p for p in SCENARIOS.glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def toml_of(raw: dict) -> str:
    """A tiny TOML writer for test dicts (tables, arrays of tables, scalars, lists)."""
    import json

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {val(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return json.dumps(v)

    lines = [f"{k} = {val(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for k, v in raw.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_scenario_file_loads(path):
    s = sim.load_scenario(path)
    assert s.agents.count >= 1 and s.list.size >= 1
    for v in s.variants:
        s.variant(v.name)  # every variant is itself a valid scenario


def test_errors_name_file_key_expectation_and_value(tmp_path):
    raw = tiny_dict()
    raw["agents"]["count"] = -3
    raw["list"]["size"] = "many"
    raw["customers"]["p_busy"] = 1.5
    raw["dialer"]["mode"] = "predictve"
    raw["agents"]["wrapup"] = 5
    raw["customers"]["ring"] = {"dist": "lognorm", "median": 5}
    raw["script"]["stages"][0]["duration"] = {"dist": "gamma", "mean": 10}
    path = write(tmp_path, toml_of(raw))
    with pytest.raises(ScenarioError) as err:
        sim.load_scenario(path)
    msg = str(err.value)
    lines = err.value.problems
    assert len(lines) >= 7, msg
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert f"{path}: agents.count: must be an integer >= 1 and <= 100000 (got -3)" in lines
    assert f"{path}: list.size: must be an integer >= 1 and <= 50000000 (got 'many')" in lines
    assert f"{path}: customers.p_busy: must be a number >= 0 and <= 1 (got 1.5)" in lines
    assert "dialer.mode: must be one of 'preview', 'progressive'" in msg
    assert "(got 'predictve') (did you mean 'predictive'?)" in msg
    assert f"{path}: agents.wrapup: unknown key (did you mean 'wrap'?)" in lines
    assert "customers.ring.dist: must be one of" in msg and "did you mean 'lognormal'" in msg
    assert "script.stages[0].duration: gamma needs mean with sd or cv" in msg


@pytest.mark.parametrize("text, expect", [
    ("name = 'x'\n[campaign\nstart = 1", "invalid TOML"),
    ("[campaign]\nstart = 2026-13-40\n", "invalid TOML"),
    ("[campaign]\nstart = 'next monday'\n", "campaign.start: must be a date like 2026-03-02"),
    ("[campaign]\nstart = 2026-03-02\nwindows = [['21:00', '09:00']]\n",
     "campaign.windows[0]: must be a window whose end is after its start"),
    ("[campaign]\nstart = 2026-03-02\ntimezone = 'Mars/Olympus'\n",
     "campaign.timezone: must be an IANA time zone"),
    ("agents = 3\n", "agents: must be a table (got 3)"),
    ("[list]\nsize = 10.5\n", "list.size: must be an integer"),
    ("[[script.stages]]\nduration = {dist = 'uniform', low = 9, high = 3}\n",
     "script.stages[0].duration.high: must be >= low (9)"),
    ("[customers]\nring = -4\n", "customers.ring: must be a finite number >= 0 (got -4)"),
    ("[customers]\npickup_by_hour = {'25' = 1}\n", 'customers.pickup_by_hour.25: must be an hour'),
])
def test_malformed_files_raise_scenario_error(tmp_path, text, expect):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        sim.load_scenario(path)
    assert expect in str(err.value)
    assert str(path) in str(err.value)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        sim.load_scenario(tmp_path / "nope.toml")
    p = tmp_path / "latin.toml"
    p.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        sim.load_scenario(p)


@pytest.mark.parametrize("argv", [["validate"], ["run", "--quick"]])
def test_cli_exits_2_without_traceback_on_bad_scenario(tmp_path, argv, capsys):
    raw = tiny_dict()
    raw["agents"]["count"] = 0
    path = write(tmp_path, toml_of(raw))
    code = main([*argv, str(path)] if argv[0] == "validate" else
                [argv[0], str(path), *argv[1:], "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert code == 2
    assert "agents.count: must be an integer >= 1 and <= 100000 (got 0)" in out.err
    assert "Traceback" not in out.err
    assert not (tmp_path / "o").exists()


def test_cli_subprocess_invalid_toml_exit_code(tmp_path):
    path = write(tmp_path, "[campaign\n")
    proc = subprocess.run([sys.executable, "-m", "sim", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid TOML" in proc.stderr and "Traceback" not in proc.stderr


def test_overrides_parse_toml_values_and_index_arrays():
    assert parse_override("dialer.ratio=1.5") == ("dialer.ratio", 1.5)
    assert parse_override("script.name=short") == ("script.name", "short")
    assert parse_override('agents.wrap={dist="constant", value=20}') == (
        "agents.wrap", {"dist": "constant", "value": 20})
    s = tiny({"script.stages[0].duration": 42, "agents.count": 3})
    assert s.script.stages[0].duration.mean == 42 and s.agents.count == 3
    s2 = tiny({"script.stages.0.duration": 43})
    assert s2.script.stages[0].duration.mean == 43
    with pytest.raises(ScenarioError, match="no index 5"):
        tiny({"script.stages[5].duration": 1})
    with pytest.raises(ScenarioError, match="dialer.ratoi: unknown key"):
        tiny({"dialer.ratoi": 2})
    with pytest.raises(ScenarioError, match="must be dotted.key=value"):
        parse_override("dialer.ratio")


def test_override_does_not_mutate_the_base():
    raw = tiny_dict()
    before = copy.deepcopy(raw)
    apply_overrides(raw, {"agents.count": 9, "list.segments": [{"name": "x", "share": 1}]})
    assert raw == before


def test_cli_set_flag_applies(tmp_path, capsys):
    path = write(tmp_path, toml_of(tiny_dict()))
    assert main(["validate", str(path), "--set", "agents.count=4"]) == 0
    assert "4 agents" in capsys.readouterr().out


def test_variants_are_validated(tmp_path):
    raw = tiny_dict()
    raw["variant"] = [{"name": "bad", "set": {"dialer.mode": "telepathy"}}]
    with pytest.raises(ScenarioError, match="dialer.mode"):
        sim.scenario.scenario_from_dict(raw).variant("bad")
    raw["variant"] = [{"name": "two agents", "set": {"agents.count": 2}}]
    s = scenario_from_dict(raw)
    assert s.variant("two agents").agents.count == 2
    with pytest.raises(ScenarioError, match="did you mean 'two agents'"):
        s.variant("two agent")


# -- robustness: any mutation of a valid scenario loads or fails cleanly ------------------

_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**9), st.floats(allow_nan=True),
                  st.text(max_size=8), st.lists(st.integers(-2, 5), max_size=3),
                  st.dictionaries(st.sampled_from(["dist", "mean", "low", "x"]),
                                  st.one_of(st.integers(-5, 50), st.text(max_size=5)),
                                  max_size=3))


def _paths(raw, prefix=()):
    for k, v in raw.items():
        yield (*prefix, k)
        if isinstance(v, dict):
            yield from _paths(v, (*prefix, k))


ALL_PATHS = list(_paths(tiny_dict()))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), _JUNK), min_size=1, max_size=4))
def test_mutated_scenarios_load_or_raise_scenario_error(mutations):
    raw = tiny_dict()
    for path, value in mutations:
        node = raw
        for k in path[:-1]:
            node = node[k] if isinstance(node.get(k), dict) else node.setdefault(k, {})
            if not isinstance(node, dict):
                break
        else:
            if value is None:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    try:
        scenario_from_dict(raw)
    except ScenarioError as exc:
        assert exc.problems and all(": " in line for line in exc.problems)


def test_quick_scales_the_list_the_days_and_the_shifts():
    raw = tiny_dict()
    raw["list"]["size"] = 5000
    raw["campaign"]["days"] = 5
    raw["agents"] = {"count": 40, "wrap": 10,
                     "shifts": [{"start": "09:00", "end": "13:00", "count": 30},
                                {"start": "13:00", "end": "17:00", "count": 10}]}
    q = sim.scenario.quick(scenario_from_dict(raw))
    # 5000 leads for 40 agents over 5 days is 25 per agent-day: 10 agents, 1 day -> 250
    assert q.list.size == 250 and q.campaign.days == 1
    assert [sh.count for sh in q.agents.shifts] == [8, 2] and q.agents.count == 10
    assert sim.scenario.quick(scenario_from_dict(raw), leads=300).list.size == 300
    assert sim.run(q, seed=1).kpis["dials"] > 0
