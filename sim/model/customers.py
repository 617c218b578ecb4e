"""The people on the call list and how they react, drawn up front with common random numbers.

Who a lead *is* (segment, invalid number, do-not-call, latent reachability and
interest) is drawn once per lead. How the lead reacts to one attempt (busy? picks
up? after how long? how patient? how far through the script before hanging up,
declining or buying?) is drawn per (attempt number, block of leads) from streams keyed
by that pair and by the purpose of the draw — never by the order in which the dialer
happens to call. Two scenarios that differ only in dialer or script therefore face
the same customers, and a script variant with shorter stages maps the same uniform to
a shorter duration (inverse CDF), keeping the comparison paired.

Draws are made in numpy in blocks of ``BLOCK`` leads, one row per lead, which the event
loop reads back per call with ``struct`` (only the columns it needs). Every stream is
drawn for the whole block, so a lead's values never depend on the others; transforms
are applied only where they can matter (the script is played for the leads who can
answer at some hour).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cdr import encode
from ..distributions import Distribution
from ..rng import stream
from ..scenario import Scenario
from .fates import FATE_SHIFT, F, outcomes_of, script_code

__all__ = [
    "BLOCK",
    "Draws",
    "KIND_BUSY",
    "KIND_FAILED",
    "KIND_INVALID",
    "KIND_MACHINE",
    "KIND_PERSON",
    "LeadTraits",
    "lead_traits",
]

_SHIFT = 14
BLOCK = 1 << _SHIFT
_MASK = BLOCK - 1

# Row layout of a block of attempt draws. The first group is what the customer does;
# the A_/U_ group is precomputed for agent-owned dialing (offsets from the dial time
# if answered / not answered), so its event loop only adds and appends.
(KIND, SCORE, RING, PATIENCE, CONV, SCODE, AMD_LAT, AMD_MACHINE, WRAP, PREVIEW, U_RETRY,
 TRANSFER, A_CONNECT, A_END, A_FREE, A_CODE, U_END, U_CODE, A_OUT, U_OUT) = range(20)
NCOLS = 20
#: The columns agent-owned dialing keeps, in the order its loop unpacks them.
OWNED_LAYOUT: tuple[int, ...] = (SCORE, U_RETRY, PREVIEW, A_OUT, A_END, A_FREE, U_OUT, U_END,
                                 A_CODE, U_CODE, A_CONNECT, RING, CONV, WRAP)
#: How many of them (the first) the loop reads per dial; the rest serve the CDRs later.
OWNED_HOT = OWNED_LAYOUT.index(U_END) + 1

KIND_FAILED, KIND_BUSY, KIND_PERSON, KIND_MACHINE, KIND_INVALID = range(5)
# An unanswered attempt's fate and call-list outcome, by kind.
_U_CODE_OF_KIND = np.array([F["failed"], F["busy"], F["no_answer"], F["no_answer"],
                            F["invalid"]], dtype=float)
_U_OUT_OF_KIND = outcomes_of(_U_CODE_OF_KIND).astype(float)

# Purposes of customer draws: part of the stream key, never renumber.
_P_OUTCOME, _P_PICK, _P_WHO, _P_RING, _P_MRING, _P_SIGNAL, _P_PATIENCE, _P_AMD_LAT, \
    _P_AMD, _P_WRAP, _P_PREVIEW, _P_RETRY, _P_CONVERT, _P_CALLBACK, _P_EXIT, \
    _P_MTALK, _P_GIVE_UP, _P_TALK = range(18)
_P_STAGE = 100  # + 4 * stage + (0 duration, 1 hang-up, 2 hang-up point, 3 decline)

# Lead-trait purposes.
_L_SEGMENT, _L_INVALID, _L_DNC, _L_REACH, _L_INTEREST = range(5)

_HANGUP_CUSTOMER = encode("hangup_by", "customer")
_HANGUP_AGENT = encode("hangup_by", "agent")
_R_CONVERTED = encode("result", "converted")
_R_DECLINED = encode("result", "declined")
_R_HUNG_UP = encode("result", "hung_up")
_R_CALLBACK = encode("result", "callback")


@dataclass(frozen=True, slots=True)
class LeadTraits:
    """Per-lead attributes, arrays of length ``size``."""

    segment: np.ndarray  # int16 index into scenario.list.segments
    invalid: np.ndarray  # bool: the number does not exist (FAILED, never retried)
    dnc: np.ndarray  # bool: on a do-not-call list, never dialled
    reach: np.ndarray  # float64 pick-up multiplier (mean ~1)
    interest: np.ndarray  # float64 interest multiplier (mean ~1)


def _u(seed: int, n: int, *key: int) -> np.ndarray:
    """``n`` uniforms of the customer stream ``key`` (attempt, block, purpose)."""
    return stream(seed, "customers", *key).random(n)


def _d(dist: Distribution, seed: int, n: int, *key: int,
       keep: np.ndarray | None = None) -> np.ndarray:
    """``n`` values of ``dist`` from the customer stream ``key``.

    Each purpose has its own stream, so what one draw consumes never shifts another;
    within a family the values are monotone in the stream's numbers (common random
    numbers across variants that change a distribution's parameters). A constant
    needs no stream at all. ``keep``: only the values at those indices (see
    ``Distribution.draw``).
    """
    if dist.is_constant:
        return np.full(n if keep is None else len(keep), dist.mean)
    return dist.draw(stream(seed, "customers", *key), n, keep)


def _below(p: float | np.ndarray, seed: int, n: int, *key: int,
           keep: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli(p) per lead from stream ``key``; no stream is drawn where p is all 0 or 1.

    ``keep``: only for the leads at those indices (``p`` is then theirs).
    """
    m = n if keep is None else len(keep)
    if np.isscalar(p) or np.ndim(p) == 0:
        if p <= 0:
            return np.zeros(m, dtype=bool)
        if p >= 1:
            return np.ones(m, dtype=bool)
    elif not np.any(p > 0):
        return np.zeros(m, dtype=bool)
    u = _u(seed, n, *key)
    return (u if keep is None else u[keep]) < p


