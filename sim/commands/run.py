"""``dialsim run``: simulate a scenario, print its KPIs and plan costs, save the results.

With ``--reps R`` the scenario is also replicated on seeds ``seed .. seed + R - 1`` and
every KPI and every plan's cost is printed as a mean with its 95 % confidence interval;
``--report`` adds the HTML report to the output folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..agentfiles import AgentLogWriter, agent_log_rows, iso_times, write_agent_log
from ..fmt import ci, count, money, number, pct
from ..output import atomic_write, output_dir, safe_cell
from ..progress import ProgressBar
from ._common import (
    Console,
    add_scenario_args,
    check_count,
    default_out,
    format_table,
    load_from_args,
    run_progress,
    write_json,
)

__all__ = ["AgentLogWriter", "add_parser", "agent_log_rows", "compliance_table",
           "dialer_table", "kpi_table",
           "replication_progress", "reps_table", "run", "save_run", "summary",
           "suspension_lines"]

#: Plan figures printed per plan for ``--reps`` (all of them go to replications.json).
REP_COST_FIELDS: tuple[str, ...] = ("total", "per_contact", "per_conversion",
                                    "campaign_total")


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="simulate a scenario and price its calls",
        description="Simulate a campaign scenario, print KPIs and the cost under every "
                    "billing plan, and write cdrs.csv (with cdrs.meta.json), agents.csv, "
                    "costs.csv, charges.csv and summary.json to the output folder. With "
                    "--reps, also replicate it and report every figure with a 95% "
                    "confidence interval.")
    add_scenario_args(p)
    p.add_argument("--out", type=Path, help="output folder (default: runs/<scenario>-NNN, "
                                            "a new one each time)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.add_argument("--plans", action="append", default=[], type=Path, metavar="FILE",
                   help="billing plan file(s) to price the calls under "
                        "(default: the scenario's billing.plans)")
    p.add_argument("--asterisk", action="store_true",
                   help="also export the CDRs as an Asterisk cdr_csv Master.csv")
    p.add_argument("--cdr-format", choices=("csv", "parquet", "none"), default="csv",
                   help="CDRs and agent log as cdrs.csv + agents.csv (default), as "
                        "cdrs.parquet + agents.parquet (needs pyarrow: pip install "
                        "'dialsim[parquet]'), or not written at all")
    p.add_argument("--chunk-rows", type=int, metavar="N",
                   help="stream the run: every N recorded calls, the finished ones are "
                        "written, rated and dropped, so memory follows the list, not the "
                        "calls (same files; e.g. 65536 for runs of millions of calls)")
    p.add_argument("--reps", type=int, default=1, metavar="R",
                   help="replications (seeds SEED .. SEED+R-1): every KPI and plan cost as "
                        "a mean with a 95%% CI; writes replications.csv/.json (default 1)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes for the replications (same results; default 1)")
    p.add_argument("--report", action="store_true",
                   help="also write report.html (and its PNGs) to the output folder")
    p.set_defaults(func=run)


def kpi_table(kpis: dict[str, Any]) -> str:
    from ..analysis.kpis import KPI_LABELS

    rows = []
    for key, (label, fmt) in KPI_LABELS.items():
        if key in kpis and kpis[key] is not None:
            value = kpis[key]
            rows.append([label, fmt.format(value) if value == value else "n/a"])
    return format_table(rows)


#: The dialer's own figures: key -> (label, format).
DIALER_LABELS: dict[str, tuple[str, str]] = {
    "mean_dial_level": ("Mean dial level (lines ringing per agent)", "{:.2f}"),
    "mean_lines_in_flight": ("Mean lines in flight", "{:.1f}"),
    "dials_per_contact": ("Dials per contact", "{:.2f}"),
    "agent_wait_between_calls_s": ("Agent wait between calls (s)", "{:.1f}"),
    "mean_level": ("Mean controller level", "{:.2f}"),
    "blocked_share": ("Attempts blocked (no trunk line)", "{:.2%}"),
}


def dialer_table(dialer: Mapping[str, Any]) -> str:
    """The dialer's figures (mode first), skipping what this mode does not have."""
    rows = [["Dialer mode", str(dialer.get("mode", "?"))]]
    for key, (label, fmt) in DIALER_LABELS.items():
        value = dialer.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            rows.append([label, fmt.format(value)])
    return format_table(rows)


