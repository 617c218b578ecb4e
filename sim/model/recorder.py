"""Recording a run: the few facts only the event loop knows, turned into CDRs afterwards.

The loop appends, per call, the lead, attempt, agent, four times, the talk and wrap
durations and one integer "fate" code (what happened, plus the packed script outcome
for connected people) to compact ``array`` columns. Everything derivable —
disposition, who answered, abandonment, who hung up, result, stage, billsec — is
computed afterwards in one numpy pass (:meth:`Recorder.cdrs`). The agent state log is
derived the same way from the calls and the agents' logged-in sessions.
"""

from __future__ import annotations

import datetime as dt
from array import array

import numpy as np

from ..agentlog import AgentLog
from ..cdr import CDRTable, empty_columns, encode, open_categories
from ..scenario import Scenario
from . import customers as cu
from .fates import FATE_SHIFT, FATES, F, decode_script

__all__ = ["Recorder", "agent_log"]

_ANSWERED_FATES = [F[n] for n in FATES if n not in ("failed", "invalid", "busy", "no_answer",
                                                     "blocked")]
_PERSON_FATES = [F[n] for n in ("person", "abandoned_dialer", "abandoned_customer",
                                "amd_false_positive", "robot", "robot_transfer",
                                "robot_transfer_lost")]
_MACHINE_FATES = [F[n] for n in ("machine_connected", "machine_amd", "machine_dropped")]
_SCRIPT_FATES = [F[n] for n in ("person", "robot", "robot_transfer", "robot_transfer_lost")]
_HANDED_OVER = [F["robot_transfer"], F["robot_transfer_lost"]]


def _lut(size: int, mapping: dict[int, int], default: int) -> np.ndarray:
    lut = np.full(size, default, dtype=np.int64)
    for k, v in mapping.items():
        lut[k] = v
    return lut


