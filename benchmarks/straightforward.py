"""The straightforward SimPy model of bench_progressive, as the SimPy docs teach it.

A dialer process waits for a free agent (``simpy.Resource``), starts one process per
call, draws every random number per call with the stdlib ``random`` module and keeps
one dict per CDR. It is the baseline dialsim's engine is measured against
(issue 2, Performance); it is benchmark code, not part of the product.

Run as a script it simulates and writes its CDRs to CSV, like ``dialsim run``.
"""

from __future__ import annotations

import csv
import math
import random  # the baseline deliberately uses the stdlib, per call
import sys
import time

import simpy

AGENTS = 50
LEADS = 100_000
P_ANSWER = 0.35
RING_MEDIAN, RING_SIGMA = 6.0, 0.5
RING_TIMEOUT = 25.0
TALK_MEDIAN, TALK_SIGMA = 60.0, 0.9
WRAP = 10.0


def simulate(seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    cdrs: list[dict] = []

    def call(env, lead, req):
        start = env.now
        answered = rng.random() < P_ANSWER
        ring = rng.lognormvariate(math.log(RING_MEDIAN), RING_SIGMA)
        if answered and ring <= RING_TIMEOUT:
            yield env.timeout(ring)
            answer = env.now
            talk = rng.lognormvariate(math.log(TALK_MEDIAN), TALK_SIGMA)
            yield env.timeout(talk)
            end = env.now
            cdrs.append({"lead_id": lead, "start": start, "answer": answer, "end": end,
                         "talk_s": talk, "billsec": math.ceil(talk),
                         "disposition": "ANSWERED"})
            yield env.timeout(WRAP)
        else:
            yield env.timeout(RING_TIMEOUT)
            cdrs.append({"lead_id": lead, "start": start, "answer": None, "end": env.now,
                         "talk_s": 0.0, "billsec": 0, "disposition": "NO ANSWER"})
        agents.release(req)

    def dialer(env):
        for lead in range(LEADS):
            req = agents.request()
            yield req
            env.process(call(env, lead, req))

    env.process(dialer(env))
    env.run()
    return cdrs


def main(argv: list[str]) -> int:
    out = argv[0] if argv else None
    t0 = time.perf_counter()
    cdrs = simulate()
    t1 = time.perf_counter()
    if out:
        with open(out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(cdrs[0]))
            w.writeheader()
            w.writerows(cdrs)
    print(f"{len(cdrs)} attempts, simulate {t1 - t0:.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
