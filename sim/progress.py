"""The one progress bar of dialsim: ``label [#####-----]  40%  extra`` on stderr.

Drawn only when the stream is a terminal (unless ``enabled`` says otherwise) and redrawn
at most every ``interval_s`` seconds; off a terminal, ``lines`` > 0 prints about that many
plain lines instead, so logs still show how far a long job has got. ``quiet`` turns it
off. Used by ``dialsim run`` (simulation and replications), ``compare`` and ``sweep``
(:class:`sim.sweeps.ProgressBar` draws sweep snapshots with it).
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]

WIDTH = 25


class ProgressBar:
    """A one-line bar over ``total`` units of work.

    Parameters
    ----------
    label
        Text before the bar.
    total
        Units of work in all (a share of 1.0, a count of runs, ...).
    stream
        Where to draw (default ``sys.stderr``).
    enabled
        Draw even off a terminal (True) or never (False); default: when a terminal.
    interval_s
        Least time between redraws, s (the last update is always drawn).
    lines
        Off a terminal, print about this many plain ``label: done/total unit done`` lines
        (0: none).
    unit
        What ``total`` counts, for those lines (``"runs"``).
    """

    def __init__(self, label: str, total: float = 1.0, *, stream: TextIO | None = None,
                 enabled: bool | None = None, interval_s: float = 0.2,
                 lines: int = 0, unit: str = "") -> None:
        self.label = label
        self.unit = f" {unit}" if unit else ""
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        tty = _isatty(self.stream)
        self.enabled = tty if enabled is None else enabled
        self.interval_s = interval_s
        self._every = (max(1, math.ceil(total / lines))
                       if lines > 0 and not self.enabled and enabled is None else 0)
        self._last = -math.inf
        self._drawn = False

    def update(self, done: float, extra: str = "") -> None:
        """Show that ``done`` of ``total`` is finished; ``extra`` follows the percentage."""
        if self._every:
            if int(done) % self._every == 0 or done >= self.total:
                self.stream.write(f"{self.label}: {int(done)}/{int(self.total)}{self.unit} done\n")
                self.stream.flush()
            return
        if not self.enabled or self.total <= 0:
            return
        now = time.monotonic()
        if done < self.total and now - self._last < self.interval_s:
            return
        self._last = now
        share = min(max(done / self.total, 0.0), 1.0)
        filled = int(WIDTH * share)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {int(100 * share):3d}%"
                          + (f"  {extra}" if extra else "") + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