class Recorder:
    """Columnar call log appended to by the event loop."""

    def __init__(self) -> None:
        self.lead = array("q")
        self.attempt = array("i")
        self.agent = array("i")
        self.start = array("d")
        self.connect = array("d")
        self.end = array("d")
        self.code = array("d")  # fate codes, kept as the floats the draws hold them in
        # preview intervals of agents (preview mode)
        self.p_agent = array("i")
        self.p_start = array("d")
        self.p_end = array("d")
        # logged-in sessions of agents
        self.s_agent = array("i")
        self.s_start = array("d")
        self.s_end = array("d")
        self.blocked = 0

    def session(self, agent: int, start: float, end: float) -> None:
        if end > start:
            self.s_agent.append(agent)
            self.s_start.append(start)
            self.s_end.append(end)

    def previews(self, agent: int, start: float, end: float) -> None:
        self.p_agent.append(agent)
        self.p_start.append(start)
        self.p_end.append(end)

    def __len__(self) -> int:
        return len(self.lead)

    # -- derivation -----------------------------------------------------------------------
    def cdrs(self, scenario: Scenario, traits_segment: np.ndarray, draws: cu.Draws,
             robot: bool) -> CDRTable:
        """The CDR table of the run, sorted by dial time.

        Ring, conversation and wrap-up times are looked up again in the customers'
        draws (the loop did not need to store them); talk time = wait + conversation
        for connected calls, answer → hang-up otherwise.
        """
        n = len(self.lead)
        cols = empty_columns(n)
        v = {k: _np(getattr(self, k), t)
             for k, t in (("lead", np.int64), ("attempt", np.int32), ("agent", np.int32),
                          ("start", np.float64), ("code", np.float64))}
        v["code"] = code = v["code"].astype(np.int64)
        fate = code % FATE_SHIFT
        answered = np.isin(fate, _ANSWERED_FATES)
        if len(self.end) == n:  # pooled dialing: the loop knew connect and end
            got = draws.gather([cu.RING, cu.CONV, cu.WRAP], v["attempt"], v["lead"])
            v["connect"] = _np(self.connect, np.float64)
            v["end"] = _np(self.end, np.float64)
        else:  # agent-owned dialing: they follow from the dial time and the draws
            got = draws.gather([cu.RING, cu.CONV, cu.WRAP, cu.A_CONNECT, cu.A_END, cu.U_END],
                               v["attempt"], v["lead"])
            v["connect"] = np.where((v["agent"] >= 0), v["start"] + got[:, 3], np.nan)
            v["end"] = v["start"] + np.where(answered, got[:, 4], got[:, 5])
        order = np.argsort(v["start"], kind="stable")  # by dial time
        v = {k: a[order] for k, a in v.items()}
        got = got[order]
        code = code[order]
        fate = fate[order]
        answered = answered[order]
        result, hangup, stage = decode_script(code // FATE_SHIFT)
        ring, conv, wrap = got[:, 0], got[:, 1], got[:, 2]
        connected = ~np.isnan(v["connect"])
        answer = np.where(answered, v["start"] + ring, np.nan)
        v["answer"] = answer
        # wait + conversation (exact when the wait is 0); a robot call handed over to an
        # agent was bridged twice, so there it is simply answer → hang-up
        v["talk"] = np.where(connected & ~np.isin(fate, _HANDED_OVER),
                             (v["connect"] - answer) + conv, v["end"] - answer)
        v["wrap"] = np.where(connected & (v["agent"] >= 0) & (fate != F["robot"]), wrap, 0.0)

        cols["lead_id"] = v["lead"]
        cols["attempt"] = v["attempt"]
        cols["agent_id"] = v["agent"]
        cols["start"] = v["start"]
        cols["answer"] = np.where(answered, v["answer"], np.nan)
        cols["connect"] = v["connect"]
        cols["end"] = v["end"]
        cols["talk_s"] = np.where(answered, v["talk"], 0.0)
        cols["ring_s"] = np.where(answered, v["answer"] - v["start"], v["end"] - v["start"])
        cols["wait_s"] = np.where(
            answered, np.where(np.isnan(v["connect"]), v["end"], v["connect"]) - v["answer"], 0.0)
        cols["wrap_s"] = v["wrap"]
        cols["billsec"] = np.ceil(cols["talk_s"]).astype(np.int64)

        disp = _lut(len(FATES), {F["failed"]: encode("disposition", "FAILED"),
                                 F["invalid"]: encode("disposition", "FAILED"),
                                 F["busy"]: encode("disposition", "BUSY"),
                                 F["no_answer"]: encode("disposition", "NO ANSWER")},
                    encode("disposition", "ANSWERED"))
        cols["disposition"] = disp[fate].astype(np.int8)
        who = _lut(len(FATES), {**{f: encode("answered_by", "person") for f in _PERSON_FATES},
                                **{f: encode("answered_by", "machine") for f in _MACHINE_FATES}},
                   encode("answered_by", "none"))
        cols["answered_by"] = who[fate].astype(np.int8)
        if scenario.dialer.amd.enabled:
            amd = np.where(answered, encode("amd", "person"), encode("amd", "none"))
            amd[np.isin(fate, [F["machine_amd"], F["amd_false_positive"]])] = encode("amd",
                                                                                     "machine")
            cols["amd"] = amd.astype(np.int8)
        cols["abandoned"] = np.isin(fate, [F["abandoned_dialer"], F["abandoned_customer"],
                                           F["amd_false_positive"]])
        agent_side = encode("hangup_by", "robot" if robot else "agent")
        hang = _lut(len(FATES), {F["failed"]: encode("hangup_by", "network"),
                                 F["invalid"]: encode("hangup_by", "network"),
                                 F["busy"]: encode("hangup_by", "network"),
                                 F["no_answer"]: encode("hangup_by", "dialer"),
                                 F["machine_connected"]: agent_side,
                                 F["machine_amd"]: encode("hangup_by", "dialer"),
                                 F["machine_dropped"]: encode("hangup_by", "dialer"),
                                 F["abandoned_dialer"]: encode("hangup_by", "dialer"),
                                 F["abandoned_customer"]: encode("hangup_by", "customer"),
                                 F["amd_false_positive"]: encode("hangup_by", "dialer")},
                    encode("hangup_by", "none"))
        hangup_col = hang[fate]
        scripted = np.isin(fate, _SCRIPT_FATES)
        agent_code = encode("hangup_by", "agent")
        script_hang = np.where((hangup == agent_code) & (fate == F["robot"]),
                               encode("hangup_by", "robot"), hangup)
        cols["hangup_by"] = np.where(scripted, script_hang, hangup_col).astype(np.int8)
        cols["result"] = np.where(scripted, result, encode("result", "none")).astype(np.int8)
        cols["stage"] = np.where(scripted, stage + 1, 0).astype(np.int16)

        segs = scenario.list.segments
        seg = traits_segment[v["lead"]] if n else np.zeros(0, dtype=np.int64)
        types = list(dict.fromkeys(s.number_type for s in segs))
        prefixes = list(dict.fromkeys(s.prefix for s in segs if s.prefix))
        cats = open_categories(stage=[st.name for st in scenario.script.stages],
                               number_type=types, destination=prefixes,
                               segment=[s.name for s in segs])
        type_code = np.array([cats["number_type"].index(s.number_type) for s in segs])
        dest_code = np.array([cats["destination"].index(s.prefix) for s in segs])
        seg_code = np.array([cats["segment"].index(s.name) for s in segs])
        cols["number_type"] = type_code[seg].astype(np.int16)
        cols["destination"] = dest_code[seg].astype(np.int32)
        cols["segment"] = seg_code[seg].astype(np.int16)
        epoch = dt.datetime.combine(scenario.campaign.start, dt.time()).isoformat()
        return CDRTable(cols, cats, epoch=epoch, tz=scenario.campaign.timezone,
                        meta={"scenario": scenario.name})

    def sessions(self) -> Intervals3:
        """Agents' logged-in sessions: (agent, start, end) arrays."""
        return (_np(self.s_agent, np.int32).copy(), _np(self.s_start, np.float64).copy(),
                _np(self.s_end, np.float64).copy())

    def preview_intervals(self) -> Intervals3:
        """Agents' preview intervals: (agent, start, end) arrays."""
        return (_np(self.p_agent, np.int32).copy(), _np(self.p_start, np.float64).copy(),
                _np(self.p_end, np.float64).copy())


Intervals3 = tuple[np.ndarray, np.ndarray, np.ndarray]


def agent_log(cdrs: CDRTable, sessions: Intervals3, previews: Intervals3) -> AgentLog:
    """Agent state intervals derived from the calls, previews and logged-in sessions."""
    agent = cdrs["agent_id"]
    connect = cdrs["connect"]
    end = cdrs["end"]
    wrap = cdrs["wrap_s"]
    busy = (agent >= 0) & ~np.isnan(connect)
    nb = int(busy.sum())
    pa, ps, pe = previews
    a = np.concatenate([agent[busy], agent[busy], pa])
    s = np.concatenate([connect[busy], end[busy], ps])
    e = np.concatenate([end[busy], end[busy] + wrap[busy], pe])
    k = np.concatenate([np.full(nb, 2), np.full(nb, 3), np.full(len(pa), 1)]).astype(np.int8)
    keep = e > s
    a, s, e, k = a[keep], s[keep], e[keep], k[keep]
    ia, is_, ie = _gaps(a, s, e, *sessions)
    a = np.concatenate([a, ia]).astype(np.int32)
    s = np.concatenate([s, is_])
    e = np.concatenate([e, ie])
    k = np.concatenate([k, np.zeros(len(ia), dtype=np.int8)])
    order = np.lexsort((s, a))
    return AgentLog(agent_id=a[order], state=k[order], start=s[order], end=e[order])


def _np(arr: array, dtype: type) -> np.ndarray:
    """A numpy view of an ``array`` column (a copy-free empty array when empty)."""
    return np.frombuffer(arr, dtype=dtype) if len(arr) else np.zeros(0, dtype=dtype)


def _gaps(a: np.ndarray, s: np.ndarray, e: np.ndarray, sa: np.ndarray, ss: np.ndarray,
          se: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Idle intervals: parts of sessions (sa, ss, se) not covered by work (a, s, e)."""
    # Merge work and session boundaries in one sort per agent: sessions contribute
    # a "+1 logged in" event, work a "+1 busy" event; idle is logged in and not busy.
    ev_agent = np.concatenate([sa, sa, a, a])
    ev_time = np.concatenate([ss, se, s, e])
    ev_login = np.concatenate([np.ones(len(sa)), -np.ones(len(sa)), np.zeros(2 * len(a))])
    ev_busy = np.concatenate([np.zeros(2 * len(sa)), np.ones(len(a)), -np.ones(len(a))])
    order = np.lexsort((ev_time, ev_agent))
    ev_agent, ev_time = ev_agent[order], ev_time[order]
    login = np.cumsum(ev_login[order])
    busy = np.cumsum(ev_busy[order])
    idle = (login > 0) & (busy <= 0)
    nxt_same = np.r_[ev_agent[1:] == ev_agent[:-1], False]
    t_next = np.r_[ev_time[1:], 0.0]
    keep = idle & nxt_same & (t_next > ev_time)
    return ev_agent[keep], ev_time[keep], t_next[keep]