def _clock(t: float) -> str:
    """``09:11 on day 1`` of a time in seconds from the campaign's first midnight."""
    day, rest = divmod(int(t), 86_400)
    return f"{rest // 3600:02d}:{rest % 3600 // 60:02d} on day {day + 1}"


def suspension_lines(pacer: Mapping[str, Any]) -> list[str]:
    """What a dialer obeying a plan's suspend terms (``dialer.obey_terms``) did: how
    often and how long dialing was stopped, then one line per stop. Nothing without
    the key."""
    stops = pacer.get("suspended")
    if stops is None:
        return []
    plan = pacer.get("obey_terms", "?")
    if not stops:
        return [f"Dialing suspended: never (the suspend terms of plan {plan!r} did not fire)"]
    total = sum(s["to_s"] - s["from_s"] for s in stops)
    length = "until the campaign's end" if not math.isfinite(total) else \
        f"{number(total / 3600, 3)} h in all, to each window's end"
    out = [f"Dialing suspended {len(stops)} time{'s' if len(stops) > 1 else ''} by plan "
           f"{plan!r}, {length}:"]
    for s in stops:
        until = (f"to {_clock(s['to_s'])}" if math.isfinite(s["to_s"])
                 else "for the rest of the campaign")
        value = s["count"] / s["base"]
        shown = f"{number(value, 3)} s" if s.get("metric") == "acd_s" else pct(value)
        out.append(f"  {s['term']} {s['window']}: from {_clock(s['from_s'])} {until}; "
                   f"{s.get('metric', 'metric')} {shown} ({count(s['count'])} / "
                   f"{count(s['base'])}) when it stopped")
    return out


def compliance_table(results: Sequence[Mapping[str, Any]]) -> str:
    """One line per rule: rule, what is measured, value, limit, pass/FAIL."""
    from ..analysis.compliance import format_results

    if not results:
        return "Compliance: no rules checked"
    return format_table(format_results(results), ["rule", "measure", "value", "limit",
                                                  "verdict"], "llrrl")


def replication_progress(label: str, total: int, *, quiet: bool = False,
                         ) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A ``progress(done, total)`` callback on stderr over ``total`` runs, and the
    function that ends it (:func:`._common.run_progress`)."""
    progress, close = run_progress(label, quiet=quiet)
    return (lambda done, _n: progress(done, total)), close


def _executor(workers: int) -> Any:
    if workers < 1:
        from ..errors import ScenarioError

        raise ScenarioError(f"--workers: must be >= 1 (got {workers})")
    if workers == 1:
        return None
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from ..sweeps._worker import watch_parent

    # a spawn context made here: no process-wide start-method change; workers exit
    # when this process dies (even by SIGKILL)
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))


def reps_table(reps: Any, plans: Sequence[Any]) -> str:
    """Every KPI and the main cost figures of each plan: mean ± half-width, CI bounds."""
    from ..analysis.kpis import KPI_LABELS

    rows = []
    for key, (label, fmt) in KPI_LABELS.items():
        if key not in reps.metrics:
            continue
        e = reps.estimate(key)
        f = "{:,.1f}" if fmt == "{:,.0f}" else fmt  # a mean of counts has decimals
        rows.append([label, _fmt_est(e, f), _fmt_num(e.low, f), _fmt_num(e.high, f)])
    for plan in plans:
        for field in REP_COST_FIELDS:
            key = f"{field}:{plan.name}"
            if key in reps.metrics:
                e = reps.estimate(key)
                text = ci(e.mean, e.half_width if e.n > 1 else None, plan.currency)
                places = len(text.split(" ")[0].partition(".")[2])
                rows.append([f"{plan.name} {field.replace('_', ' ')} ({plan.currency})",
                             text, money(e.low, plan.currency, places=places, missing="n/a"),
                             money(e.high, plan.currency, places=places, missing="n/a")])
    return format_table(rows, ["figure", "mean ± 95% CI", "low", "high"])


def _fmt_num(x: float, fmt: str) -> str:
    return fmt.format(x) if math.isfinite(x) else "n/a"


def _fmt_est(e: Any, fmt: str) -> str:
    if not math.isfinite(e.mean):
        return "n/a"
    if e.n < 2 or not math.isfinite(e.half_width):
        return fmt.format(e.mean)
    return f"{fmt.format(e.mean)} ± {fmt.format(e.half_width).lstrip('+')}"


def estimates_dict(reps: Any) -> dict[str, Any]:
    """replications.json: the seeds, and each column's mean and CI."""
    out: dict[str, Any] = {"seeds": reps.seeds, "level": reps.level, "estimates": {}}
    for m in reps.metrics:
        e = reps.estimate(m)
        out["estimates"][m] = {"mean": e.mean, "low": e.low, "high": e.high, "n": e.n}
    return out


