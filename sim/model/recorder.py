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
import math
import zlib
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from ..agentlog import AgentLog
from ..cdr import COLUMNS, CDRTable, encode, open_categories
from ..scenario import Scenario
from . import customers as cu
from .fates import FATE_SHIFT, FATES, F, decode_script

__all__ = ["ANSWERED_FROM", "Recorder", "agent_log", "billsec_of", "billsec_one", "lead_numbers",
           "run_categories"]

_ANSWERED_FATES = [F[n] for n in FATES if n not in ("failed", "invalid", "busy", "no_answer",
                                                     "blocked")]
_PERSON_FATES = [F[n] for n in ("person", "abandoned_dialer", "abandoned_customer",
                                "amd_false_positive", "robot", "robot_transfer",
                                "robot_transfer_lost")]
_MACHINE_FATES = [F[n] for n in ("machine_connected", "machine_amd", "machine_dropped")]
_SCRIPT_FATES = [F[n] for n in ("person", "robot", "robot_transfer", "robot_transfer_lost")]
_HANDED_OVER = [F["robot_transfer"], F["robot_transfer_lost"]]


def billsec_of(talk: np.ndarray, method: str = "ceil") -> np.ndarray:
    """Whole billable seconds of talk times ``talk`` (s): ``method`` "ceil" (as carriers
    bill), "floor" (PBX exports that truncate) or "round" (half up). 0 stays 0."""
    if method == "floor":
        out = np.floor(talk)
    elif method == "round":
        out = np.floor(talk + 0.5)
    else:
        out = np.ceil(talk)
    return out.astype(np.int64)


#: Fates from this one on make an ANSWERED CDR (failed, invalid, busy and no answer
#: come first): what a dialer obeying traffic terms counts as answered.
ANSWERED_FROM = F["person"]
assert sorted(_ANSWERED_FATES) == list(range(ANSWERED_FROM, len(FATES)))


def billsec_one(talk: float, method: str = "ceil") -> int:
    """:func:`billsec_of` of one talk time (the same rounding, in Python floats)."""
    if method == "floor":
        return math.floor(talk)
    if method == "round":
        return math.floor(talk + 0.5)
    return math.ceil(talk)


def _lut(size: int, mapping: dict[int, int], default: int) -> np.ndarray:
    lut = np.full(size, default, dtype=np.int64)
    for k, v in mapping.items():
        lut[k] = v
    return lut


class Column:
    """One recorded column: a Python list the event loop appends to (the cheapest
    append there is), moved into numpy chunks every so often to bound memory."""

    __slots__ = ("buf", "chunks", "dtype", "taken")
    FLUSH = 1 << 16

    def __init__(self, dtype: type) -> None:
        self.buf: list[Any] = []
        self.chunks: list[np.ndarray] = []
        self.dtype = dtype
        self.taken = 0  # values moved out by Recorder.take (still counted by len)

    def flush(self) -> None:
        if self.buf:
            self.chunks.append(np.fromiter(self.buf, self.dtype, len(self.buf)))
            self.buf.clear()  # the same list: the loop's bound append stays valid

    def array(self) -> np.ndarray:
        self.flush()
        if not self.chunks:
            return np.zeros(0, dtype=self.dtype)
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0]

    def __len__(self) -> int:
        return self.taken + len(self.buf) + sum(map(len, self.chunks))


#: Subscriber digits of a synthetic number (after the segment's prefix), by number type.
NUMBER_DIGITS: dict[str, int] = {"landline": 7}
_DEFAULT_DIGITS = 8
#: Odd and not a multiple of 5: ``lead * _NUMBER_MULT mod 10**k`` is a bijection, so
#: distinct leads get distinct numbers (up to 10**k leads of a prefix and length).
_NUMBER_MULT = 61_803_399


#: The recorded columns besides ``start``.
_RECORDED = ("lead", "attempt", "agent", "connect", "end", "code")


