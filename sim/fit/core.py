"""``sim.fit``: from a CDR export to a scenario of the campaign that produced it.

The estimators (:mod:`.outcomes`, :mod:`.ring`, :mod:`.talk`, :mod:`.leads`) each
return :class:`~.estimate.Estimate` values; this module assembles them into a raw
scenario dict, validates it with the one scenario loader, renders the commented
TOML, and keeps everything for the twin check and the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cdr import CDRTable, encode
from ..scenario import Scenario, scenario_from_dict
from .data import Dials, prepare
from .estimate import Estimate, not_identified
from .leads import ListFit, fit_agents, fit_calendar, fit_list
from .machine import MachineSplit, fit_amd_latency, known_split, split_machines
from .outcomes import fit_outcomes, outcome_table
from .ring import RingFit, fit_ring, kaplan_meier
from .talk import TalkFit, fit_talk, law_table, script_of
from .writer import render_toml, supports, toml_value

if TYPE_CHECKING:
    from .check import Check

__all__ = ["Fit", "fit"]

MIN_ROWS = 30  # below this the fit says it rests on too few calls
_MACHINE = encode("answered_by", "machine")
_AMD_MACHINE = encode("amd", "machine")


def _r(x: float) -> float:
    return float(f"{x:.4g}")


@dataclass(slots=True, eq=False)
class Fit:
    """A fitted scenario and the evidence behind each of its values.

    Attributes
    ----------
    scenario
        The validated :class:`~sim.scenario.Scenario` (``dialsim run`` accepts its TOML).
    raw
        Its raw dict (what ``scenario.toml`` holds).
    estimates
        Every estimate by name (scenario keys and diagnostics), with CI, n and method.
    warnings
        What could not be estimated, and why.
    """

    scenario: Scenario
    raw: dict[str, Any]
    estimates: dict[str, Estimate]
    toml: str
    dials: Dials
    ring: RingFit
    talk: TalkFit
    lists: ListFit
    cdrs: CDRTable
    warnings: list[str] = field(default_factory=list)
    by_attempt: list[dict[str, float]] = field(default_factory=list)
    by_hour: list[dict[str, float]] = field(default_factory=list)

    def check(self, reps: int = 5, *, seed: int = 1, max_leads: int = 40_000,
              executor: Any = None) -> Check:
        """Re-simulate the fitted scenario ``reps`` times (CRN seeds) against the export."""
        from .check import twin_check

        return twin_check(self, reps=reps, seed=seed, max_leads=max_leads, executor=executor)

    def write(self, out: str | Path, *, force: bool = False, check: Check | None = None,
              html: bool = True) -> Path:
        """Write ``scenario.toml``, ``fit.json``, ``fit.html`` (and ``check.json``) to ``out``
        (a new folder; an existing one only with ``force``)."""
        from .report import write_outputs

        return write_outputs(self, Path(out), force=force, check=check, html=html)

    def to_pandas(self) -> Any:
        """The estimates as a pandas DataFrame, one row each (needs pandas)."""
        import pandas as pd

        rows = []
        for e in self.estimates.values():
            d = e.to_dict()
            d["value"] = d["value"] if isinstance(d["value"], int | float | str | bool) \
                else toml_value(d["value"]) if d["value"] is not None else None
            rows.append(d)
        return pd.DataFrame(rows)

    def to_json(self) -> dict[str, Any]:
        return {"estimates": [e.to_dict() for e in self.estimates.values()],
                "warnings": list(self.warnings), "by_attempt": self.by_attempt,
                "by_hour": self.by_hour, "scenario": self.raw}


def _give_up(d: Dials) -> Estimate | None:
    """The law of how long unanswered lines were let ring: KM of the no-answer durations,
    censored by the answers (an answered call was let ring at least its ring time)."""
    if d.fixed_timeout or not d.no_answer.any():
        return None
    cens = d.censor_s()
    ring = d.ring_s[d.answered]
    ring = ring[np.isfinite(ring)]
    t = np.concatenate([cens, ring])
    e = np.concatenate([np.ones(len(cens), dtype=bool), np.zeros(len(ring), dtype=bool)])
    km_t, km_s = kaplan_meier(t, e)
    cdf = 1 - km_s
    k = 40
    probs = (np.arange(k) + 0.5) / k * cdf[-1]
    vals = [_r(float(v)) for v in km_t[np.minimum(np.searchsorted(cdf, probs), len(km_t) - 1)]]
    weights = [1.0] * len(vals)
    rest = float(km_s[-1])
    if rest > 0.005:
        vals.append(_r(d.ring_timeout_s))
        weights.append(_r(rest / max(1 - rest, 1e-9) * k))
    return Estimate(name="dialer.give_up", value={"dist": "empirical", "values": vals,
                                                  "weights": weights},
                    n=len(t), method="Kaplan-Meier of no-answer durations, censored by "
                                     "answers; capped by the ring timeout")


def _script(tf: TalkFit, ests: dict[str, Estimate], talk: str,
            sources: dict[str, Estimate]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[script]`` table and keys pending the model-fidelity loader."""
    pending: dict[str, Any] = {}
    conv = ests["script.p_convert.calls"]
    if tf.best is None:
        med = float(np.median(tf.values)) if len(tf.values) else 30.0
        sources["script.stages[0].duration"] = not_identified(
            "script.stages[0].duration", med, ests["talk"].note if "talk" in ests
            else "no talk times")
        return {"name": "fitted", "p_convert": 0.0, "decline_exit": 0,
                "stages": [{"name": "conversation", "duration": _r(med)}]}, pending
    mu, sigma, w = tf.best.law()
    short = "talk.short_share" in ests
    w_long = 1 - float(w[0]) if short else 1.0
    p_conv = min(1.0, float(conv.value) / w_long) if conv.identified and w_long > 0 else 0.0
    sources["script.p_convert"] = Estimate(
        name="script.p_convert", value=p_conv, n=conv.n, identified=conv.identified,
        method="converted share of answered calls / share of conversations",
        note=conv.note)
    script = script_of(mu, sigma, w, p_conv)
    law = ests["talk.law"]
    sources["script.stages[1].duration"] = Estimate(
        name="script.stages[1].duration", value=None, n=law.n,
        method="conversation components of the talk mixture, less the opening (quantile match)")
    if short:
        sources["script.stages[0].duration"] = ests["talk.short_median_s"]
        sources["script.stages[0].p_decline"] = ests["talk.short_share"]
    sources["script.decline_exit"] = not_identified(
        "script.decline_exit", 0, "the short calls' whole length is the opening stage")
    if talk == "law":
        table = law_table(mu, sigma, w)
        if supports("script.talk", toml_value(table)):
            script = {"name": "fitted", "p_convert": _r(p_conv), "talk": table}
            sources["script.talk"] = law
        else:
            pending["script.talk"] = table
            sources["script.talk"] = law
    return script, pending


