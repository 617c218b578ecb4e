"""How far a sweep has got: counts, rate and time left, and a one-line bar on stderr.

Rate and time left count only runs simulated in this session: runs read back from a
resumed folder take no time and would make the estimate absurdly optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from ..progress import ProgressBar as Bar

__all__ = ["ProgressBar", "SweepProgress"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepProgress:
    """A snapshot passed to a sweep's ``progress`` callback after every finished run.

    Attributes
    ----------
    runs_done, runs_total
        Runs (point × replication) finished — saved, reused or failed — and in all.
    points_done, points_total
        Points whose every replication has finished, and in all.
    reused
        Runs read back from the output folder (not simulated again).
    failed
        Runs that raised or whose worker died.
    elapsed_s
        Seconds since the sweep started running.
    """

    runs_done: int
    runs_total: int
    points_done: int
    points_total: int
    reused: int
    failed: int
    elapsed_s: float

    @property
    def rate_per_s(self) -> float:
        """Runs simulated per second in this session (0 before the first)."""
        new = self.runs_done - self.reused
        return new / self.elapsed_s if new > 0 and self.elapsed_s > 0 else 0.0

    @property
    def left_s(self) -> float | None:
        """Estimated seconds to go (None until a rate is known)."""
        rate = self.rate_per_s
        return (self.runs_total - self.runs_done) / rate if rate > 0 else None


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """``sweep [#####-----]  37%  6/16 points  24/64 runs  3.1 runs/s  0:13 left`` on a
    stream: a :class:`sim.progress.ProgressBar` fed with :class:`SweepProgress` snapshots.

    Drawn only when the stream is a terminal unless ``enabled`` says otherwise; redrawn
    at most every ``interval_s`` seconds (and at the end).
    """

    def __init__(self, label: str = "sweep", *, stream: TextIO | None = None,
                 enabled: bool | None = None, interval_s: float = 0.2) -> None:
        self._bar = Bar(label, 1.0, stream=stream, enabled=enabled, interval_s=interval_s)

    @property
    def enabled(self) -> bool:
        return self._bar.enabled

    def __call__(self, p: SweepProgress) -> None:
        extra = []
        if p.reused:
            extra.append(f"{p.reused} resumed")
        if p.failed:
            extra.append(f"{p.failed} failed")
        self._bar.total = max(p.runs_total, 1)
        self._bar.update(p.runs_done,
                         f"{p.points_done}/{p.points_total} points  "
                         f"{p.runs_done}/{p.runs_total} runs  {p.rate_per_s:.2f} runs/s  "
                         f"{_clock(p.left_s)} left" + (f"  ({', '.join(extra)})" if extra else ""))

    def close(self) -> None:
        self._bar.close()
