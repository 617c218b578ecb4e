"""Reading and rating CDR files chunk by chunk: rows/s and peak RSS at growing sizes.

The same synthetic campaign (:mod:`benchmarks.synthetic`) of 1, 4 and 16 million calls
(more days, same traffic per day) is written to Parquet chunk by chunk
(:class:`sim.cdrio._parquet.ParquetCDRWriter`), then, each in a fresh process so that
peak RSS is its own:

* ``read``: :func:`sim.iter_cdrs` over the file, every chunk dropped;
* ``rate``: :func:`sim.rate_chunks` over those chunks under the shipped China plans;
* ``whole``: today's whole-table path for comparison, :func:`sim.read_cdrs` then
  :func:`sim.rate` (only up to ``--whole-max`` calls: it holds everything).

Bounded memory means peak RSS does not grow with the rows, and linear cost means rows/s
does not fall: the table gives both ratios to the smallest size, measured in the same
command. ``--sizes`` scales it down on a busy machine. Results: a table on stdout and
JSON in ``benchmarks/results/scale.json``.

``--task run`` measures the simulation instead (issue 16): :data:`RUN_SCENARIO`, a list of
a fixed 250,000 leads who decline and ask to be called back (retried up to 100 times),
run for as many days as give each size (about 250,000 attempts a day), streamed
(``sim.run(..., chunk_rows=65536, keep_cdrs=False)``) in a fresh process per size, and
1M (or the first size if 1M is not among them) also in memory (``sim.run`` without
``chunk_rows``: today's baseline). Ratios ("vs base") are to the streamed run of that
size; attempts per CPU second are given beside attempts per second (a shared machine's
neighbours disturb CPU time less). Both kinds of run are timed up to the same figures:
KPIs, timeline, dialer figures, compliance and agent totals (what ``dialsim run``
reports), folded chunk by chunk by the streamed run, computed from the whole table by
the in-memory one.

    python benchmarks/bench_scale.py --sizes 1e6,4e6,16e6
    python benchmarks/bench_scale.py --task run --sizes 1e6,4e6,16e6
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CHUNK = 1 << 20  # calls generated per chunk written (5 days each)

#: The ``run`` task's campaign: bench_progressive with a fixed list whose leads are
#: dialled again and again (every person declines and asks for a callback in an hour,
#: no answer is retried in an hour), so that more days make more attempts.
RUN_SCENARIO = ROOT / "scenarios/bench_progressive.toml"
RUN_OVERRIDES: dict[str, Any] = {
    "list.size": 250_000, "list.max_attempts": 100, "agents.count": 300,
    "list.retry.no_answer_s": 3600, "list.retry.callback_s": 3600,
    "script.p_callback": 1.0, "script.stages[0].p_decline": 1.0}
RUN_PER_DAY = 250_000  # attempts a day, about


def write_file(path: Path, n: int) -> float:
    """``n`` calls of the synthetic campaign, ``CHUNK`` at a time; returns seconds."""
    import numpy as np
    from synthetic import campaign_cdrs

    from sim.cdr import CDRTable
    from sim.cdrio._parquet import ParquetCDRWriter

    t0 = time.perf_counter()
    with ParquetCDRWriter(path) as writer:
        for k, lo in enumerate(range(0, n, CHUNK)):
            part = campaign_cdrs(min(CHUNK, n - lo), seed=k + 1, talk_median=35.0,
                                 talk_sigma=1.0, destinations=["86138", "86139", "8610"],
                                 tz="Asia/Shanghai")
            cols = dict(part.columns)
            for name in ("start", "answer", "connect", "end"):
                cols[name] = cols[name] + k * 5 * 86400.0  # the next 5 days
            cols["call_id"] = np.arange(lo, lo + len(part), dtype=np.int64)
            writer.write(CDRTable(cols, part.categories, part.epoch, part.tz, part.meta))
    return time.perf_counter() - t0


def peak_rss_mib() -> float:
    """This process's peak resident set (MiB): VmHWM, which starts afresh at exec;
    ``ru_maxrss`` would carry the parent's peak over the fork (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_child(task: str, n: int) -> dict[str, Any]:
    """One simulation in this process: ``stream`` or ``memory``, about ``n`` attempts."""
    import gc
    import warnings

    import sim

    days = max(1, round(n / RUN_PER_DAY))
    scenario = sim.load_scenario(RUN_SCENARIO, overrides={**RUN_OVERRIDES,
                                                          "campaign.days": days})
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the list may run out on the last day
        if task == "memory":
            result = sim.run(scenario, seed=1)
            rows = len(result.cdrs)
        else:
            result = sim.run(scenario, seed=1, chunk_rows=1 << 16, keep_cdrs=False)
            rows = result.streamed[0]
        # the figures a run reports (dialsim run's summary): folded as the streamed
        # run went, computed from the whole table by the in-memory one
        _ = (result.timeline, result.dialer, result.compliance, result.agents.logged_in())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"task": task, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "cpu_s": cpu, "rows_per_cpu_s": rows / cpu, "peak_rss_mib": peak_rss_mib(),
            "days": days}


