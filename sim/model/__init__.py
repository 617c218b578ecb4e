"""The SimPy campaign model: ``run(scenario, seed=...)`` → CDRs, agent log and KPIs.

This package is the only part of dialsim that imports simpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..agentlog import AgentLog, AgentTotals
from ..analysis.compliance import RuleResult, evaluate, scenario_checks
from ..analysis.dialer import dialer_stats, timeline
from ..analysis.kpis import kpis as compute_kpis
from ..cdr import CDRTable
from ..errors import ListExhaustedWarning
from ..scenario import Scenario
from .agentstream import AgentLogSink
from .calendar import shift_intervals
from .customers import OWNED_LAYOUT, Draws, lead_traits
from .dialers import PowerPacer
from .engine import Campaign
from .leads import check_memory
from .recorder import Intervals3, agent_log
from .stream import Analyses, ChunkSink, Streamer

__all__ = ["RunResult", "StreamedResult", "check_compliance", "run"]


#: How long agents may sit on after the last call before the list counts as run out (s).
LIST_SLACK_S = 1800.0


@dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    """What one simulation run produced.

    The CDRs, agent log, KPIs and lead outcomes are made by :func:`run`; the dialer
    figures, their timeline and the compliance checks are derived from them on first
    use (they cost a few numpy passes a sweep may not need).
    """

    scenario: Scenario
    seed: int
    cdrs: CDRTable
    kpis: dict[str, Any]
    lead_status: dict[str, int]
    #: Agents' logged-in sessions and preview intervals: (agent, start, end) arrays.
    sessions: Intervals3
    previews: Intervals3
    #: When each call's agent started on it (s): ``connect``, or a robot's hand-over.
    agent_start: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    #: What the pacing policy itself reports (mode, blocked attempts, levels, ...).
    pacer: dict[str, Any] = field(default_factory=dict)
    #: A streaming run's (calls, chunks, the whole table's open categories); else None.
    streamed: tuple[int, int, dict[str, tuple[str, ...]]] | None = field(
        default=None, repr=False)

    @cached_property
    def agents(self) -> AgentLog:
        """The agent state log (idle / preview / talk / wrap intervals)."""
        return agent_log(self.cdrs, self.sessions, self.previews, self.agent_start)

    @cached_property
    def list_exhausted_s(self) -> float | None:
        """When the call list ran out (s from the epoch: the last call's end), if every
        lead was dialled and the agents' shifts went on more than 30 minutes after it;
        else None."""
        last = self._last_end()
        if self.lead_status.get("untouched", 1) != 0 or last is None:
            return None
        horizon = max((iv.last for iv in shift_intervals(self.scenario)), default=0.0)
        return last if horizon - last > LIST_SLACK_S else None

    def _last_end(self) -> float | None:
        """When the last call ended (s), None without calls."""
        return float(np.max(self.cdrs.columns["end"])) if len(self.cdrs) else None

    @property
    def notes(self) -> list[str]:
        """Cautions about this run's figures, one line each (e.g. the list ran out)."""
        t = self.list_exhausted_s
        if t is None:
            return []
        day, rest = divmod(int(t), 86_400)
        return [f"the call list ran out at {rest // 3600:02d}:{rest % 3600 // 60:02d} on "
                f"day {day + 1}, before the campaign's last shift ended: agents sat idle, "
                "so per-hour KPIs and occupancy are diluted (use a larger list.size, fewer "
                "agents or fewer days)"]

    @cached_property
    def timeline(self) -> dict[str, Any]:
        """Dialer figures over time (``sim.analysis.dialer.timeline``), 5-minute bins."""
        return timeline(self.cdrs, self.agents)

    @cached_property
    def dialer(self) -> dict[str, Any]:
        """The pacer's own figures and the dialer statistics (dial level, lines, waits)."""
        return {**self.pacer, **dialer_stats(self.cdrs, self.agents, self.timeline)}

    @cached_property
    def compliance(self) -> list[dict[str, Any]]:
        """Regulatory checks (``sim.analysis.compliance.RuleResult.as_dict()`` each)."""
        return [r.as_dict() for r in check_compliance(self.scenario, self.cdrs)]


@dataclass(frozen=True, kw_only=True, eq=False)
class StreamedResult(RunResult):
    """A streamed run that kept no CDR table (``sim.run(..., keep_cdrs=False)``).

    Its KPIs, timeline, dialer figures and compliance are those of the whole run,
    folded chunk by chunk (:class:`.stream.Analyses`); its ``cdrs`` is an empty table
    with the run's zone and epoch, and ``agents`` the agent log's totals
    (:class:`~sim.agentlog.AgentTotals`): the CDRs and the agent log's rows went to the
    ``on_chunk`` and ``on_agents`` callbacks (e.g. files, read back with
    :func:`sim.iter_cdrs`). With ``cdr_file``, ``cdrs`` is a :class:`sim.CDRFile`
    over the CDRs written (read on demand). With ``analyses=False`` nothing was
    folded: the figures below are those of no calls (refused, ValueError, when the
    calls are in a ``cdr_file``).
    """

    #: The folds (None with ``analyses=False``), and the last call's end (s).
    folds: Analyses | None = field(default=None, repr=False)
    last_end: float | None = field(default=None, repr=False)

    @cached_property
    def agents(self) -> Any:  # AgentTotals: total(state), logged_in(), len()
        return self.folds.agents if self.folds is not None else AgentTotals()

    @cached_property
    def timeline(self) -> dict[str, Any]:
        if self.folds is None:
            empty = self._no_calls("timeline")
            return timeline(empty, agent_log(empty, _NO_INTERVALS, _NO_INTERVALS))
        return self.folds.timeline.timeline()

    @cached_property
    def dialer(self) -> dict[str, Any]:
        if self.folds is None:
            empty = self._no_calls("dialer")
            return {**self.pacer, **dialer_stats(empty, agent_log(
                empty, _NO_INTERVALS, _NO_INTERVALS))}
        return {**self.pacer,
                **self.folds.timeline.figures(self.timeline["lines_in_flight"])}

    @cached_property
    def compliance(self) -> list[dict[str, Any]]:
        if self.folds is None:
            return [r.as_dict() for r in check_compliance(self.scenario,
                                                          self._no_calls("compliance"))]
        return [r.as_dict() for r in self.folds.compliance.result()]

    def _no_calls(self, what: str) -> CDRTable:
        """The empty table ``what`` is computed on with ``analyses=False``; refused
        when the calls are in a file (its figures would pass for the run's)."""
        if isinstance(self.cdrs, CDRTable):
            return self.cdrs
        raise ValueError(f"result.{what}: this run folded no analyses (analyses=False) "
                         f"and its calls are in {self.cdrs.path}: run with analyses=True, "
                         "or compute it from result.cdrs.load()")

    def _last_end(self) -> float | None:
        return self.last_end


_NO_INTERVALS: Intervals3 = (np.zeros(0, np.int32), np.zeros(0), np.zeros(0))


def _pacer_factory(scenario: Scenario) -> Callable[[Campaign], Any] | None:
    d = scenario.dialer
    if d.mode == "preview" or (d.mode == "progressive" and d.ratio == 1.0):
        return None  # agent-owned dialing
    if d.mode == "progressive":
        return PowerPacer
    from . import pacing  # the other pacing modes

    return pacing.factory(scenario)


def run(scenario: Scenario, seed: int = 0, *,
        progress: Callable[[float], None] | None = None, chunk_rows: int | None = None,
        keep_cdrs: bool = True, on_chunk: Sequence[ChunkSink] = (),
        on_agents: Sequence[AgentLogSink] = (), analyses: bool = True,
        cdr_file: str | Path | None = None, force: bool = False) -> RunResult:
    """Simulate ``scenario`` once with root seed ``seed``.

    The same scenario and seed give identical CDRs. Customer behaviour depends only
    on (seed, lead, attempt), so scenarios that differ in script or dialer can be
    compared on the same customers.

    Parameters
    ----------
    scenario
        A validated scenario (:func:`sim.load_scenario`).
    seed
        Root seed of every random stream of the run.
    progress
        Called now and then with the share of the campaign's calendar simulated (0–1).
    chunk_rows
        Stream the run: every ``chunk_rows`` recorded calls, the calls that started
        before any call still in flight leave the model as a chunk of CDRs in dial
        order (:mod:`.stream`), are handed to ``on_chunk`` and folded into the KPIs.
        The CDRs, KPIs and everything derived are the same as without it.
    keep_cdrs
        With ``chunk_rows``: keep every chunk, so that ``result.cdrs`` is the whole
        table (the default). False keeps no per-call column: compliance, timeline,
        dialer figures and agent totals are folded chunk by chunk (``analyses``), in
        memory bounded by the list and the agents (:class:`StreamedResult`).
    on_chunk
        With ``chunk_rows``: called with each chunk's CDRs and its agents' start times
        (e.g. file writers, :class:`sim.billing.chunks.ChunkRater`).
    on_agents
        With ``keep_cdrs=False`` and ``analyses``: called with the agent log's rows, a
        :class:`~sim.agentlog.AgentLog` chunk at a time, in the log's order, as they
        become final (e.g. :class:`sim.agentfiles.AgentLogWriter`).
    analyses
        With ``keep_cdrs=False``: fold compliance, timeline and the agent log (False:
        only the KPIs, a little faster).
    cdr_file
        With ``keep_cdrs=False``: write the CDRs to this file chunk by chunk (Parquet
        for a ``.parquet`` name, else native CSV and its ``.meta.json`` sidecar;
        implies ``chunk_rows=65536`` if not given); ``result.cdrs`` is then a
        :class:`sim.CDRFile` over it, read on demand. The file appears only when the
        run succeeds (temporary name, then renamed).
    force
        With ``cdr_file``: overwrite an existing file (else
        :class:`~sim.errors.OutputExistsError` before anything is simulated).
    """
    if chunk_rows is None and (on_chunk or cdr_file is not None):
        chunk_rows = 1 << 16
    if on_agents and (chunk_rows is None or keep_cdrs or not analyses):
        raise ValueError("on_agents: needs a streamed run that keeps no table "
                         "(chunk_rows=N, keep_cdrs=False, analyses=True); a kept run's "
                         "agent log is result.agents")
    if cdr_file is None:
        result = _simulate(scenario, seed, progress, chunk_rows, keep_cdrs, on_chunk,
                           on_agents, analyses)
    else:
        result = _to_file(Path(cdr_file), force, scenario, seed, progress, chunk_rows,
                          keep_cdrs, on_chunk, on_agents, analyses)
    for note in result.notes:
        warnings.warn(note, ListExhaustedWarning, stacklevel=2)
    return result


def _to_file(path: Path, force: bool, scenario: Scenario, seed: int,
             progress: Callable[[float], None] | None, chunk_rows: int | None,
             keep_cdrs: bool, on_chunk: Sequence[ChunkSink],
             on_agents: Sequence[AgentLogSink], analyses: bool) -> RunResult:
    """:func:`run` with ``cdr_file``: its CDRs written to ``path`` as they come."""
    from ..cdrfile import CDRFileSink

    if keep_cdrs:
        raise ValueError(f"cdr_file={str(path)!r}: needs keep_cdrs=False (the CDRs go to "
                         "the file, result.cdrs reads them back); keep_cdrs=True keeps "
                         "the table in memory: write it with sim.write_cdrs")
    sink = CDRFileSink(path, force=force)
    try:
        result = _simulate(scenario, seed, progress, chunk_rows, keep_cdrs,
                           [*on_chunk, sink], on_agents, analyses)
        assert result.streamed is not None
        lazy = sink.finish(result.cdrs, result.streamed[2])
    except BaseException as exc:
        if not sink.closed:
            sink.abort(exc)
        raise
    object.__setattr__(result, "cdrs", lazy)
    return result


def _simulate(scenario: Scenario, seed: int, progress: Callable[[float], None] | None,
              chunk_rows: int | None, keep_cdrs: bool, on_chunk: Sequence[ChunkSink],
              on_agents: Sequence[AgentLogSink], analyses: bool) -> RunResult:
    """:func:`run` (its arguments checked), without the notes' warnings."""
    traits = lead_traits(scenario, seed)
    factory = _pacer_factory(scenario)
    # sized before anything is allocated: exit 2 with the figure
    check_memory(scenario, streamed=chunk_rows is not None and not keep_cdrs)
    draws = Draws(scenario, seed, traits, layout=OWNED_LAYOUT if factory is None else None)
    campaign = Campaign(scenario, traits, draws, factory, flush_at=chunk_rows)
    robot = scenario.dialer.mode == "robot"
    streamer = folds = None
    if chunk_rows is not None:
        streamer = Streamer(scenario, seed, traits.segment, draws, robot, campaign.rec,
                            campaign.watermark, chunk_rows, on_chunk,
                            "all" if keep_cdrs else "none")
        if not keep_cdrs and analyses:
            folds = Analyses(scenario, on_agents)
            folds.attach(streamer)
    campaign.run(progress)
    sessions = campaign.rec.sessions()
    status = campaign.calls.status_counts()
    logged_s = float((sessions[2] - sessions[1]).sum())
    if streamer is None:
        cdrs = campaign.rec.cdrs(scenario, traits.segment, draws, robot=robot)
        cdrs = cdrs.with_meta(seed=seed)
        agent_start = campaign.rec.agent_start
        k = compute_kpis(cdrs, logged_in_s=logged_s, agent_start=agent_start,
                         list_size=scenario.list.size, lead_status=status)
    else:
        streamer.finish()
        if folds is not None:
            folds.finish()
        draws.release()
        k = streamer.kpis.result(logged_in_s=logged_s, list_size=scenario.list.size,
                                 lead_status=status)
        cdrs, agent_start = streamer.table()
    pacer: dict[str, Any] = {"mode": scenario.dialer.mode, "blocked": campaign.rec.blocked}
    if campaign.pacer is not None and hasattr(campaign.pacer, "stats"):
        pacer.update(campaign.pacer.stats())
    if campaign.suspension is not None:  # dialer.obey_terms: when dialing stopped
        pacer["obey_terms"] = scenario.dialer.obey_terms
        pacer["suspended"] = campaign.suspension.stats()
    common: dict[str, Any] = dict(scenario=scenario, seed=seed, cdrs=cdrs, kpis=k,
                                  lead_status=status, sessions=sessions,
                                  previews=campaign.rec.preview_intervals(),
                                  agent_start=agent_start, pacer=pacer)
    if streamer is None or keep_cdrs:
        result = RunResult(**common)
    else:
        last = streamer.max_end if streamer.calls else None
        result = StreamedResult(**common, folds=folds, last_end=last)
    if streamer is not None:
        object.__setattr__(result, "streamed", (streamer.calls, streamer.chunks,
                                                streamer.categories() if not keep_cdrs
                                                else cdrs.categories))
    return result


def check_compliance(scenario: Scenario, cdrs: CDRTable) -> list[RuleResult]:
    """The scenario's compliance rules evaluated on its calls."""
    limits, amd_used, offsets = scenario_checks(scenario)
    return evaluate(cdrs, limits, amd_used=amd_used, tz_offset_s=offsets)
