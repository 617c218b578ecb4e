"""The fitted scenario: a raw scenario dict and its commented TOML.

Every value carries a comment saying where it came from — the estimator, sample size
and 95 % CI — or ``NOT IDENTIFIED`` and why, when the export cannot tell it and the
value written is an assumption. Keys of the model-fidelity issue (``dialer.give_up``,
``customers.billsec``, ``script.talk``) are written when the installed scenario loader
knows them, else kept as comments so the file still loads.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import Any

from ..errors import ScenarioError
from ..scenario import scenario_from_dict
from .estimate import Estimate

__all__ = ["render_toml", "supports", "toml_value"]

_SECTIONS = ("campaign", "list", "list.retry", "customers", "agents", "dialer", "script")


def toml_value(v: Any) -> str:
    """A TOML literal of ``v`` (inline tables and arrays on one line)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"not a finite number: {v}")
        return repr(float(f"{v:.6g}"))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").isalnum() else toml_value(k)


def _comment(est: Estimate | None) -> str:
    if est is None:
        return ""
    text = est.comment()
    return f"  # {text}" if text else ""


def render_toml(raw: Mapping[str, Any], sources: Mapping[str, Estimate],
                header: list[str], pending: Mapping[str, Any] | None = None) -> str:
    """The scenario as TOML, each value with its source comment.

    ``sources`` maps dotted keys (``customers.p_pickup``) to estimates; ``pending`` holds
    keys the installed loader does not know yet (written commented out).
    """
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append("")
    for k, v in raw.items():
        if not isinstance(v, Mapping):
            lines.append(f"{_key(k)} = {toml_value(v)}{_comment(sources.get(k))}")
    pend = dict(pending or {})
    for sec in _SECTIONS:
        node: Any = raw
        for part in sec.split("."):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        if not node:
            continue
        lines += ["", f"[{sec}]"]
        stages = None
        for k, v in node.items():
            dotted = f"{sec}.{k}"
            if sec == "list" and k == "retry":
                continue
            if sec == "script" and k == "stages":
                stages = v
                continue
            lines.append(f"{_key(k)} = {toml_value(v)}{_comment(sources.get(dotted))}")
        for key in [p for p in pend if p.rsplit(".", 1)[0] == sec]:
            lines.append(f"# {key.rsplit('.', 1)[1]} = {toml_value(pend.pop(key))}"
                         f"  # needs the model-fidelity scenario keys; "
                         f"{sources[key].comment() if key in sources else ''}")
        for i, st in enumerate(stages or []):
            lines += ["", "[[script.stages]]"]
            for k, v in st.items():
                lines.append(f"{_key(k)} = {toml_value(v)}"
                             f"{_comment(sources.get(f'script.stages[{i}].{k}'))}")
    return "\n".join(lines) + "\n"


_PROBE: dict[str, Any] = {
    "campaign": {"start": "2026-03-02", "days": 1, "windows": [["09:00", "17:00"]]},
    "list": {"size": 1}, "agents": {"count": 1},
    "script": {"stages": [{"name": "s", "duration": 1}]},
}


@functools.cache
def supports(key: str, value_text: str) -> bool:
    """Whether the installed scenario loader accepts ``key`` (dotted) set to the TOML
    value ``value_text`` — the model-fidelity keys may not be there yet."""
    import tomllib

    value = tomllib.loads(f"v = {value_text}")["v"]
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in _PROBE.items()}
    if key == "script.talk":
        raw["script"] = {"talk": value}
    else:
        sec, name = key.split(".", 1)
        raw.setdefault(sec, {})[name] = value
    try:
        scenario_from_dict(raw)
    except ScenarioError:
        return False
    return True