def lead_traits(scenario: Scenario, seed: int) -> LeadTraits:
    """Draw every lead's segment and latent traits (stream ``leads``)."""
    n = scenario.list.size
    segs = scenario.list.segments
    shares = np.array([s.share for s in segs], dtype=float)
    edges = np.cumsum(shares / shares.sum())
    edges[-1] = 1.0
    u_seg = stream(seed, "leads", _L_SEGMENT).random(n)
    segment = np.searchsorted(edges, u_seg, side="right").astype(np.int16)
    p_inv = np.array([s.p_invalid for s in segs])[segment]
    invalid = stream(seed, "leads", _L_INVALID).random(n) < p_inv
    dnc = stream(seed, "leads", _L_DNC).random(n) < scenario.list.p_dnc
    c = scenario.customers
    reach = c.reachability.draw(stream(seed, "leads", _L_REACH), n)
    interest = c.interest.draw(stream(seed, "leads", _L_INTEREST), n)
    return LeadTraits(segment=segment, invalid=invalid, dnc=dnc, reach=reach, interest=interest)


class Draws:
    """Customer reactions per (attempt, block of leads), drawn lazily as 2-D float arrays.

    Blocks are kept in a bounded LRU cache: a block that was evicted is drawn again,
    identically, from its stream key when needed, so memory stays bounded on huge lists.
    """

    def __init__(self, scenario: Scenario, seed: int, traits: LeadTraits,
                 max_blocks: int = 32, layout: tuple[int, ...] | None = None) -> None:
        self.scenario = scenario
        #: Columns kept per block (None: all NCOLS, in column-constant order).
        self.layout = layout
        self._pos = {c: i for i, c in enumerate(layout)} if layout else None
        self.seed = seed
        self.traits = traits
        self.max_blocks = max_blocks
        self._blocks: dict[tuple[int, int], np.ndarray] = {}
        self._last_attempt = self._last_b = -1  # the block the last row came from
        self._last_blk = np.empty((0, 0))
        width = len(layout) if layout else NCOLS
        self.row_bytes = 8 * width
        self.unpack_row = struct.Struct(f"={width}d").unpack_from
        c = scenario.customers
        self._seg_mult = np.array([s.pickup_multiplier for s in scenario.list.segments])
        self._by_attempt = c.pickup_by_attempt

    def block(self, attempt: int, b: int) -> np.ndarray:
        """The draws of attempt ``attempt`` for leads ``b*BLOCK ...`` (cached)."""
        key = (attempt, b)
        blk = self._blocks.pop(key, None)
        if blk is None:
            blk = self._draw(attempt, b)
            if len(self._blocks) >= self.max_blocks:
                del self._blocks[next(iter(self._blocks))]  # least recently used
        self._blocks[key] = blk
        return blk

    def row(self, attempt: int, lead: int) -> tuple[float, ...]:
        """The draws of one (attempt, lead) as Python floats (see the column constants).

        Read with ``struct`` straight from the block's buffer: about twice as fast as
        indexing the numpy array and calling ``tolist`` (this runs once per dial).
        """
        b = lead >> _SHIFT
        if attempt != self._last_attempt or b != self._last_b:
            self._last_blk = self.block(attempt, b)
            self._last_attempt, self._last_b = attempt, b
        return self.unpack_row(self._last_blk, (lead & _MASK) * self.row_bytes)  # type: ignore

    def columns(self, cols: list[int], attempt: np.ndarray,
                lead: np.ndarray) -> list[np.ndarray]:
        """Draw columns ``cols`` (constants of this module) for many (attempt, lead)
        pairs, in their order. Each block is fetched once for all the columns: a list
        longer than the block cache would otherwise draw every block again per column.
        """
        n = len(lead)
        pos = [self._pos[c] if self._pos is not None else c for c in cols]
        outs = [np.empty(n) for _ in cols]
        block = lead >> _SHIFT
        key = attempt.astype(np.int64) * (1 << 32) + block
        order = np.argsort(key, kind="stable")
        sk = key[order]
        del key
        bounds = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True]) if n else np.zeros(1, int)
        for i in range(len(bounds) - 1):
            idx = order[bounds[i]:bounds[i + 1]]
            blk = self.block(int(attempt[idx[0]]), int(block[idx[0]]))
            part = blk[lead[idx] & _MASK]  # the group's rows, every column
            for out, c in zip(outs, pos, strict=True):
                out[idx] = part[:, c]
        return outs

    def release(self) -> None:
        """Drop the cached blocks (they can be drawn again, identically, if needed)."""
        self._blocks.clear()
        self._last_attempt = self._last_b = -1
        self._last_blk = np.empty((0, 0))

    def _draw(self, attempt: int, b: int) -> np.ndarray:
        """One block of draws: a row per lead, the columns of ``layout`` (all if None).

        Columns are computed as 1-D arrays and written into the row-major block once.
        """
        sc = self.scenario
        c = sc.customers
        lo = b * BLOCK
        hi = min(lo + BLOCK, sc.list.size)
        n = hi - lo
        seed = self.seed
        key = (attempt, b)
        tr = self.traits
        col: dict[int, Any] = {}  # column -> array of n (or a scalar for the whole block)

        # Draws nothing in this run can use are skipped — their streams are separate, so
        # the other draws do not change (e.g. machine ring times when nobody has one).
        u = _u(seed, n, *key, _P_OUTCOME) if c.p_fail + c.p_busy > 0 else np.ones(n)
        who_machine = _below(c.p_machine, seed, n, *key, _P_WHO)
        kind = np.where(u < c.p_fail, KIND_FAILED,
                        np.where(u < c.p_fail + c.p_busy, KIND_BUSY,
                                 np.where(who_machine, KIND_MACHINE, KIND_PERSON)))
        kind[tr.invalid[lo:hi]] = KIND_INVALID
        col[KIND] = kind
        is_machine = kind == KIND_MACHINE
        person = kind == KIND_PERSON

        ring = _d(c.ring, seed, n, *key, _P_RING)
        if is_machine.any():
            ring = np.where(is_machine, _d(c.machine_ring, seed, n, *key, _P_MRING), ring)
        signalled = ~person & ~is_machine
        if signalled.any():
            u_sig = _u(seed, n, *key, _P_SIGNAL)
            ring = np.where(signalled, np.where(kind == KIND_BUSY, c.busy_time.ppf(u_sig),
                                                c.fail_time.ppf(u_sig)), ring)
        col[RING] = ring

        # Picks up iff u_pick < p * multipliers * hour multiplier, i.e. score < hour mult;
        # SCORE is inf where the attempt cannot be answered at all (the number fails, is
        # busy, or would pick up only after the ring timeout).
        by_attempt = self._by_attempt[min(attempt, len(self._by_attempt)) - 1]
        p = c.p_pickup * by_attempt * self._seg_mult[tr.segment[lo:hi]] * tr.reach[lo:hi]
        u_pick = _u(seed, n, *key, _P_PICK)
        # How long the line is let ring: the timeout, or the give-up law capped by it
        # (a stream of its own, keyed like every customer draw: paired across dialers).
        d = sc.dialer
        give_up = d.ring_timeout_s if d.give_up is None else np.minimum(
            _d(d.give_up, seed, n, *key, _P_GIVE_UP), d.ring_timeout_s)
        answerable = (person | is_machine) & (ring <= give_up) & (p > 0)
        with np.errstate(divide="ignore", over="ignore"):  # tiny p: never picks up
            score = np.where(answerable, u_pick / np.where(answerable, p, 1.0), np.inf)
        col[SCORE] = score
        owned = self.layout is not None  # agents dial their own lines: nobody waits
        col[PATIENCE] = np.inf if owned else _d(c.patience, seed, n, *key, _P_PATIENCE)

        # The script is played only for the people who can answer at some hour: no
        # other row's conversation is ever read.
        talks = np.flatnonzero(person & (score < max(c.pickup_by_hour)))
        conv = np.full(n, np.nan)
        scode = np.zeros(n)
        transfer = np.full(n, np.nan)
        conv[talks], scode[talks], transfer[talks] = self._script(
            seed, key, n, tr.interest[lo:hi], talks)
        if is_machine.any():
            machines = np.flatnonzero(is_machine)
            conv[machines] = _d(c.machine_talk, seed, n, *key, _P_MTALK, keep=machines)
            scode[machines] = script_code(0, _HANGUP_AGENT, -1)
        col[CONV], col[SCODE], col[TRANSFER] = conv, scode, transfer

        amd = sc.dialer.amd
        if amd.enabled:
            col[AMD_LAT] = _d(amd.latency, seed, n, *key, _P_AMD_LAT)
            u_amd = _u(seed, n, *key, _P_AMD)
            col[AMD_MACHINE] = np.where(is_machine, u_amd < amd.p_detect,
                                        u_amd < amd.p_false_positive)
        else:
            col[AMD_LAT] = col[AMD_MACHINE] = 0.0
        col[WRAP] = _d(sc.agents.wrap, seed, n, *key, _P_WRAP)
        col[PREVIEW] = _d(sc.agents.preview, seed, n, *key, _P_PREVIEW) \
            if sc.dialer.mode == "preview" else 0.0
        col[U_RETRY] = _u(seed, n, *key, _P_RETRY) if sc.list.max_attempts > 1 else 0.5
        self._owned(col, person, give_up)

        layout = self.layout if self.layout is not None else range(NCOLS)
        out = np.empty((n, len(layout)))
        for j, c_ in enumerate(layout):
            out[:, j] = col[c_]
        return out

    def _owned(self, col: dict[int, Any], person: np.ndarray, give_up: Any) -> None:
        """Fill the A_/U_ columns: the call's fate if answered / not answered.

        ``give_up``: how long each line is let ring unanswered (s; scalar or per row).
        """
        d = self.scenario.dialer
        kind, ring = col[KIND], col[RING]
        connect = ring + col[AMD_LAT] if d.amd.enabled else ring
        hung_up = col[AMD_MACHINE] > 0 if d.amd.enabled else np.zeros(len(ring), dtype=bool)
        col[A_CONNECT] = np.where(hung_up, np.nan, connect)
        end = np.where(hung_up, connect, connect + col[CONV])
        col[A_END] = end
        col[A_FREE] = np.where(hung_up, end, end + col[WRAP])
        a_code = np.where(person, F["person"] + FATE_SHIFT * col[SCODE], F["machine_connected"])
        if d.amd.enabled:
            a_code = np.where(hung_up, np.where(person, F["amd_false_positive"],
                                                F["machine_amd"]), a_code)
        col[A_CODE] = a_code
        no_answer = person | (kind == KIND_MACHINE)
        col[U_END] = np.where(no_answer, give_up, np.minimum(ring, d.ring_timeout_s))
        col[U_CODE] = _U_CODE_OF_KIND[kind]
        col[A_OUT] = outcomes_of(a_code)
        col[U_OUT] = _U_OUT_OF_KIND[kind]

    def _script(self, seed: int, key: tuple[int, int], n: int, interest: np.ndarray,
                rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play the script for the leads ``rows`` of a block: conversation length and end.

        Returns, for those rows, the talk time after connection (s), the packed
        (result, hang-up side, last stage) code, and the time into the call at which a
        robot would transfer the person (NaN when the call ends before the transfer
        stage). Every stream is drawn for the whole block (``n``), so a lead's values do
        not depend on which other leads are played.
        """
        script = self.scenario.script
        if script.talk is not None:
            return self._talk_law(seed, key, n, interest[rows], rows)
        m = len(rows)
        interest = interest[rows]
        t = np.zeros(m)
        alive = np.ones(m, dtype=bool)
        result = np.zeros(m, dtype=np.int64)
        hangup = np.full(m, _HANGUP_AGENT, dtype=np.int64)
        stage = np.full(m, -1, dtype=np.int64)
        transfer = np.full(m, np.nan)
        t_stage = self.scenario.dialer.robot_transfer_stage
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_interest = np.where(interest > 0, 1.0 / interest, np.inf)
        exit_s = _d(script.decline_exit, seed, n, *key, _P_EXIT, keep=rows)
        callback = _below(script.p_callback, seed, n, *key, _P_CALLBACK, keep=rows)
        for s, st in enumerate(script.stages):
            base = _P_STAGE + 4 * s
            if s == t_stage:
                transfer = np.where(alive, t, np.nan)
            dur = _d(st.duration, seed, n, *key, base, keep=rows)
            p_h = np.minimum(st.p_hangup * inv_interest, 1.0) if st.p_hangup > 0 else 0.0
            hang = alive & _below(p_h, seed, n, *key, base + 1, keep=rows)
            if hang.any():
                frac = _u(seed, n, *key, base + 2)[rows]
                t += np.where(hang, frac * dur, np.where(alive, dur, 0.0))
            else:
                t += np.where(alive, dur, 0.0)
            result[hang] = _R_HUNG_UP
            hangup[hang] = _HANGUP_CUSTOMER
            stage[alive] = s
            alive &= ~hang
            p_d = np.minimum(st.p_decline * inv_interest, 1.0) if st.p_decline > 0 else 0.0
            dec = alive & _below(p_d, seed, n, *key, base + 3, keep=rows)
            result[dec] = np.where(callback[dec], _R_CALLBACK, _R_DECLINED)
            t += np.where(dec, exit_s, 0.0)
            alive &= ~dec
        p_conv = np.minimum(script.p_convert * interest, 1.0) if script.p_convert > 0 else 0.0
        conv = alive & _below(p_conv, seed, n, *key, _P_CONVERT, keep=rows)
        result[conv] = _R_CONVERTED
        lost = alive & ~conv
        result[lost] = np.where(callback[lost], _R_CALLBACK, _R_DECLINED)
        t += np.where(lost, exit_s, 0.0)
        return t, script_code(result, hangup, stage), transfer

    def _talk_law(self, seed: int, key: tuple[int, int], n: int, interest: np.ndarray,
                  rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_script` when the script gives the talk-time law, not stages.

        The talk time is the law's inverse CDF at the lead's own uniform (stream
        ``_P_TALK``), so two variants of the law map each customer to the same
        quantile (paired). The call ends with the agent: converted with probability
        ``p_convert`` × interest, else declined (or a callback).
        """
        script = self.scenario.script
        assert script.talk is not None
        talk = script.talk.ppf(_u(seed, n, *key, _P_TALK)[rows])
        callback = _below(script.p_callback, seed, n, *key, _P_CALLBACK, keep=rows)
        p_conv = np.minimum(script.p_convert * interest, 1.0) if script.p_convert > 0 else 0.0
        conv = _below(p_conv, seed, n, *key, _P_CONVERT, keep=rows)
        result = np.where(conv, _R_CONVERTED, np.where(callback, _R_CALLBACK, _R_DECLINED))
        code = script_code(result, np.full(len(rows), _HANGUP_AGENT, dtype=np.int64),
                           np.full(len(rows), -1, dtype=np.int64))
        return talk, code, np.full(len(rows), np.nan)
