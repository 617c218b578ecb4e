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

__all__ = ["RunFolder", "load_run", "read_agent_log", "read_agent_parquet", "run_cdr_file"]


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


def read_agent_parquet(path: str | Path) -> AgentLog:
    """Read agents.parquet (``dialsim run --cdr-format parquet``; needs pyarrow)."""
    from .cdrio._parquet import _pyarrow

    _, pq = _pyarrow()
    try:
        table = pq.read_table(path, columns=["agent_id", "state", "start_s", "end_s"])
        state = table.column("state").combine_chunks()
        names = state.dictionary.to_pylist()
        codes = np.asarray([AGENT_STATES.index(n) for n in names], dtype=np.int8)
        index = state.indices.to_numpy(zero_copy_only=False)
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        raise SimError(f"{path}: not a dialsim agent log ({exc})") from None
    return AgentLog(agent_id=table.column("agent_id").to_numpy().astype(np.int32),
                    state=codes[index] if len(index) else np.zeros(0, np.int8),
                    start=table.column("start_s").to_numpy().astype(float),
                    end=table.column("end_s").to_numpy().astype(float))


def run_cdr_file(folder: Path) -> Path | None:
    """A run folder's CDR table: cdrs.csv, else cdrs.parquet (``--cdr-format parquet``),
    else None (``--cdr-format none``)."""
    for name in ("cdrs.csv", "cdrs.parquet"):
        if (folder / name).is_file():
            return folder / name
    return None


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
    if not folder.is_dir():
        raise SimError(f"{folder}: not a dialsim run folder ("
                       f"{'a file' if folder.exists() else 'no such folder'}); "
                       "make one with `dialsim run SCENARIO --out DIR`")
    if not (folder / "summary.json").is_file():
        raise SimError(f"{folder}: not a dialsim run folder (no summary.json); "
                       "make one with `dialsim run SCENARIO --out DIR`")
    summary = _json(folder / "summary.json")
    cdr_file = run_cdr_file(folder)
    cdrs = read_cdrs(cdr_file).cdrs if cdr_file is not None else None
    # --cdr-format csv (default) or parquet; none writes neither
    agents = (read_agent_log(folder / "agents.csv") if (folder / "agents.csv").is_file()
              else read_agent_parquet(folder / "agents.parquet")
              if (folder / "agents.parquet").is_file() else None)
    extra = {name: _json(folder / f"{name}.json") if (folder / f"{name}.json").is_file()
             else None for name in ("replications", "compare")}
    timeline = _read_timeline(folder / "timeline.csv") if (folder / "timeline.csv").is_file() \
        else None
    return RunFolder(path=folder, summary=summary, cdrs=cdrs, agents=agents,
                     plans=_plans(folder, summary), replications=extra["replications"],
                     comparison=extra["compare"], timeline=timeline)
