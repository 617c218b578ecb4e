"""``dialsim run --chunk-rows N``: the run streamed to its files as it is simulated.

Chunks of finished calls (:mod:`sim.model.stream`) are written to cdrs.csv / cdrs.parquet
(and Master.csv), the agent log's rows to agents.csv / agents.parquet as they become
final, rated under every plan (:class:`sim.billing.chunks.ChunkRater`, whose
blocks go to charges.csv as they are rated) and dropped; plan-level fees are settled at
the end, when the campaign's labour and channels are known. The files are the same,
byte for byte, as those of the in-memory run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["stream_run"]


class _Outputs:
    """The files a streaming run writes chunk by chunk, and the rater."""

    def __init__(self, folder: Path, scenario: Any, plans: Sequence[Any], cdr_format: str,
                 asterisk: bool) -> None:
        self.names: list[str] = []
        self.closers: list[Callable[..., None]] = []
        self.sinks: list[Callable[[Any, np.ndarray], None]] = []
        #: The agent log's writers (its rows come as they become final).
        self.agent_sinks: list[Callable[[Any], None]] = []
        self.agent_closers: list[Callable[[BaseException | None], None]] = []
        if cdr_format == "csv":
            from ..agentfiles import AgentLogWriter
            from ..cdrio._write import NativeCDRWriter
            from ..model.suspend import campaign_epoch

            w = NativeCDRWriter(folder / "cdrs.csv")
            self._add(w.write, w.close)
            a = AgentLogWriter(folder / "agents.csv", epoch=campaign_epoch(scenario),
                               tz=scenario.campaign.timezone)
            self.agent_sinks.append(a.write)
            self.agent_closers.append(a.close)
            self.names += ["cdrs.csv", "cdrs.meta.json", "agents.csv"]
        elif cdr_format == "parquet":
            from ..cdrio._parquet import AgentParquetWriter, ParquetCDRWriter

            p = ParquetCDRWriter(folder / "cdrs.parquet")
            self._add(p.write, p.close)
            ap = AgentParquetWriter(folder / "agents.parquet")
            self.agent_sinks.append(ap.write)
            self.agent_closers.append(ap.close)
            self.names += ["cdrs.parquet", "agents.parquet"]
        if asterisk:
            from ..cdrio._write import _epoch_us, _write_asterisk_rows
            from ..output import atomic_write

            ctx = atomic_write(folder / "Master.csv")
            fh = ctx.__enter__()

            def master(cdrs: Any) -> None:
                _write_asterisk_rows(cdrs, fh, _epoch_us(cdrs))

            def close(error: BaseException | None = None, **_: Any) -> None:
                if error is None:
                    ctx.__exit__(None, None, None)
                else:
                    ctx.__exit__(type(error), error, error.__traceback__)

            self._add(master, close)
        self.rater = None
        self.charges = None
        if plans:
            from ..billing.chunks import ChunkRater
            from ..billing.costs import ChargesWriter

            self.charges = ChargesWriter(folder / "charges.csv", plans)
            self.rater = ChunkRater(plans, on_block=lambda _t, r: self.charges.write(r))
            self.sinks.append(lambda cdrs, _a: self.rater.add(cdrs))

    def _add(self, write: Callable[[Any], None], close: Callable[..., None]) -> None:
        self.sinks.append(lambda cdrs, _a: write(cdrs))
        self.closers.append(close)

    def close(self, error: BaseException | None, categories: Any) -> None:
        """Close every file (after an ``error``: remove them)."""
        first: BaseException | None = None
        for close in self.closers:
            try:
                close(error, categories=categories) if error is None else close(error)
            except BaseException as exc:
                first = first or exc
        for close_log in self.agent_closers:
            try:
                close_log(error or first)
            except BaseException as exc:
                first = first or exc
        if self.charges is not None:
            if error is None and self.rater is not None:
                self.rater.flush()  # the last block's charges
            self.charges.close(error)
        if first is not None and error is None:
            raise first


def stream_run(folder: Path, scenario: Any, seed: int, plans: Sequence[Any],
               chunk_rows: int, *, cdr_format: str = "csv", asterisk: bool = False,
               progress: Callable[[float], None] | None = None
               ) -> tuple[Any, Any, list[str]]:
    """Simulate ``scenario`` streaming its CDRs (and charges) into ``folder``.

    Returns the run's result (a :class:`sim.model.StreamedResult`: KPIs, agent
    totals, timeline and compliance of the whole run), its rating under ``plans``
    (None without plans) and the names of the files written (CDRs and agent log).
    """
    from ..model import run as simulate

    outputs = _Outputs(folder, scenario, plans, cdr_format, asterisk)
    try:
        result = simulate(scenario, seed, progress=progress, chunk_rows=chunk_rows,
                          keep_cdrs=False, on_chunk=outputs.sinks,
                          on_agents=outputs.agent_sinks)
    except BaseException as exc:
        outputs.close(exc, None)
        raise
    assert result.streamed is not None
    outputs.close(None, result.streamed[2])
    rating = None
    if outputs.rater is not None:
        from ..costing import campaign_info

        assert outputs.rater.carry is not None
        info = campaign_info(scenario, result.cdrs, result.agents,
                             peak=outputs.rater.carry.peak)
        rating = outputs.rater.finish(info)
    return result, rating, outputs.names