def fit(cdrs: CDRTable, *, lead_column: str | None = None, ring_timeout_s: float | None = None,
        agents: int | None = None, talk: str = "stages", name: str = "fitted",
        tz: str | None = None) -> Fit:
    """Fit a scenario of the campaign behind ``cdrs``.

    Parameters
    ----------
    cdrs
        The billable (outbound) legs of an export, e.g. ``sim.read_cdrs(path).cdrs``.
    lead_column
        CDR column identifying a lead (default: lead id, else the dialled number).
    ring_timeout_s
        The dialer's ring timeout (s); default: inferred from the no-answer durations.
    agents
        Number of agents (default: agent ids, else concurrency of answered calls).
    talk
        ``"stages"`` (an opening and a conversation stage, levers intact) or ``"law"``
        (``script.talk``, the fitted mixture itself).
    name
        The scenario's name.
    tz
        Time zone to write (default: the table's).

    Returns
    -------
    Fit
        ``.scenario``, ``.estimates``, ``.check(reps=...)``, ``.write(dir)``, ``.to_pandas()``.
    """
    if talk not in ("stages", "law"):
        raise ValueError(f"talk: must be 'stages' or 'law' (got {talk!r})")
    if len(cdrs) == 0:
        from ..errors import SimError

        raise SimError("fit: the CDR table is empty (no billable leg to fit)")
    d = prepare(cdrs, lead_column=lead_column, ring_timeout_s=ring_timeout_s)
    warnings: list[str] = []
    if d.n < MIN_ROWS:
        warnings.append(f"only {d.n} dials: every estimate rests on too few calls")
    ests: dict[str, Estimate] = {}
    ests.update(fit_outcomes(d))
    rf = fit_ring(d)
    ests.update(rf.estimates)
    p_machine = ests["customers.p_machine"]
    machines = p_machine.identified and float(p_machine.value) > 0
    who = d.answered_by[d.answered]
    people = who != _MACHINE if machines else np.ones(len(who), dtype=bool)
    # people's talk makes the script; machines' greetings are their own law
    tf = fit_talk(d.talk_bins(people), d.talk_values()[people])
    ests.update(tf.estimates)
    machine_talk: Any = 0
    if machines:
        mt = fit_talk(d.talk_bins(~people), d.talk_values()[~people], max_k=1)
        if mt.best is not None:
            mu, sigma, w = mt.best.law()
            machine_talk = law_table(mu, sigma, w)
            ests["customers.machine_talk"] = Estimate(
                name="customers.machine_talk", value=machine_talk, n=int((~people).sum()),
                method="lognormal MLE of machine-answered talk times")
    split = MachineSplit(False)
    tf_people = tf
    if machines and rf.best is not None:
        split = known_split(d, ~people, rf.best.p)
        ests.update(split.estimates)
    if not machines:
        split = _machine_split(d, tf, rf, ests)
        if split.admitted and split.people is not None:
            tf_people = split.people
            mu_m, s_m = split.talk_machine
            machine_talk = {"dist": "lognormal", "median": _r(math.exp(mu_m)), "sigma": _r(s_m)}
            ests["customers.machine_talk"] = Estimate(
                name="customers.machine_talk", value=machine_talk, n=split.estimates[
                    "machine.talk_median_s"].n, method="machine class of the joint (ring, "
                    "talk) mixture", note=split.estimates["customers.p_machine"].note)
        else:
            ests["customers.machine_talk"] = not_identified(
                "customers.machine_talk", 0, "no machine-answered calls told apart")
    ests["dialer.amd.latency"] = fit_amd_latency(d, _AMD_MACHINE)
    zone = tz or cdrs.tz
    cal = fit_calendar(d, zone)
    ests.update(cal)
    span_s = float(np.nanmax(d.end) - np.floor(np.nanmin(d.start) / 86_400) * 86_400)
    lf = fit_list(d, span_s, split.machine_calls if split.admitted else None)
    ests.update(lf.estimates)
    ests.update(fit_agents(d, agents))
    ests["customers.billsec"] = Estimate(
        name="customers.billsec", value=d.billsec_rule if d.billsec_rule != "unknown" else "ceil",
        n=int(d.answered.sum()), method="billsec compared with end - answer",
        identified=d.billsec_rule != "unknown", note=d.billsec_note)

    sources: dict[str, Estimate] = dict(ests)
    pending: dict[str, Any] = {}
    p_pick = ests["customers.p_pickup"]
    p_level = ests.get("customers.p_pickup.scenario", p_pick)
    sources["customers.p_pickup"] = p_pick if p_level is p_pick else Estimate(
        name="customers.p_pickup", value=p_level.value, low=p_level.low, high=p_level.high,
        n=p_level.n, method=p_level.method,
        note=f"pooled over attempts: {p_pick.value:.4g} ({p_pick.comment()})")
    machine_ring: Any = None
    if split.admitted and rf.best is not None:
        # the split's own censored p (people and machines pick up alike), on the level
        # of the attempt / hour multipliers fitted with the one ring law
        scale = split.p_pickup / rf.best.p
        lv = sources["customers.p_pickup"]
        sources["customers.p_pickup"] = Estimate(
            name="customers.p_pickup", value=float(lv.value) * scale, low=lv.low * scale,
            high=lv.high * scale, n=lv.n, method=lv.method + "; scaled to the machine "
            f"split's censored pick-up ({split.p_pickup:.4g} vs {rf.best.p:.4g})",
            note=lv.note)
        mu_p, s_p = split.ring_person
        mu_m, s_m = split.ring_machine
        ring = {"dist": "lognormal", "median": _r(math.exp(mu_p)), "sigma": _r(s_p)}
        machine_ring = {"dist": "lognormal", "median": _r(math.exp(mu_m)), "sigma": _r(s_m)}
        e_p, e_m = split.estimates["person.ring_median_s"], split.estimates[
            "machine.ring_median_s"]
        sources["customers.ring"] = Estimate(
            name="customers.ring", value=ring, low=e_p.low, high=e_p.high, n=e_p.n,
            method="person class ring law of the joint (ring, talk) mixture (CI: median)")
        sources["customers.machine_ring"] = Estimate(
            name="customers.machine_ring", value=machine_ring, low=e_m.low, high=e_m.high,
            n=e_m.n, method="machine class ring law of the joint (ring, talk) mixture "
                            "(CI: median)")
    elif "customers.ring" in ests:
        ring = ests["customers.ring"].value
    else:
        med = ests.get("naive.ring_median_s")
        ring = {"dist": "lognormal", "median": _r(med.value) if med else 10.0, "sigma": 0.5}
        sources["customers.ring"] = not_identified(
            "customers.ring", ring, "no censored fit possible: " + (p_pick.note or "no answers"))
    timeout = d.ring_timeout_s if math.isfinite(d.ring_timeout_s) else 30.0
    give_up = _give_up(d)
    if give_up is not None:
        ests["dialer.give_up"] = give_up
        sources["dialer.give_up"] = give_up
        if not supports("dialer.give_up", toml_value(give_up.value)):
            pending["dialer.give_up"] = give_up.value
            # Without the give-up law every unanswered line rings the whole timeout, and
            # more calls would be answered than in the export: an effective timeout makes
            # the answered share right until the model knows give_up.
            eff = _effective_timeout(d, rf)
            if eff is not None:
                sources["dialer.ring_timeout_s"] = Estimate(
                    name="dialer.ring_timeout_s", value=eff, n=d.n,
                    method="effective timeout: p F(T) = the answered share of ringing dials",
                    note=f"the export's lines rang up to {timeout:g} s; this model has no "
                         "dialer.give_up yet")
                warnings.append("dialer.give_up is not in this dialsim's scenario keys: an "
                                f"effective ring timeout of {eff:g} s is written instead")
                timeout = eff
    rule = ests["customers.billsec"].value
    if not supports("customers.billsec", toml_value(rule)):
        pending["customers.billsec"] = rule
        if rule != "ceil":
            warnings.append(f"the export's billsec is '{rule}' but this dialsim rounds up: "
                            "simulated billsec may be up to 1 s longer")
    by_attempt = rf.by_attempt or [1.0]
    by_hour = {str(h): v for h, v in rf.by_hour.items()}
    for key, empty in (("customers.pickup_by_attempt", [1.0]), ("customers.pickup_by_hour", {})):
        ests.setdefault(key, not_identified(key, empty, "no censored pick-up fit: "
                                            + (p_pick.note or "no answer times")))
        sources[key] = ests[key]
    script_ests = ests
    if tf_people is not tf:
        script_ests = {k: v for k, v in ests.items()
                       if k not in ("talk.short_share", "talk.short_median_s")}
        script_ests.update(tf_people.estimates)
    script, pend_script = _script(tf_people, script_ests, talk, sources)
    if "script.p_callback" in ests:
        script["p_callback"] = ests["script.p_callback"].value
    pending.update(pend_script)
    max_att = int(ests["list.max_attempts"].value)
    retry: dict[str, Any] = {}
    for out_name in ("busy", "no_answer", "failed", "machine", "callback"):
        key = f"list.retry.{out_name}_s"
        if key in ests:
            retry[f"{out_name}_s"] = ests[key].value
    ringing = bool(d.answered.any())
    p_mach = ests["customers.p_machine"]
    raw: dict[str, Any] = {
        "name": name,
        "description": f"fitted from {cdrs.meta.get('source', 'a CDR table')} "
                       f"({d.n:,} dials)",
        "currency": "CNY",
        "campaign": {k.split(".", 1)[1]: cal[k].value for k in
                     ("campaign.start", "campaign.days", "campaign.timezone",
                      "campaign.weekdays", "campaign.windows", "campaign.holidays")},
        "list": {"size": int(ests["list.size"].value), "max_attempts": max_att,
                 "max_per_24h": max(max_att, 1), "max_per_5min": max(max_att, 1),
                 "lockout_after_abandon_h": 0, "retry": retry},
        "customers": {
            "p_fail": _r(ests["customers.p_fail"].value),
            "p_busy": _r(ests["customers.p_busy"].value),
            "p_pickup": _r(min(float(sources["customers.p_pickup"].value), 1.0)) if ringing
            else 0.0,
            "p_machine": _r(float(p_mach.value)),
            "pickup_by_attempt": by_attempt,
            "pickup_by_hour": by_hour,
            "reachability": 1.0, "interest": 1.0,
            "ring": ring, "machine_ring": ring if machine_ring is None else machine_ring,
            "patience": 0,
            "machine_talk": machine_talk,
        },
        "agents": {"count": int(ests["agents.count"].value), "wrap": ests["agents.wrap"].value,
                   "preview": 0},
        "dialer": {"mode": ests["dialer.mode"].value, "ratio": ests["dialer.ratio"].value,
                   "ring_timeout_s": _r(timeout), "abandon_threshold_s": 2},
        "script": script,
    }
    if not by_hour:
        del raw["customers"]["pickup_by_hour"]
    if give_up is not None and "dialer.give_up" not in pending:
        raw["dialer"]["give_up"] = give_up.value
    if "customers.billsec" not in pending:
        raw["customers"]["billsec"] = rule
    sources["customers.reachability"] = not_identified(
        "customers.reachability", 1.0, "per-lead heterogeneity is in pickup_by_attempt")
    sources["customers.interest"] = not_identified("customers.interest", 1.0,
                                                   "no per-lead interest in CDRs")
    sources["customers.patience"] = not_identified(
        "customers.patience", 0, "abandoned calls cannot be told from CDR fields alone")
    if machine_ring is None:
        sources["customers.machine_ring"] = Estimate(
            name="customers.machine_ring", value=ring,
            method="same law as people (not told apart)")
    sources["list.max_per_24h"] = Estimate(name="list.max_per_24h", value=max_att,
                                           method="not binding: max attempts")
    sources["list.max_per_5min"] = sources["list.max_per_24h"]
    sources["list.lockout_after_abandon_h"] = not_identified(
        "list.lockout_after_abandon_h", 0, "abandoned calls are not identified")
    sources["agents.preview"] = not_identified("agents.preview", 0,
                                               "no preview time in CDRs")
    sources["currency"] = not_identified("currency", "CNY", "CDRs carry no currency")
    for k, v in sources.items():
        if not v.identified:
            ests.setdefault(k, v)
    for e in ests.values():
        if not e.identified and e.name in ("customers.p_pickup", "talk", "list.retry",
                                           "agents.count", "customers.pickup_by_attempt",
                                           "list.size"):
            warnings.append(f"{e.name}: not estimated: {e.note}")
    scenario = scenario_from_dict(raw, source=f"<fit of {cdrs.meta.get('source', 'CDRs')}>")
    header = [f"dialsim fit: a scenario of the campaign in {cdrs.meta.get('source', 'CDRs')}",
              f"{d.n:,} dials, {d.leads:,} leads, {int(d.answered.sum()):,} answered "
              f"({ests['share.answered'].value:.1%})",
              "Each value's comment: how it was estimated, sample size, 95 % CI.",
              "NOT IDENTIFIED marks a value the export cannot tell (an assumption: check it)."]
    header += [f"warning: {w}" for w in warnings]
    text = render_toml(raw, sources, header, pending)
    return Fit(scenario=scenario, raw=raw, estimates=ests, toml=text, dials=d, ring=rf,
               talk=tf, lists=lf, cdrs=cdrs, warnings=warnings,
               by_attempt=outcome_table(d, "attempt"), by_hour=outcome_table(d, "hour"))