def run_categories(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """The open categories of a run's CDRs but ``number`` (from the scenario alone)."""
    segs = scenario.list.segments
    types = list(dict.fromkeys(s.number_type for s in segs))
    prefixes = list(dict.fromkeys(s.prefix for s in segs if s.prefix))
    return open_categories(stage=[st.name for st in scenario.script.stages],
                           number_type=types, destination=prefixes,
                           segment=[s.name for s in segs])


def lead_numbers(lead: np.ndarray, seg: np.ndarray, segments: Any, seed: int
                 ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Synthetic dialled numbers of the rows' leads: codes (int32) and labels.

    A lead's number is its segment's prefix followed by digits (7 for a landline, 8
    for other number types) derived from the lead id and the seed: stable for a seed,
    the same on every attempt, distinct for distinct leads (the digits are a bijection
    of the lead id per prefix and length). Built once per distinct lead, in numpy,
    after the simulation (no sort when the rows cover much of the list: lead ids are
    list positions; a sort of the rows' leads for a chunk of a big list).

    Parameters
    ----------
    lead, seg
        Lead id (>= 0) and segment index of each row.
    segments
        The scenario's call-list segments (``prefix``, ``number_type``).
    seed
        Root seed of the run.
    """
    if len(lead) == 0:
        return np.zeros(0, dtype=np.int32), ("",)
    size = int(lead.max()) + 1
    if size <= 4 * len(lead):  # distinct leads in lead order, by marks (no sort)
        present = np.zeros(size, dtype=bool)
        present[lead] = True
        ids = np.flatnonzero(present)
        code_of = np.zeros(size, dtype=np.int32)
        code_of[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
        codes = code_of[lead]
        seg_of = np.zeros(size, dtype=np.int64)
        seg_of[lead] = seg
        lead_seg = seg_of[ids]
        del present, code_of, seg_of
    else:  # a chunk of a big list: sort the rows' leads (O(rows), not O(list size))
        ids, inverse = np.unique(lead, return_inverse=True)
        inverse = inverse.reshape(-1)
        codes = (inverse + 1).astype(np.int32)
        lead_seg = np.zeros(len(ids), dtype=np.int64)
        lead_seg[inverse] = seg
    width = np.array([NUMBER_DIGITS.get(s.number_type, _DEFAULT_DIGITS) for s in segments])
    mod = 10 ** width
    salt = np.array([zlib.crc32(f"{seed}:{s.prefix}:{w}".encode()) for s, w in
                     zip(segments, width.tolist(), strict=True)], dtype=np.int64)
    m = mod[lead_seg]
    digits = (ids % m * _NUMBER_MULT + salt[lead_seg] % m) % m
    return codes, ("", *_number_labels(digits, lead_seg, segments, width))


def _number_labels(digits: np.ndarray, seg: np.ndarray, segments: Any,
                   width: np.ndarray) -> list[str]:
    """``f"{prefix}{digits:0{width}d}"`` of each row's segment, built as ASCII bytes in
    numpy (a digit column per pass) and decoded in one go: about ten times faster than
    the f-strings (a million labels cost ~1 s that way)."""
    if not all(s.prefix.isascii() for s in segments):
        return [f"{segments[k].prefix}{d:0{w}d}" for k, d, w in  # non-ASCII prefix
                zip(seg.tolist(), digits.tolist(), width[seg].tolist(), strict=True)]
    prefixes = [s.prefix.encode("ascii") for s in segments]
    size = max(len(p) + int(w) for p, w in zip(prefixes, width.tolist(), strict=True))
    buf = np.zeros((len(digits), size), dtype=np.uint8)  # NUL-padded: dropped on decode
    for k, (p, w) in enumerate(zip(prefixes, width.tolist(), strict=True)):
        rows = np.flatnonzero(seg == k) if len(segments) > 1 else slice(None)
        if p:
            buf[rows, :len(p)] = np.frombuffer(p, dtype=np.uint8)
        d = digits[rows]
        for j in range(len(p) + w - 1, len(p) - 1, -1):
            buf[rows, j] = 48 + d % 10
            d = d // 10
    return buf.view(f"S{size}").ravel().astype(f"U{size}").tolist()


class Recorder:
    """Columnar call log appended to by the event loop."""

    def __init__(self) -> None:
        self.lead = Column(np.int64)
        self.attempt = Column(np.int32)
        self.agent = Column(np.int32)
        self.start = Column(np.float64)
        self.connect = Column(np.float64)  # pooled dialing only
        self.end = Column(np.float64)  # pooled dialing only
        self.code = Column(np.float64)  # fate codes, kept as the floats the draws hold them in
        #: Agent-owned dialing records no fate: the engine's ``pickup_mult(lead, start)``,
        #: with which :meth:`cdrs` works out from the draws which calls were picked up.
        self.pickup_mult: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
        # preview intervals of agents (preview mode)
        self.p_agent = array("i")
        self.p_start = array("d")
        self.p_end = array("d")
        # logged-in sessions of agents
        self.s_agent = array("i")
        self.s_start = array("d")
        self.s_end = array("d")
        #: Sessions open now: agent -> login time (what :meth:`session` will record as
        #: the start); a streaming agent log needs them (:mod:`.agentstream`).
        self.open_sessions: dict[int, float] = {}
        self.blocked = 0
        #: Robot calls handed to an agent: recorded row -> time the agent joined.
        self.handovers: dict[int, float] = {}
        #: When each CDR row's agent started on it (connect, or the hand-over), in CDR
        #: order; set by :meth:`cdrs`.
        self.agent_start = np.zeros(0)
        #: Recorded calls between two flushes (the event loops flush at this count).
        self.flush_at = Column.FLUSH
        #: Called after each flush (streaming runs emit the finished calls from it).
        self.on_flush: Callable[[], None] | None = None

    def login(self, agent: int, t: float) -> None:
        """Agent ``agent`` logged in at ``t`` (its session is recorded when it ends).

        Still on from its last session (pooled dialing: a call ran on past the shift's
        end into the next shift's start), that session ends here: the engine starts the
        new one now and would never record the old one, losing its logged-in time."""
        old = self.open_sessions.get(agent)
        if old is not None:
            self.session(agent, old, t)
        self.open_sessions[agent] = t

    def session(self, agent: int, start: float, end: float) -> None:
        self.open_sessions.pop(agent, None)
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

    def flush(self) -> None:
        """Move the calls buffered in Python lists into numpy chunks (and, in a
        streaming run, hand the finished ones on: :attr:`on_flush`)."""
        self._flush_columns()
        if self.on_flush is not None:
            self.on_flush()

    def _flush_columns(self) -> None:
        for col in (self.lead, self.attempt, self.agent, self.start, self.connect, self.end,
                    self.code):
            col.flush()

    # -- derivation -----------------------------------------------------------------------
    def cdrs(self, scenario: Scenario, traits_segment: np.ndarray, draws: cu.Draws,
             robot: bool) -> CDRTable:
        """The CDR table of the run, sorted by dial time.

        Ring, conversation and wrap-up times are looked up again in the customers'
        draws (the loop did not need to store them); talk time = wait + conversation
        for connected calls, answer → hang-up otherwise. Each column is built once, in
        its final order, and the draws are released as soon as they have been read —
        this is the memory peak of a run.
        """
        start = self.start.array()
        order = np.argsort(start, kind="stable")  # by dial time
        rows = {"start": start[order], "rec": order}
        del start
        for name in _RECORDED:
            col = getattr(self, name).array()
            rows[name] = col[order] if len(col) else col  # agent-owned: no connect, ...
        return self.derive(rows, scenario, traits_segment, draws, robot, release=True)

    def take(self) -> dict[str, np.ndarray]:
        """Move every call recorded so far out of the recorder, in record order, with
        its record number ``rec`` (streaming runs: :mod:`.stream`)."""
        self._flush_columns()
        rows: dict[str, np.ndarray] = {}
        for name in ("start", *_RECORDED):
            col = getattr(self, name)
            rows[name] = col.array()
            col.chunks = []
            col.taken += len(rows[name])
        n = len(rows["start"])
        rows["rec"] = np.arange(self.lead.taken - n, self.lead.taken, dtype=np.int64)
        return rows

    def derive(self, rows: dict[str, np.ndarray], scenario: Scenario,
               traits_segment: np.ndarray, draws: cu.Draws, robot: bool, *,
               call_id0: int = 0, release: bool = False, numbers: bool = True) -> CDRTable:
        """The CDRs of recorded calls ``rows`` (columns ``start``, ``lead``, ``attempt``,
        ``agent``, ``connect``, ``end``, ``code`` and record number ``rec``, already in
        dial order), numbered from ``call_id0``; sets :attr:`agent_start` to theirs.

        The same rows give the same CDRs whether they are the whole run or one chunk
        of it (a chunk's ``number`` vocabulary is its own; the labels are the same).
        ``release``: drop the cached draws once read (the whole run's last use).
        ``numbers=False``: leave ``number`` empty (codes 0, no labels) for a chunk no
        one reads the numbers of (a streaming run without sinks).
        """
        n = len(rows["start"])
        cols: dict[str, np.ndarray] = {
            "call_id": np.arange(call_id0, call_id0 + n, dtype=np.int64)}
        start = cols["start"] = rows.pop("start")
        lead = cols["lead_id"] = rows.pop("lead")
        attempt = cols["attempt"] = rows.pop("attempt")
        agent = cols["agent_id"] = rows.pop("agent")
        rec = rows.pop("rec")
        if self.pickup_mult is None:  # pooled dialing: the loop knew fate, connect, end
            code = rows.pop("code").astype(np.int64)
            fate = code % FATE_SHIFT
            answered = np.isin(fate, _ANSWERED_FATES)
            ring, conv, wrap = draws.columns([cu.RING, cu.CONV, cu.WRAP], attempt, lead)
            connect = rows.pop("connect")
            end = rows.pop("end")
        else:  # agent-owned dialing: all follow from the dial time and the draws
            score, a_code, u_code, ring, conv, wrap, connect, a_end, u_end = draws.columns(
                [cu.SCORE, cu.A_CODE, cu.U_CODE, cu.RING, cu.CONV, cu.WRAP, cu.A_CONNECT,
                 cu.A_END, cu.U_END], attempt, lead)
            # picked up: the loop's own test, at each dial's hour
            answered = score < self.pickup_mult(lead, start)
            del score
            code = np.where(answered, a_code, u_code).astype(np.int64)
            del a_code, u_code
            fate = code % FATE_SHIFT
            agent[~answered | np.isnan(connect)] = -1  # the agent talks to whoever answers
            connect += start
            connect[agent < 0] = np.nan
            end = np.where(answered, a_end, u_end)
            del a_end, u_end
            end += start
        rows.clear()
        if release:
            draws.release()
        cols["connect"], cols["end"] = connect, end
        self.agent_start = connect.copy()
        if self.handovers and n:
            self._handed_over(rec)
        del rec
        connected = ~np.isnan(connect)
        answer = cols["answer"] = np.where(answered, start + ring, np.nan)
        del ring
        # wait + conversation (exact when the wait is 0); a robot call handed over to an
        # agent (after a wait on hold) is simply answer → hang-up
        talk = np.where(connected & ~np.isin(fate, _HANDED_OVER), (connect - answer) + conv,
                        end - answer)
        del conv
        talk[~answered] = 0.0
        cols["talk_s"] = talk
        cols["ring_s"] = np.where(answered, answer, end) - start
        cols["wait_s"] = np.where(answered, np.where(connected, connect, end) - answer, 0.0)
        wrap[~(connected & (agent >= 0) & (fate != F["robot"]))] = 0.0
        cols["wrap_s"] = wrap
        cols["billsec"] = billsec_of(talk, scenario.customers.billsec)
        result, hangup, stage = decode_script(code // FATE_SHIFT)
        del code

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
        else:
            cols["amd"] = np.full(n, encode("amd", "none"), dtype=np.int8)
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
        seg = traits_segment[lead] if n else np.zeros(0, dtype=np.int64)
        cats = run_categories(scenario)
        type_code = np.array([cats["number_type"].index(s.number_type) for s in segs])
        dest_code = np.array([cats["destination"].index(s.prefix) for s in segs])
        seg_code = np.array([cats["segment"].index(s.name) for s in segs])
        cols["number_type"] = type_code[seg].astype(np.int16)
        cols["destination"] = dest_code[seg].astype(np.int32)
        cols["segment"] = seg_code[seg].astype(np.int16)
        epoch = dt.datetime.combine(scenario.campaign.start, dt.time()).isoformat()
        cols["direction"] = np.zeros(n, dtype=np.int8)  # dialsim dials out: all outbound
        if numbers:
            cols["number"], cats["number"] = lead_numbers(lead, seg, segs, draws.seed)
        else:
            cols["number"], cats["number"] = np.zeros(n, dtype=np.int32), ("",)
        cols = {c.name: cols[c.name] for c in COLUMNS}  # schema order
        return CDRTable(cols, cats, epoch=epoch, tz=scenario.campaign.timezone,
                        meta={"scenario": scenario.name})

    def _handed_over(self, rec: np.ndarray) -> None:
        """Robot calls handed to an agent among the rows of record numbers ``rec``:
        their agent started at the hand-over (the entries are used up)."""
        keys = np.fromiter(self.handovers, dtype=np.int64, count=len(self.handovers))
        srt = np.argsort(rec, kind="stable")
        pos = np.minimum(np.searchsorted(rec[srt], keys), len(rec) - 1)
        mine = rec[srt][pos] == keys
        for key, row in zip(keys[mine].tolist(), srt[pos[mine]].tolist(), strict=True):
            self.agent_start[row] = self.handovers.pop(key)

    def sessions(self) -> Intervals3:
        """Agents' logged-in sessions: (agent, start, end) arrays."""
        return (_np(self.s_agent, np.int32).copy(), _np(self.s_start, np.float64).copy(),
                _np(self.s_end, np.float64).copy())

    def preview_intervals(self) -> Intervals3:
        """Agents' preview intervals: (agent, start, end) arrays."""
        return (_np(self.p_agent, np.int32).copy(), _np(self.p_start, np.float64).copy(),
                _np(self.p_end, np.float64).copy())


    def intervals_since(self, mark: tuple[int, int] = (0, 0)
                        ) -> tuple[Intervals3, Intervals3, tuple[int, int]]:
        """The sessions and preview intervals recorded since ``mark`` (what a previous
        call returned; ``(0, 0)``: from the start) and the mark to pass next time."""
        s0, p0 = mark
        sessions = (_np(self.s_agent[s0:], np.int32), _np(self.s_start[s0:], np.float64),
                    _np(self.s_end[s0:], np.float64))
        previews = (_np(self.p_agent[p0:], np.int32), _np(self.p_start[p0:], np.float64),
                    _np(self.p_end[p0:], np.float64))
        return sessions, previews, (len(self.s_agent), len(self.p_agent))


Intervals3 = tuple[np.ndarray, np.ndarray, np.ndarray]


def agent_log(cdrs: CDRTable, sessions: Intervals3, previews: Intervals3,
              agent_start: np.ndarray | None = None) -> AgentLog:
    """Agent state intervals derived from the calls, previews and logged-in sessions.

    ``agent_start`` is when the agent started on each call (default: ``connect``; a
    robot call handed over to an agent starts later).
    """
    agent = cdrs["agent_id"]
    connect = cdrs["connect"] if agent_start is None else agent_start
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
    order = time_order(a, k, s, e)
    return AgentLog(agent_id=a[order], state=k[order], start=s[order], end=e[order])


def time_order(agent: np.ndarray, state: np.ndarray, start: np.ndarray,
               end: np.ndarray) -> np.ndarray:
    """Indices putting agent-log rows in their canonical order: by start, then agent,
    then state (then end: one agent's rows never share a start and a state, so this
    only makes the order total). A streaming run writes its rows in this order as they
    become final (:mod:`.agentstream`); rows of one agent are not adjacent."""
    return np.lexsort((end, state, agent, start))


def by_key_then_time(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Indices ordering rows by integer ``key`` (agent, lead), then time ``t``.

    The same order as ``np.lexsort((t, key))`` up to rows equal in both, three times
    faster: a quicksort of the times, then a stable sort of the keys (a radix sort
    when they fit 16 bits).
    """
    order = np.argsort(t)
    k = key[order]
    if len(k) and -32768 <= int(k.min()) and int(k.max()) < 32768:
        k = k.astype(np.int16)
    return order[np.argsort(k, kind="stable")]


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
    order = by_key_then_time(ev_agent, ev_time)
    ev_agent, ev_time = ev_agent[order], ev_time[order]
    login = np.cumsum(ev_login[order])
    busy = np.cumsum(ev_busy[order])
    idle = (login > 0) & (busy <= 0)
    nxt_same = np.r_[ev_agent[1:] == ev_agent[:-1], False]
    t_next = np.r_[ev_time[1:], 0.0]
    keep = idle & nxt_same & (t_next > ev_time)
    return ev_agent[keep], ev_time[keep], t_next[keep]
