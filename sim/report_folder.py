"""A run folder read back from its files (what ``dialsim report`` shows).

:func:`load_run` reads what ``dialsim run`` (and ``dialsim compare``) wrote: summary.json,
cdrs.csv, agents.csv, the plan files copied under ``plans/`` (else the files summary.json
names), and when present replications.json, compare.json and timeline.csv. Nothing is
simulated: :meth:`RunFolder.rating` re-rates the CDRs from the files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from .agentlog import AGENT_STATES, AgentLog
from .billing import CampaignInfo, Plan, Rating, rate
from .cdr import CDRTable
from .errors import SimError

__all__ = ["RunFolder", "load_run", "read_agent_log"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFolder:
    """What a run folder holds, read back from its files."""

    path: Path
    summary: Mapping[str, Any]
    cdrs: CDRTable | None
    agents: AgentLog | None
    plans: tuple[Plan, ...]
    replications: Mapping[str, Any] | None
    comparison: Mapping[str, Any] | None
    timeline: Mapping[str, np.ndarray] | None

    @property
    def campaign(self) -> CampaignInfo | None:
        c = self.summary.get("campaign")
        if not c:
            return None
        return CampaignInfo(seats=int(c["seats"]), channels=int(c["channels"]),
                            numbers=int(c["numbers"]), days=Decimal(str(c["days"])),
                            labour=Decimal(str(c["labour"])))

    def rating(self) -> Rating | None:
        """The CDRs rated under the folder's plans with the run's campaign facts."""
        if self.cdrs is None or not self.plans:
            return None
        return rate(self.cdrs, self.plans, campaign=self.campaign)


def read_agent_log(path: str | Path) -> AgentLog:
    """Read agents.csv (agent_id, state, start_s, end_s, ...; ISO columns ignored)."""
    ids: list[int] = []
    states: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), 2):
            try:
                ids.append(int(row["agent_id"]))
                states.append(AGENT_STATES.index(row["state"]))
                starts.append(float(row["start_s"]))
                ends.append(float(row["end_s"]))
            except (KeyError, ValueError, TypeError) as exc:
                raise SimError(f"{path}: line {i}: not an agent log row ({exc})") from None
    return AgentLog(agent_id=np.asarray(ids, dtype=np.int32),
                    state=np.asarray(states, dtype=np.int8),
                    start=np.asarray(starts, dtype=float), end=np.asarray(ends, dtype=float))


def _read_timeline(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    head, body = rows[0], rows[1:]
    keep = [i for i, k in enumerate(head) if k != "time"]  # ISO stamps: t has the seconds
    data = np.asarray([[r[i] for i in keep] for r in body], dtype=float).reshape(
        len(body), len(keep))
    return {head[i]: data[:, j] for j, i in enumerate(keep)}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimError(f"{path}: cannot read ({exc})") from None


def _plans(folder: Path, summary: Mapping[str, Any]) -> tuple[Plan, ...]:
    """The run's plans: the copies in the folder, else the files it names."""
    from .billing import load_plans  # not sim.costing: it loads the scenario machinery

    for paths in ([folder / p for p in summary.get("plans_copies", [])],
                  [Path(p) for p in summary.get("plans_files", [])]):
        if paths and all(p.is_file() for p in paths):
            return tuple(plan for p in paths for plan in load_plans(p))
    return ()


def load_run(path: str | Path) -> RunFolder:
    """Read a run folder written by ``dialsim run`` or ``dialsim compare``.

    Raises
    ------
    SimError
        ``path`` is not a folder with a summary.json.
    """
    from .cdrio import read_cdrs

    folder = Path(path)
    if not (folder / "summary.json").is_file():
        raise SimError(f"{folder}: not a dialsim run folder (no summary.json); "
                       "make one with `dialsim run SCENARIO --out DIR`")
    summary = _json(folder / "summary.json")
    cdrs = read_cdrs(folder / "cdrs.csv").cdrs if (folder / "cdrs.csv").is_file() else None
    agents = read_agent_log(folder / "agents.csv") if (folder / "agents.csv").is_file() \
        else None
    extra = {name: _json(folder / f"{name}.json") if (folder / f"{name}.json").is_file()
             else None for name in ("replications", "compare")}
    timeline = _read_timeline(folder / "timeline.csv") if (folder / "timeline.csv").is_file() \
        else None
    return RunFolder(path=folder, summary=summary, cdrs=cdrs, agents=agents,
                     plans=_plans(folder, summary), replications=extra["replications"],
                     comparison=extra["compare"], timeline=timeline)
