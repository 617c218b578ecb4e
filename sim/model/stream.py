"""Streaming runs: finished calls leave the model in chunks, in dial order, as it runs.

The event loop records a call when it settles, but CDRs are ordered by dial time. Every
``chunk_rows`` recorded calls, the recorder hands on the calls that started before the
*watermark* (:meth:`~.engine.Campaign.watermark`: no call still to be recorded starts
earlier) and keeps the others: emitting exactly the rows ``start < W``, stably sorted,
gives the whole run's stable sort by dial time, chunk after chunk. Each chunk is made
into CDRs by the same code as the whole table (:meth:`.recorder.Recorder.derive`),
numbered on from the last chunk, handed to the ``on_chunk`` callbacks (file writers,
the rater), folded into the KPIs (:class:`~sim.analysis.kpis.KpiFold`), and dropped.

With ``analyses`` (:class:`Analyses`), each chunk is also folded into the compliance
checks (:class:`~sim.analysis.compliance_fold.ComplianceFold`: 8 bytes a lead plus
about a day of calls), the dialer timeline and figures
(:class:`~sim.analysis.dialer.TimelineFold`: a few numbers per 5-minute bin), and the
agent log (:class:`.agentstream.AgentLogStream`: rows handed to the ``on_agents``
callbacks as they become final, a few held per agent; totals in
:class:`~sim.agentlog.AgentTotals`). Every fold sums exactly, so its figures are the
whole table's to the last bit. What stays for the whole run is then per lead (traits,
call-list state, one "dialled" byte for the number vocabulary) and per agent session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..agentlog import AgentLog, AgentTotals
from ..analysis.compliance_fold import ComplianceFold
from ..analysis.dialer import TimelineFold
from ..analysis.kpis import KpiFold
from ..cdr import COLUMNS, CDRTable, open_categories
from ..scenario import Scenario
from .agentstream import AgentLogSink, AgentLogStream
from .recorder import Recorder, lead_numbers, run_categories
from .suspend import campaign_epoch

__all__ = ["Analyses", "ChunkSink", "Streamer"]

#: What a streaming run hands each chunk to: the chunk's CDRs and when the agent started
#: on each of its calls (``connect``, or a robot's hand-over).
ChunkSink = Callable[[CDRTable, np.ndarray], None]


class Analyses:
    """Compliance, dialer timeline and agent log of a streaming run, folded chunk by
    chunk (see the module docstring); ``on_agents`` receive the agent log's rows."""

    def __init__(self, scenario: Scenario, on_agents: Sequence[AgentLogSink] = ()) -> None:
        self.compliance = ComplianceFold.for_scenario(scenario)
        self.timeline = TimelineFold()
        self.agents = AgentTotals()
        self.log = AgentLogStream([self._agent_rows, *on_agents])

    def _agent_rows(self, rows: AgentLog) -> None:
        self.agents.add(rows)
        self.timeline.add_agents(rows)

    def attach(self, streamer: Streamer) -> None:
        """Fold every chunk ``streamer`` emits (before its sinks see it)."""
        feed = self.log.attach(streamer.rec, lambda: streamer.w)

        def on_chunk(cdrs: CDRTable, agent_start: np.ndarray) -> None:
            self.compliance.add(cdrs)
            self.timeline.add_calls(cdrs)
            feed(cdrs, agent_start)

        streamer.folds.append(on_chunk)

    def finish(self) -> None:
        """The agent log's last rows (after :meth:`Streamer.finish`)."""
        self.log.finish()


