"""Benchmark: ``dialsim audit`` on 1,000,000 calls on each side (target <= 30 s).

Our side: 1,000,000 answered calls (sim.audit.synthetic, every perturbation of the
tests: 60/60 against a 6/6 contract, +1 s, a 5 % rise, 2 % missing, 1 % foreign,
duplicates, +8 h and 1.5 s clock); the carrier's side the same size. Timed: the audit
(numbers, clock, assignment, rating, inference, attribution) and writing its files
(audit.json, disputes.csv with a row per disputed call, audit.html): wall-clock and the
process's CPU time (on a shared machine the CPU time is what holds). Peak RSS is the
whole process's (the data included).

    python benchmarks/bench_audit.py [--calls N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from sim.audit import Side, audit
from sim.audit.files import write_audit
from sim.audit.synthetic import synthetic_audit
from sim.billing import plans_from_dict

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    args = ap.parse_args()
    plan = plans_from_dict({"plan": [{
        "name": "contract", "currency": "CNY", "price_per_min": "0.15", "increments": "6/6",
        "rounding": {"decimals": 3, "method": "up"}}]})[0]
    t0 = time.perf_counter()
    s = synthetic_audit(args.calls, seed=1, p_answer=1.0, duplicates=1000, unanswered=0)
    t_gen = time.perf_counter() - t0
    theirs = Side(s.theirs, charges=s.charges, charge_decimals=s.decimals, source="theirs")
    t0, c0 = time.perf_counter(), time.process_time()
    result = audit(s.ours, theirs, plan)
    t_audit, c_audit = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        write_audit(result, tmp)
        t_write, c_write = time.perf_counter() - t0, time.process_time() - c0
        disputes_mb = os.path.getsize(Path(tmp) / "disputes.csv") / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    out = {"ours": len(s.ours), "theirs": len(s.theirs), "matched": result.matched,
           "generate_s": round(t_gen, 2), "audit_s": round(t_audit, 2),
           "write_s": round(t_write, 2), "total_s": round(t_audit + t_write, 2),
           "audit_cpu_s": round(c_audit, 2), "write_cpu_s": round(c_write, 2),
           "disputes": int(len(result.disputed())), "disputes_mib": round(disputes_mb, 1),
           "peak_rss_mib": round(rss), "loadavg": [round(x, 2) for x in load],
           "difference": str(result.difference), "target_s": 30}
    print(f"ours {out['ours']:,} rows, theirs {out['theirs']:,} rows, matched "
          f"{out['matched']:,}")
    print(f"audit {t_audit:.2f} s + writing {t_write:.2f} s = {out['total_s']} s "
          f"(target <= 30 s; CPU {c_audit:.2f} s + {c_write:.2f} s); "
          f"{out['disputes']:,} disputes ({disputes_mb:.0f} MiB); "
          f"peak RSS {out['peak_rss_mib']} MiB; load average {load[0]:.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_audit.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