def write_rows_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Tidy rows (one dict per replication) as CSV; columns in first-seen order."""
    import csv

    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    with atomic_write(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([safe_cell(k) for k in keys])
        for r in rows:  # names (variants, plans) never start a spreadsheet formula
            w.writerow(["" if r.get(k) is None else
                        (repr(r[k]) if isinstance(r[k], float) else safe_cell(r[k]))
                        for k in keys])


def run(args: argparse.Namespace) -> int:
    from ..model import run as simulate

    con = Console(args)
    scenario = load_from_args(args)
    check_count("--reps", args.reps)
    chunk_rows = getattr(args, "chunk_rows", None)
    if chunk_rows is not None and chunk_rows < 1:
        from ..errors import ScenarioError

        raise ScenarioError(f"--chunk-rows: must be >= 1 (got {chunk_rows})")
    plan_files = args.plans or list(scenario.plans)
    plans: list[Any] = []
    if plan_files:  # the rater is imported only when there is something to rate
        from ..costing import load_plan_files

        plans = load_plan_files(plan_files)
    cdr_format = getattr(args, "cdr_format", "csv")
    check_cdr_format(cdr_format, args.report)
    out = args.out or default_out(scenario)
    from ..output import check_writable

    check_writable(out, args.force)  # fail before simulating, not after (also runs/NNN)

    bar = ProgressBar(f"simulating {scenario.name}", 1.0,
                      enabled=False if con.quiet else None)
    if chunk_rows is None:
        result = simulate(scenario, seed=args.seed, progress=bar.update)
        bar.close()
    # The big files are written by threads (numpy formatting releases the GIL) while
    # the tables below are computed and printed.
    with output_dir(out, force=args.force) as tmp, Writers() as writing:
        streamed_rating = None
        if chunk_rows is None:
            start_writes(writing, tmp, result, asterisk=args.asterisk, cdr_format=cdr_format)
        else:  # the CDRs and charges are written as the run goes
            from ._stream import stream_run

            try:
                result, streamed_rating, names = stream_run(
                    tmp, scenario, args.seed, plans, chunk_rows, cdr_format=cdr_format,
                    asterisk=args.asterisk, progress=bar.update)
            finally:
                bar.close()
            writing.names[:0] = [n for n in names if n != "Master.csv"]
            if args.asterisk:
                writing.names.append("Master.csv")
        con.table(f"{scenario.name}: {scenario.agents.count} agents, "
                  f"{scenario.list.size:,} leads, {scenario.dialer.mode} dialing, "
                  f"seed {args.seed}")
        con.table(kpi_table(result.kpis))
        con.table()
        con.table(dialer_table(result.dialer))
        for line in suspension_lines(result.pacer):
            con.table(line)
        con.table()
        con.table(compliance_table(result.compliance))

        rating = None
        if plans:
            from ..billing import format_comparison
            from ..costing import rate_run

            rating = streamed_rating or rate_run(scenario, result.cdrs, result.agents, plans)
            con.table()
            con.table(format_comparison(rating))

        reps = None
        if args.reps > 1:
            from ..experiment import replicate

            step, done = replication_progress(f"replicating {scenario.name}", args.reps,
                                              quiet=con.quiet)
            executor = _executor(args.workers)
            try:
                reps = replicate(scenario, args.reps, seed=args.seed, plans=plans,
                                 executor=executor, progress=step)
            finally:
                done()
                if executor is not None:
                    executor.shutdown()
            con.table(f"\n{args.reps} replications (seeds {args.seed}.."
                      f"{args.seed + args.reps - 1}), mean and 95% confidence interval:")
            con.table(reps_table(reps, plans))

        files = finish_run(tmp, result, rating, plan_files, writing)
        if reps is not None:
            from ..tidy import write_long_csv

            write_rows_csv(reps.rows, tmp / "replications.csv")
            write_long_csv(reps.rows, ["seed"], tmp / "replications_long.csv")
            write_json(tmp / "replications.json", estimates_dict(reps))
            files += ["replications.csv", "replications_long.csv", "replications.json"]
        if args.report:
            from ..report import write_report

            write_report(tmp, name=Path(out).name)
            files.append("report.html")
    for note in run_notes(result):
        con.note(note)
    con.note(f"wrote {out}/ ({', '.join(files)})")
    if con.json:
        data = summary(result, rating, list(plan_files))
        data["out"] = str(out)
        data["files"] = files
        if reps is not None:
            data["replications"] = estimates_dict(reps)
        con.emit(data)
    return 0


def run_notes(result: Any) -> list[str]:
    """Warnings about a run worth a line on stderr (e.g. the list ran out early)."""
    return [f"warning: {note}" for note in result.notes]


def save_run(folder: Path, result: Any, rating: Any, plan_files: Sequence[Path], *,
             asterisk: bool = False) -> list[str]:
    """Write one run's files into ``folder``; return the names written.

    cdrs.csv (with its sidecar cdrs.meta.json), agents.csv, summary.json, the plan files
    under ``plans/`` (so the folder can be re-rated and reported on anywhere), costs.csv
    and charges.csv when rated,
    timeline.csv when the dialer recorded one, Master.csv with ``asterisk``.
    """
    with Writers() as writing:
        start_writes(writing, folder, result, asterisk=asterisk)
        return finish_run(folder, result, rating, plan_files, writing)


class Writers:
    """Files written on threads while the caller goes on.

    :meth:`wait` joins them and raises the first error one of them raised; leaving the
    ``with`` block joins them whatever happens, so that no thread writes into a folder
    that is being removed. Plain threads: ``concurrent.futures`` (with the logging it
    imports) would add ~8 ms to every start-up.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def submit(self, name: str, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        def work() -> None:
            try:
                fn(*args, **kwargs)
            except BaseException as exc:  # re-raised in the caller by wait()
                self._errors.append(exc)

        thread = threading.Thread(target=work, name=f"dialsim: writing {name}", daemon=True)
        thread.start()
        self.names.append(name)
        self._threads.append(thread)

    def wait(self) -> None:
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> Writers:
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join()


def check_cdr_format(cdr_format: str, report: bool) -> None:
    """Refuse, before simulating, a ``--cdr-format`` that cannot be honoured."""
    from ..errors import SimError

    if cdr_format != "csv" and report:
        raise SimError(f"--report reads cdrs.csv and agents.csv: it needs --cdr-format csv "
                       f"(got --cdr-format {cdr_format})")
    if cdr_format == "parquet":
        from ..cdrio._parquet import _pyarrow

        _pyarrow()  # a clear error naming the extra, before the work


def start_writes(writing: Writers, folder: Path, result: Any, *,
                 asterisk: bool = False, cdr_format: str = "csv") -> None:
    """Start writing the run's large files (CDRs, agent log) on threads, as CSV,
    Parquet or (``cdr_format="none"``) not at all (a streaming run writes them as it
    goes: :mod:`._stream`)."""
    from ..cdrio import write_cdrs

    if cdr_format == "parquet":
        from ..cdrio._parquet import write_agent_parquet

        writing.submit("cdrs.parquet", write_cdrs, result.cdrs, folder / "cdrs.parquet",
                       format="parquet")
        writing.submit("agents.parquet", write_agent_parquet, result.agents,
                       folder / "agents.parquet")
    elif cdr_format == "csv":
        writing.submit("cdrs.csv", write_cdrs, result.cdrs, folder / "cdrs.csv")
        writing.names.append("cdrs.meta.json")  # the sidecar, written with cdrs.csv
        writing.submit("agents.csv", write_agent_log, result.agents, folder / "agents.csv",
                       epoch=result.cdrs.epoch, tz=result.cdrs.tz)
    if asterisk:
        writing.submit("Master.csv", write_cdrs, result.cdrs, folder / "Master.csv",
                       format="asterisk")


def finish_run(folder: Path, result: Any, rating: Any, plan_files: Sequence[Path],
               writing: Writers) -> list[str]:
    """Write the rest of a run's files and wait for :func:`start_writes`' threads."""
    files = [*writing.names, "summary.json"]
    if rating is not None:
        from ..billing import ChunkedRating, write_costs
        from ..billing.costs import write_costs_table

        if isinstance(rating, ChunkedRating):  # streamed: charges.csv is written
            write_costs_table(rating, folder)
        else:
            write_costs(rating, folder)
        files += ["costs.csv", "charges.csv"]
    copied = []
    for i, p in enumerate(plan_files):
        (folder / "plans").mkdir(exist_ok=True)
        name = f"{i:02d}-{Path(p).name}"
        shutil.copyfile(p, folder / "plans" / name)
        copied.append(f"plans/{name}")
    timeline = getattr(result, "timeline", None)
    if timeline:
        # on a writer thread: its ISO stamps need the zone's offsets (~10-30 ms)
        writing.submit("timeline.csv", write_timeline, timeline, folder / "timeline.csv",
                       epoch=result.cdrs.epoch, tz=result.cdrs.tz)
        files.append("timeline.csv")
    data = summary(result, rating, list(plan_files))
    data["plans_copies"] = copied
    write_json(folder / "summary.json", data)
    writing.wait()  # raises what a writer raised
    return files


def _plain(item: Any) -> Any:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return dict(item) if isinstance(item, Mapping) else item


def summary(result: Any, rating: Any, plan_files: list[Path]) -> dict[str, Any]:
    """What summary.json records: enough to know exactly what ran and what it gave."""
    scenario = result.scenario
    out: dict[str, Any] = {
        "dialsim_version": __version__,
        "python": sys.version.split()[0],
        "scenario": {"name": scenario.name, "source": scenario.source, "values": scenario.raw},
        "seed": result.seed,
        "kpis": result.kpis,
        "lead_status": result.lead_status,
        "dialer": result.dialer,
        "plans_files": [str(p) for p in plan_files],
    }
    compliance = getattr(result, "compliance", None)
    if compliance is not None:  # list of rule results: rule, measure, value, limit, passed, ...
        out["compliance"] = [_plain(c) for c in compliance]
    if rating is not None:
        out["costs"] = rating.rows()
        out["campaign"] = {"seats": rating.campaign.seats, "channels": rating.campaign.channels,
                           "numbers": rating.campaign.numbers, "days": rating.campaign.days,
                           "labour": rating.campaign.labour}
        if rating.traffic():  # each traffic term: line, metric per window, fired, cost
            out["traffic_terms"] = rating.traffic()
        if rating.periods():  # billing periods: bundle, volume tiers, minimum top-up
            out["periods"] = rating.periods()
    return out


def write_timeline(timeline: Mapping[str, Any], path: Path, *,
                   epoch: str = "1970-01-01T00:00:00", tz: str = "UTC") -> None:
    """timeline.csv: ``time`` (bin start, ISO 8601 with offset), the pooled dialer's
    ``t`` (s from the epoch) and every other series of the same length."""
    import numpy as np

    t = np.asarray(timeline["t"], dtype=float)
    cols = {"t": t}
    for k, v in timeline.items():
        arr = np.asarray(v)
        if k != "t" and arr.ndim == 1 and arr.size == t.size and arr.dtype.kind in "biuf":
            cols[k] = arr.astype(float)
    stamps = [bytes(r).rstrip(b"\0").decode("ascii") for r in iso_times(t, epoch, tz)]
    with atomic_write(path) as fh:
        fh.write(",".join(["time", *cols]) + "\n")
        for stamp, row in zip(stamps, zip(*(c.tolist() for c in cols.values()), strict=True),
                              strict=True):
            fh.write(",".join([stamp, *(repr(x) for x in row)]) + "\n")
