"""The agent log's files: agents.csv written whole or chunk by chunk as a streaming
run hands out its rows (:class:`AgentLogWriter`), with ISO 8601 times (:func:`iso_times`,
which timeline.csv uses too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .output import atomic_write, end_atomic

__all__ = ["AGENT_COLUMNS", "AgentLogWriter", "agent_log_rows", "iso_times",
           "write_agent_log"]


def iso_times(t_s: Any, epoch: str, tz: str) -> Any:
    """ISO 8601 text with the UTC offset (``2026-03-02T09:00:00+08:00``, to the µs when
    there are any) of times ``t_s`` (s from the naive local ``epoch``) in zone ``tz``,
    as a NUL-padded character matrix for :func:`sim.csvtext.join_rows` (as cdrs.csv)."""
    import numpy as np

    from .cdrio._values import NAT, US_PER_S, format_times, get_zone, local_offsets_s

    t = np.asarray(t_s, dtype=float)
    finite = np.isfinite(t)
    us = np.where(finite, np.rint(np.where(finite, t, 0.0) * US_PER_S).astype(np.int64)
                  + int(np.datetime64(epoch, "us").astype(np.int64)), NAT)
    off = (local_offsets_s(us, get_zone(tz)) // 60).astype(np.int16)
    return format_times(us, offset_min=off, chars=True)


#: agents.csv columns: times as ISO 8601 with offset, and as seconds from the epoch.
AGENT_COLUMNS: tuple[str, ...] = ("agent_id", "state", "start", "end", "start_s", "end_s",
                                  "duration_s")


def agent_log_rows(log: Any, epoch: str, tz: str) -> bytes:
    """agents.csv rows (no header) of agent log ``log``: the one formatting both
    :func:`write_agent_log` and :class:`AgentLogWriter` use."""
    from .agentlog import AGENT_STATES
    from .csvtext import fixed_us, integers, join_rows, labels

    start, end = log.start, log.end
    return join_rows([integers(log.agent_id), labels(log.state, AGENT_STATES),
                      iso_times(start, epoch, tz), iso_times(end, epoch, tz),
                      fixed_us(start), fixed_us(end), fixed_us(end - start)])


def _slices(log: Any, step: int = 1 << 17) -> Any:
    from .agentlog import AgentLog

    for lo in range(0, len(log), step):
        sl = slice(lo, lo + step)
        yield AgentLog(agent_id=log.agent_id[sl], state=log.state[sl], start=log.start[sl],
                       end=log.end[sl])


def write_agent_log(log: Any, path: Path, *, epoch: str = "1970-01-01T00:00:00",
                    tz: str = "UTC") -> None:
    """agents.csv: agent_id, state, start, end (ISO 8601 with the UTC offset of ``tz``),
    start_s, end_s, duration_s (seconds from the naive local ``epoch``)."""
    with AgentLogWriter(path, epoch=epoch, tz=tz) as writer:
        writer.write(log)


class AgentLogWriter:
    """agents.csv written chunk by chunk, as a streamed run hands out its agent log
    (:class:`sim.model.agentstream.AgentLogStream`; ``write`` is its sink): the same
    bytes as :func:`write_agent_log` of the whole log, to a temporary name renamed into
    place by :meth:`close` (removed after an error)."""

    def __init__(self, path: Path, *, epoch: str = "1970-01-01T00:00:00",
                 tz: str = "UTC") -> None:
        self.epoch, self.tz = epoch, tz
        self.rows = 0
        self._file = atomic_write(path, "wb")
        self._fh = self._file.__enter__()
        try:
            self._fh.write((",".join(AGENT_COLUMNS) + "\n").encode("ascii"))
        except BaseException as exc:
            self.close(exc)
            raise

    def write(self, log: Any) -> None:
        """Append the rows of ``log`` (in the log's canonical order)."""
        for part in _slices(log):
            self._fh.write(agent_log_rows(part, self.epoch, self.tz))
        self.rows += len(log)

    def close(self, error: BaseException | None = None) -> None:
        """Rename the file into place (or, after an ``error``, remove it)."""
        end_atomic(self._file, error)

    def __enter__(self) -> AgentLogWriter:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)
