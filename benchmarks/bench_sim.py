"""Simulation speed and memory (issue 2, Performance): dialsim vs a straightforward SimPy model.

Measures, in one command on this machine:

1. simulation time of ``scenarios/bench_progressive.toml`` (50 agents, 100,000 leads,
   progressive 1:1) through ``sim.run`` and through ``benchmarks/straightforward.py``
   (one SimPy process per call, ``simpy.Resource``, stdlib ``random`` per call, a dict
   per CDR), interleaved, median of ``--repeat`` runs: attempts per second and the
   speed-up (target ≥ 5×, ≥ 200,000 attempts/s);
2. the same for ``scenarios/baseline.toml`` (target ≥ 100,000 attempts/s);
3. the whole command — ``dialsim run`` with start-up and file writing — against the
   straightforward script run as a process writing its CDRs to CSV (target ≥ 3×);
4. peak memory (max RSS) of a 1,000,000-attempt run (target ≤ 400 MiB);
5. with ``--instructions``, the instructions each side executes for 1–3 (valgrind):
   a measure this shared machine's drifting speed does not move.

CPU time is reported beside wall time: the machines are shared, and CPU time is what a
busy neighbour disturbs least. Prints a table and writes ``benchmarks/results/sim.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import straightforward  # noqa: E402

import sim  # noqa: E402


def _timed(fn: Any) -> tuple[float, float, int]:
    """Wall and CPU seconds of ``fn()``, and the number of CDRs it returned.

    Each run starts from a clean heap: the previous runs' results are dropped and
    collected first, so that no model pays for the other's garbage (a full
    collection walks every live object, e.g. 100,000 CDR dicts).
    """
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    n = len(out.cdrs) if hasattr(out, "cdrs") else len(out)
    del out
    return w, c, n


# Child processes run as a user's would: with bytecode caches (a sandbox may set
# PYTHONDONTWRITEBYTECODE, which would recompile every module on every start).
_CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _child(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=_CHILD_ENV)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def simulation(repeat: int) -> dict[str, Any]:
    bench = sim.load_scenario(ROOT / "scenarios" / "bench_progressive.toml")
    base = sim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    res: dict[str, list[float]] = {k: [] for k in ("sf_wall", "sf_cpu", "ours_wall",
                                                   "ours_cpu", "base_wall", "base_cpu")}
    n = n_base = 0
    for _ in range(repeat):
        w, c, n_sf = _timed(straightforward.simulate)
        res["sf_wall"].append(w)
        res["sf_cpu"].append(c)
        w, c, n = _timed(lambda: sim.run(bench, seed=1))
        res["ours_wall"].append(w)
        res["ours_cpu"].append(c)
        assert n_sf == n
        w, c, n_base = _timed(lambda: sim.run(base, seed=1))
        res["base_wall"].append(w)
        res["base_cpu"].append(c)
    med = {k: statistics.median(v) for k, v in res.items()}
    return {
        "attempts": n, "baseline_attempts": n_base, "repeat": repeat, "runs": res,
        "straightforward_attempts_per_s": n / med["sf_wall"],
        "dialsim_attempts_per_s": n / med["ours_wall"],
        "dialsim_attempts_per_cpu_s": n / med["ours_cpu"],
        "speedup_wall": med["sf_wall"] / med["ours_wall"],
        "speedup_cpu": med["sf_cpu"] / med["ours_cpu"],
        "baseline_attempts_per_s": n_base / med["base_wall"],
        "baseline_attempts_per_cpu_s": n_base / med["base_cpu"],
    }


def whole_command(repeat: int) -> dict[str, Any]:
    walls: dict[str, list[float]] = {"sf_wall": [], "sf_cpu": [], "ours_wall": [],
                                     "ours_cpu": []}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        # one untimed run of each first: bytecode caches written, files in the page cache
        _child([sys.executable, str(ROOT / "benchmarks" / "straightforward.py"),
                str(t / "warm.csv")], ROOT)
        _child([sys.executable, "-m", "sim", "run", "scenarios/bench_progressive.toml",
                "--out", str(t / "warm")], ROOT)
        for i in range(repeat):
            w, c = _child([sys.executable, str(ROOT / "benchmarks" / "straightforward.py"),
                           str(t / f"sf{i}.csv")], ROOT)
            walls["sf_wall"].append(w)
            walls["sf_cpu"].append(c)
            w, c = _child([sys.executable, "-m", "sim", "run",
                           "scenarios/bench_progressive.toml", "--out", str(t / f"r{i}")], ROOT)
            walls["ours_wall"].append(w)
            walls["ours_cpu"].append(c)
    med = {k: statistics.median(v) for k, v in walls.items()}
    # Each straightforward run is followed by a dialsim run: the pair saw the same
    # phase of the machine, whose speed drifts by tens of per cent within seconds.
    pairs = [a / b for a, b in zip(walls["sf_wall"], walls["ours_wall"], strict=True)]
    return {"runs": walls, "speedup_wall": med["sf_wall"] / med["ours_wall"],
            "speedup_wall_paired": statistics.median(pairs),
            "speedup_cpu": med["sf_cpu"] / med["ours_cpu"],
            "dialsim_s": med["ours_wall"], "straightforward_s": med["sf_wall"]}


_MEMORY_SCRIPT = """
import resource, sys, sim
s = sim.load_scenario(sys.argv[1], overrides={"list.size": 1_000_000, "agents.count": 500})
r = sim.run(s, seed=1)
print(len(r.cdrs), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory() -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT,
                          str(ROOT / "scenarios" / "bench_progressive.toml")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    attempts, rss_kib = map(int, out.stdout.split())
    return {"attempts": attempts, "peak_rss_mib": rss_kib / 1024}


# -- instruction counts ------------------------------------------------------------------
# Wall and CPU time on a shared VM drift by tens of per cent within minutes (the
# straightforward model alone has run 2.0 s and 3.0 s back to back). Instructions
# executed, counted by valgrind, do not drift: with ``--instructions`` each figure is
# also given as a ratio of instruction counts. Simulation alone = (import + set-up +
# simulate) - (import + set-up), each side in its own process.
_SF_PRE = f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import straightforward"
_OURS_PRE = ("import sim, sim.model; s = sim.load_scenario({path!r})")


def _instructions(cmd: list[str]) -> int:
    # a fixed hash seed: string hashing otherwise moves counts by about 1 %
    env = {**_CHILD_ENV, "PYTHONHASHSEED": "0"}
    out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                          "--cachegrind-out-file=/dev/null", *cmd], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            return int(line.split(":")[1].replace(",", "").strip())
    raise RuntimeError(f"no instruction count in valgrind's output for {cmd}")


