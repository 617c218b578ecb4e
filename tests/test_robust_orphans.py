"""SIGKILL of a ``dialsim sweep`` parent leaves no process behind (issue 20).

The sweep runs in a session of its own; once its spawn workers are up, the parent is
killed outright (it cannot clean up). Every worker must notice and exit, and with them
the multiprocessing resource tracker, within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _session_members(sid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:  # fields[3]: the session id
            out.append(int(entry.name))
    return out


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.0, 1.0], ids=["while-starting", "while-running"])
def test_sigkill_of_sweep_parent_leaves_no_process(tmp_path, after_s):
    """Killed while its workers still start up (they must not take their new parent for
    the old one) or while they run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sim", "sweep", str(SCENARIOS / "baseline.toml"),
           "--set", "list.size=3000", "--vary", "agents.count=10:60:1", "--reps", "3",
           "--workers", "2", "--no-plots", "--out", str(tmp_path / "sw")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sid = proc.pid
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 3:  # two workers and the resource tracker
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the sweep did not start its workers (exit {proc.poll()})")
            time.sleep(0.1)
        time.sleep(after_s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30  # generous: a loaded machine starts workers slowly
        while (left := _session_members(sid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == [], f"processes left behind: {left}"
    finally:
        for pid in _session_members(sid):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