def _machine_split(d: Dials, tf: TalkFit, rf: RingFit, ests: dict[str, Estimate]
                   ) -> MachineSplit:
    """Without ``answered_by``: the joint (ring, talk) split, its diagnostics into ``ests``
    and, when admitted, ``customers.p_machine``; else the default marked as such."""
    if rf.best is None:
        split = MachineSplit(False, note="no censored ring fit to build on")
    else:
        split = split_machines(d, tf, rf.best.p)
    ests.update(split.estimates)
    if not split.admitted:
        ests["customers.p_machine"] = not_identified(
            "customers.p_machine", 0.0,
            "machine share: not identifiable from this export, default 0 used (the export "
            f"does not say who answered and {split.note}; machine greetings stay in the "
            "talk mixture's short component)")
    return split


def _effective_timeout(d: Dials, rf: RingFit) -> float | None:
    """The timeout T with p F(T) equal to the answered share of ringing dials."""
    if rf.best is None:
        return None
    from ._mle import lognormal_mixture_cdf

    ans, na = int(d.answered.sum()), int(d.no_answer.sum())
    target = ans / max(ans + na, 1) / rf.best.p
    mu, sigma, w = rf.best.law()
    lo, hi = 0.1, max(d.ring_timeout_s, 1.0)
    if float(lognormal_mixture_cdf(hi, mu, sigma, w)) <= target:
        return _r(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(lognormal_mixture_cdf(mid, mu, sigma, w)) < target:
            lo = mid
        else:
            hi = mid
    return _r((lo + hi) / 2)


def as_sources(m: Mapping[str, Estimate]) -> dict[str, Any]:
    return {k: v.to_dict() for k, v in m.items()}