def instruction_counts() -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    py = sys.executable
    bench = str(ROOT / "scenarios" / "bench_progressive.toml")
    base = str(ROOT / "scenarios" / "baseline.toml")
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {
            "sf_pre": [py, "-c", _SF_PRE],
            "sf_sim": [py, "-c", _SF_PRE + "; straightforward.simulate()"],
            "ours_pre": [py, "-c", _OURS_PRE.format(path=bench)],
            "ours_sim": [py, "-c", _OURS_PRE.format(path=bench) + "; sim.run(s, seed=1)"],
            "base_pre": [py, "-c", _OURS_PRE.format(path=base)],
            "base_sim": [py, "-c", _OURS_PRE.format(path=base) + "; sim.run(s, seed=1)"],
            "sf_cmd": [py, str(ROOT / "benchmarks" / "straightforward.py"), f"{tmp}/sf.csv"],
            "ours_cmd": [py, "-m", "sim", "run", "scenarios/bench_progressive.toml",
                         "--out", f"{tmp}/run"],
        }
        # bytecode caches first, as for the timed commands
        _child([py, "-m", "sim", "run", "scenarios/bench_progressive.toml", "--out",
                f"{tmp}/warm"], ROOT)
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            counts = dict(zip(jobs, pool.map(_instructions, jobs.values()), strict=True))
    sf = counts["sf_sim"] - counts["sf_pre"]
    ours = counts["ours_sim"] - counts["ours_pre"]
    return {"counts": counts,
            "simulation_ratio": sf / ours,
            "baseline_vs_bench": (counts["base_sim"] - counts["base_pre"]) / ours,
            "whole_command_ratio": counts["sf_cmd"] / counts["ours_cmd"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--instructions", action="store_true",
                   help="also count instructions with valgrind (a few minutes; immune to "
                        "the machine's speed drifting)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sim.json")
    args = p.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        p.error("--instructions needs valgrind (Debian: apt-get install valgrind)")

    simres = simulation(args.repeat)
    cmd = whole_command(args.repeat)
    mem = None if args.skip_memory else memory()
    ins = instruction_counts() if args.instructions else None
    sr = simres
    rows = [
        ("straightforward SimPy, bench_progressive",
         f"{sr['straightforward_attempts_per_s']:,.0f} attempts/s", "1.00x"),
        ("dialsim sim.run, bench_progressive", f"{sr['dialsim_attempts_per_s']:,.0f} attempts/s",
         f"{sr['speedup_wall']:.2f}x wall, {sr['speedup_cpu']:.2f}x CPU"),
        ("dialsim sim.run, baseline.toml", f"{sr['baseline_attempts_per_s']:,.0f} attempts/s",
         f"{sr['baseline_attempts_per_cpu_s']:,.0f} per CPU s"),
        ("whole command vs straightforward script",
         f"{cmd['dialsim_s']:.2f} s vs {cmd['straightforward_s']:.2f} s",
         f"{cmd['speedup_wall']:.2f}x wall ({cmd['speedup_wall_paired']:.2f}x median pair), "
         f"{cmd['speedup_cpu']:.2f}x CPU"),
    ]
    if mem:
        rows.append(("peak RSS, 1,000,000-attempt run", f"{mem['peak_rss_mib']:.0f} MiB",
                     f"{mem['attempts']:,} attempts"))
    if ins:
        c = ins["counts"]
        rows.append(("instructions: simulation, bench_progressive",
                     f"{(c['ours_sim'] - c['ours_pre']) / 1e9:.2f} G vs "
                     f"{(c['sf_sim'] - c['sf_pre']) / 1e9:.2f} G",
                     f"{ins['simulation_ratio']:.2f}x fewer"))
        rows.append(("instructions: whole command",
                     f"{c['ours_cmd'] / 1e9:.2f} G vs {c['sf_cmd'] / 1e9:.2f} G",
                     f"{ins['whole_command_ratio']:.2f}x fewer"))
    w = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>26}  {r[2]}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "simulation": simres, "whole_command": cmd, "memory": mem, "instructions": ins,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg": load},
    }, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