def child(task: str, path: Path) -> dict[str, Any]:
    """One measurement in this process: rows, seconds, peak RSS."""
    import sim
    from sim.billing import load_plans
    from sim.cdrio._parquet import _pyarrow

    _pyarrow()  # imports (pyarrow ~0.3 s) are not part of the rows/s
    sim.rate_chunks([], [])
    plans = load_plans(ROOT / "scenarios/plans/china.toml")
    t0 = time.perf_counter()
    if task == "read":
        rows = sum(len(c) for c in sim.iter_cdrs(path))
    elif task == "whole":
        rows = len(sim.rate(sim.read_cdrs(path).cdrs, plans).call_id)
    else:
        rows = sim.rate_chunks(sim.iter_cdrs(path), plans).calls
    seconds = time.perf_counter() - t0
    rss = peak_rss_mib()
    return {"task": task, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mib": rss, "plans": len(plans)}


def measure(task: str, path: Path | int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", task, str(path)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,4e6,16e6",
                    help="comma-separated call counts (default 1e6,4e6,16e6)")
    ap.add_argument("--whole-max", type=float, default=4e6,
                    help="largest size also rated whole, the old way (default 4e6)")
    ap.add_argument("--task", choices=("read", "run"), default="read",
                    help="read: read and rate CDR files (default); run: simulate, "
                         "streamed, against the in-memory run at 1M (or the first size)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON results (default benchmarks/results/scale.json, "
                         "scale_run.json for --task run)")
    ap.add_argument("--child", nargs=2, metavar=("TASK", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        task, what = args.child
        res = run_child(task, int(what)) if task in ("stream", "memory") else \
            child(task, Path(what))
        print(json.dumps(res))
        return 0
    if args.out is None:
        args.out = ROOT / "benchmarks/results" / (
            "scale_run.json" if args.task == "run" else "scale.json")
    sizes = [int(float(x)) for x in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    if args.task == "run":
        base_n = 1_000_000 if 1_000_000 in sizes else sizes[0]
        for n in sizes:
            for task in ("stream", "memory")[:2 if n == base_n else 1]:
                r = measure(task, n)
                r.update(n=n, file_mib=0.0, write_s=0.0)
                rows.append(r)
                print(f"  {task} {n:,}: {r['rows']:,} attempts in {r['seconds']:.1f} s, "
                      f"{r['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
        base_row = next(r for r in rows if r["n"] == base_n)
        for r in rows:
            r["rows_per_s_ratio"] = r["rows_per_s"] / base_row["rows_per_s"]
            r["rows_per_cpu_s_ratio"] = r["rows_per_cpu_s"] / base_row["rows_per_cpu_s"]
            r["rss_ratio"] = r["peak_rss_mib"] / base_row["peak_rss_mib"]
        return _report(rows, sizes, args.out, run=True)
    with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
        for n in sizes:
            path = Path(tmp) / f"calls-{n}.parquet"
            wrote = write_file(path, n)
            size_mib = path.stat().st_size / 2**20
            for task in ("read", "rate", "whole")[:3 if n <= args.whole_max else 2]:
                r = measure(task, path)
                r.update(n=n, file_mib=round(size_mib, 1), write_s=round(wrote, 2))
                rows.append(r)
            path.unlink()
    base = {r["task"]: r for r in rows if r["n"] == sizes[0]}
    for r in rows:
        b = base[r["task"]]
        r["rows_per_s_ratio"] = r["rows_per_s"] / b["rows_per_s"]
        r["rss_ratio"] = r["peak_rss_mib"] / b["peak_rss_mib"]
    return _report(rows, sizes, args.out, run=False)


def _report(rows: list[dict[str, Any]], sizes: list[int], out: Path, *, run: bool) -> int:
    """Print the table, write the JSON."""
    unit, vs = ("attempts", "vs base") if run else ("calls", "vs first")
    head = (f"{'task':<6} {unit:>11} {'days' if run else 'file MiB':>9} {'s':>7} "
            f"{unit + '/s':>12} {vs:>8} {'peak RSS MiB':>13} {vs:>8}"
            + (f" {'per CPU s':>11} {vs:>8}" if run else ""))
    print(head)
    print("-" * len(head))
    for r in rows:
        third = f"{r['days']:>9}" if run else f"{r['file_mib']:>9.1f}"
        print(f"{r['task']:<6} {r['rows']:>11,} {third} {r['seconds']:>7.2f} "
              f"{r['rows_per_s']:>12,.0f} {r['rows_per_s_ratio']:>8.2f} "
              f"{r['peak_rss_mib']:>13.1f} {r['rss_ratio']:>8.2f}"
              + (f" {r['rows_per_cpu_s']:>11,.0f} {r['rows_per_cpu_s_ratio']:>8.2f}"
                 if run else ""))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cpus")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"sizes": sizes, "rows": rows, "loadavg": load,
                               "cpus": os.cpu_count(), "python": platform.python_version(),
                               "machine": platform.machine()}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