class Streamer:
    """Emit a campaign's recorded calls in chunks (see the module docstring).

    Parameters
    ----------
    scenario, seed, segment, draws, robot
        What :meth:`Recorder.derive` needs.
    rec
        The campaign's recorder; its flush hook is wrapped.
    watermark
        The campaign's :meth:`~.engine.Campaign.watermark`.
    chunk_rows
        Recorded calls between two emissions (the recorder's flush interval).
    sinks
        Called with every chunk.
    keep
        "all": keep every chunk (the whole table at the end); "none": keep nothing.
    """

    def __init__(self, scenario: Scenario, seed: int, segment: np.ndarray, draws: Any,
                 robot: bool, rec: Recorder, watermark: Callable[[], float],
                 chunk_rows: int, sinks: Sequence[ChunkSink], keep: str) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows: must be >= 1 (got {chunk_rows})")
        self.scenario, self.seed, self.segment = scenario, seed, segment
        self.draws, self.robot, self.rec = draws, robot, rec
        self.watermark = watermark
        self.sinks = list(sinks)
        #: Folds of the run's analyses (:class:`Analyses`), fed before the sinks: they
        #: read no number labels.
        self.folds: list[ChunkSink] = []
        self.keep = keep
        self.kpis = KpiFold()
        self.calls = 0
        self.chunks = 0
        self.dialled = np.zeros(scenario.list.size, dtype=bool)
        self.max_end = -math.inf
        self.kept: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
        self._pending: dict[str, np.ndarray] | None = None
        #: The watermark the chunk being handed on was cut at.
        self.w = -math.inf
        rec.flush_at = chunk_rows
        rec.on_flush = self._on_flush

    def _on_flush(self) -> None:
        self.emit(self.watermark())

    def emit(self, w: float) -> None:
        """Hand on the recorded calls that started before ``w`` (all: ``inf``)."""
        rows = self.rec.take()
        held = self._pending
        if held is not None:
            rows = {k: np.concatenate([held[k], v]) if len(held[k]) or len(v) else v
                    for k, v in rows.items()}
        n = len(rows["start"])
        if n == 0:
            self._pending = rows
            return
        sel = rows["start"] < w
        if not sel.any():
            self._pending = rows
            return
        if sel.all():
            out, self._pending = rows, None
        else:
            out = {k: v[sel] if len(v) == n else v for k, v in rows.items()}
            self._pending = {k: v[~sel] if len(v) == n else v for k, v in rows.items()}
        order = np.argsort(out["start"], kind="stable")
        out = {k: v[order] if len(v) == len(order) else v for k, v in out.items()}
        # the chunk's number labels only for sinks: a kept table gets the whole run's
        # numbers at the end (:meth:`table`, :meth:`categories`), the KPIs read none
        cdrs = self.rec.derive(out, self.scenario, self.segment, self.draws, self.robot,
                               call_id0=self.calls, numbers=bool(self.sinks)
                               ).with_meta(seed=self.seed)
        agent_start = self.rec.agent_start
        self.calls += len(cdrs)
        self.chunks += 1
        lead = cdrs["lead_id"]
        self.dialled[lead[lead >= 0]] = True
        if len(cdrs):
            self.max_end = max(self.max_end, float(np.max(cdrs["end"])))
        self.kpis.add(cdrs, agent_start)
        self.w = w
        for sink in [*self.folds, *self.sinks]:
            sink(cdrs, agent_start)
        if self.keep == "all":
            self.kept.append((dict(cdrs.columns), agent_start))

    def finish(self) -> None:
        """Hand on every call still held (after the event loop)."""
        self.emit(math.inf)
        assert self._pending is None or len(self._pending["start"]) == 0

    def categories(self) -> dict[str, tuple[str, ...]]:
        """The open categories of the whole run's CDR table (``number``: the dialled
        leads' numbers in lead order, as the whole-table pass has them)."""
        cats = dict(run_categories(self.scenario))
        ids = np.flatnonzero(self.dialled)
        cats["number"] = lead_numbers(ids, self.segment[ids], self.scenario.list.segments,
                                      self.seed)[1] if len(ids) else ("",)
        return cats

    def table(self) -> tuple[CDRTable, np.ndarray]:
        """The kept calls as one table (``keep="none"``: an empty one, with the run's
        zone and epoch) and the agents' start times."""
        n = self.calls if self.keep == "all" else 0
        cats = self.categories() if self.keep == "all" else {
            **run_categories(self.scenario), "number": ("",)}
        cols: dict[str, np.ndarray] = {}
        for name in [c.name for c in COLUMNS]:
            parts = [k[name] for k, _ in self.kept]
            cols[name] = np.concatenate(parts) if parts else \
                np.zeros(0, dtype=np.dtype(_dtype(name)))
        starts = [a for _, a in self.kept]
        agent_start = np.concatenate(starts) if starts else np.zeros(0)
        self.kept.clear()
        if self.keep == "all" and n:  # the whole table's number codes (lead order)
            seg = self.segment[cols["lead_id"]]
            cols["number"], cats["number"] = lead_numbers(
                cols["lead_id"], seg, self.scenario.list.segments, self.seed)
        epoch = campaign_epoch(self.scenario)
        table = CDRTable({c.name: cols[c.name] for c in COLUMNS}, cats or open_categories(),
                         epoch=epoch, tz=self.scenario.campaign.timezone,
                         meta={"scenario": self.scenario.name, "seed": self.seed})
        return table, agent_start


def _dtype(name: str) -> str:
    return next(c.dtype for c in COLUMNS if c.name == name)

