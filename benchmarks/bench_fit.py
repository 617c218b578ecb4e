"""Benchmark: ``dialsim fit`` on a 1,000,000-row export.

Target (issue 13): fit a 1,000,000-row export in <= 15 s on this machine, reported as
import / estimation / check. The export is drawn from known laws
(:func:`sim.fit.synthetic.draw_export`: 15 s ring timeout, p_pickup 0.5, short calls
and conversations, up to 4 attempts, whole-second timestamps) and written as an
Asterisk Master.csv, the format real PBXs give; the check re-simulates the fitted
scenario at the check's default scale (40,000 leads; shares are what is compared).
The machine is shared: the load average is printed with the figures.

Run: ``python benchmarks/bench_fit.py [--rows N] [--reps R] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.cdrio import read_cdrs, write_cdrs  # noqa: E402
from sim.fit import fit  # noqa: E402
from sim.fit.synthetic import draw_export  # noqa: E402

TARGET_S = 15.0
TALK = {"dist": "mixture", "weights": [0.4, 0.6], "components": [
    {"dist": "lognormal", "median": 5, "sigma": 0.25},
    {"dist": "lognormal", "median": 60, "sigma": 0.8}]}


def export(rows: int, path: Path) -> int:
    """Write an Asterisk export of about ``rows`` dials; returns the exact row count."""
    # ~2.5 dials per lead with these laws and 4 attempts
    cdrs = draw_export(leads=max(1, int(rows / 2.5)), seed=1, p_pickup=0.5,
                       ring_timeout_s=15, talk=TALK, max_attempts=4, whole_seconds=True)
    write_cdrs(cdrs, path, format="asterisk")
    return len(cdrs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3, help="replications of the check")
    ap.add_argument("--out", type=Path, help="write the figures as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Master.csv"
        n = export(args.rows, path)
        t0, c0 = time.perf_counter(), time.process_time()
        cdrs = read_cdrs(path, direction="all").cdrs
        t1, c1 = time.perf_counter(), time.process_time()
        f = fit(cdrs)
        t2, c2 = time.perf_counter(), time.process_time()
        check = f.check(reps=args.reps)
        t3, c3 = time.perf_counter(), time.process_time()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    load = os.getloadavg()
    total = t3 - t0
    figures = {
        "rows": n, "import_s": round(t1 - t0, 2), "estimation_s": round(t2 - t1, 2),
        "check_s": round(t3 - t2, 2), "total_s": round(total, 2),
        "cpu_import_s": round(c1 - c0, 2), "cpu_estimation_s": round(c2 - c1, 2),
        "cpu_check_s": round(c3 - c2, 2), "peak_rss_mb": round(peak_mb, 1),
        "columns_mb": round(sum(a.nbytes for a in cdrs.columns.values()) / 1e6, 1),
        "check_reps": args.reps, "check_scale": round(check.scale, 4),
        "load_average": [round(x, 2) for x in load], "target_s": TARGET_S,
        "p_pickup": f.estimates["customers.p_pickup"].to_dict(),
    }
    print(f"dialsim fit on {n:,} rows (Asterisk export): import {figures['import_s']} s, "
          f"estimation {figures['estimation_s']} s, check {figures['check_s']} s "
          f"({args.reps} reps at {check.scale:.0%} scale); total {total:.1f} s "
          f"(target <= {TARGET_S:g} s: {'met' if total <= TARGET_S else 'NOT met'})")
    print(f"CPU time: import {figures['cpu_import_s']} s, estimation "
          f"{figures['cpu_estimation_s']} s, check {figures['cpu_check_s']} s (wall time is "
          "inflated when the machine is shared)")
    print(f"peak RSS {figures['peak_rss_mb']:.0f} MB (export drawn and written in the same "
          f"process), CDR columns {figures['columns_mb']} MB; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    e = f.estimates["customers.p_pickup"]
    print(f"p_pickup {e.value:.4f} (95% CI {e.low:.4f}..{e.high:.4f}; truth 0.5)")
    print(check.table())
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
