"""Which way each imported leg went, and which rows the user selected.

A PBX export mixes inbound legs (IVR, queues, ring-group legs), internal extension
calls and outbound legs; a carrier bills only the legs that leave through its trunk.
Every row gets a direction from what its format carries:

* an explicit label (Grandstream ``Log Userfield``: Inbound / Outbound / Internal, a
  mapped ``direction`` column);
* trunk columns (Grandstream ``Source/Destination Trunk Name``, PBX dumps' ``trunk``
  and ``did``): a leg to a trunk is outbound, a leg from a trunk or a DID inbound;
* Asterisk channels: ``SIP/301-0000004`` (a short number) is an extension,
  ``Local/...`` the dialplan's own plumbing, ``DAHDI/...`` or a named peer
  (``PJSIP/VIOrig-...``, ``SIP/trunk_1-...``) a trunk. A leg *from* a trunk is
  inbound (whatever it rang: extensions, a ring group, a queue) unless its context is
  a dialer's (``from-dialer``, ``outbound``, ``vicidial``: an originated call, whose
  A-leg is the trunk channel to the callee), a leg from an
  extension or a Local channel *to* a trunk is outbound, other legs from extensions or
  Local channels are internal (ring-group loser legs too), and so is a leg to a
  trunk whose ``dst`` is no network number (6+ digits) and that only rings short
  extensions on a peer PBX (``Dial(SIP/200@pbx2)``) or joins a conference
  (``ConfBridge``); ``dcontext`` and
  ``lastapp`` decide legs without channels (``from-pstn``, ``ext-did``, ``Queue``);
* FreeSWITCH: context ``public`` is inbound; a destination that is an application
  (``&park()``: originated by a dialer) or a full number is outbound, a short
  extension internal;
* dialsim's own exports (its userfield, context ``dialsim``, native files) are all
  outbound.

Rows that none of this decides are ``unknown``: the reader warns and prices them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..cdr import DIRECTIONS
from ..errors import CDRFormatError
from ._options import option

__all__ = ["DirectionRule", "Selection", "Where", "classify_asterisk", "parse_where"]

OUT, IN, INT, UNK = (DIRECTIONS.index(x) for x in ("outbound", "inbound", "internal",
                                                    "unknown"))
_NONE, _TRUNK, _EXT, _LOCAL = 0, 1, 2, 3
_MISSING = frozenset({"", "NULL", "null", "\\N", "None", "none", "N/A"})
_PSTN_TECH = frozenset({"DAHDI", "ZAP", "MISDN", "CAPI", "KHOMP", "SRX", "OOH323", "H323"})
_INBOUND_CONTEXTS = ("from-trunk", "from-pstn", "from-did", "ext-did", "from-external",
                     "pstn", "inbound", "incoming", "public", "did")
_OUTBOUND_CONTEXTS = ("outbound", "outgoing", "outrt", "to-pstn", "to-trunk", "dialout",
                      "dialer", "autodial", "campaign", "vicidial")
_INBOUND_APPS = frozenset({"queue", "voicemail", "background", "readexten", "playback",
                           "agi", "ivr", "vm", "read", "record", "meetme", "confbridge"})
#: Applications that bridge a trunk channel without dialling out through it.
_BRIDGE_APPS = frozenset({"confbridge", "meetme", "bridge", "pickup", "directedpickup",
                          "pickupchan", "chanspy", "bridgewait"})
_LABELS = {"outbound": OUT, "out": OUT, "outgoing": OUT, "o": OUT,
           "inbound": IN, "in": IN, "incoming": IN, "i": IN,
           "internal": INT, "local": INT, "extension": INT}

#: Roles a direction rule reads, and the header names (folded: no spaces, lower case)
#: that carry them in header CSVs.
ROLE_HEADERS: dict[str, tuple[str, ...]] = {
    "label": ("direction", "loguserfield", "calldirection"),
    "src_trunk": ("sourcetrunkname", "srctrunk", "sourcetrunk", "inboundtrunk"),
    "dst_trunk": ("destinationtrunkname", "dsttrunk", "destinationtrunk", "trunk",
                  "outboundtrunk"),
    "did": ("did", "inbounddid"),
    "channel": ("channel", "sourcechannel", "srcchannel"),
    "dstchannel": ("dstchannel", "dest.channel", "destchannel", "destinationchannel"),
    "dcontext": ("dcontext", "context"),
    "lastapp": ("lastapp", "lastapp.", "actiontype"),
    "lastdata": ("lastdata", "lastdate"),
    "dst": ("dst",),
    "userfield": ("userfield",),
}
#: Asterisk cdr_csv field index of each role.
ASTERISK_ROLES = {"dst": 2, "dcontext": 3, "channel": 5, "dstchannel": 6, "lastapp": 7,
                  "lastdata": 8, "userfield": 17}
#: FreeSWITCH example template: context and destination_number.
FREESWITCH_ROLES = {"fs_context": 3, "fs_destination": 2}


def _fold(name: str) -> str:
    return "".join(name.split()).casefold()


def header_roles(headers: Sequence[str]) -> dict[str, int]:
    """Role -> field index for the headers of a CSV (first header that fits)."""
    folded = [_fold(h) for h in headers]
    roles: dict[str, int] = {}
    for role, names in ROLE_HEADERS.items():
        for name in names:
            if name in folded:
                roles[role] = folded.index(name)
                break
    return roles


def _clean(text: str) -> str:
    text = text.strip()
    return "" if text in _MISSING else text


@lru_cache(maxsize=65536)
def channel_kind(channel: str) -> int:
    """Kind of an Asterisk channel name: none, trunk, extension or Local."""
    ch = _clean(channel)
    if not ch:
        return _NONE
    tech, sep, rest = ch.partition("/")
    if not sep:
        return _NONE
    tech = tech.upper()
    if tech == "LOCAL":
        return _LOCAL
    if tech in _PSTN_TECH:
        return _TRUNK
    peer = rest.rsplit("-", 1)[0] if "-" in rest else rest
    peer = peer.split("@", 1)[0]
    if peer.isdigit() and len(peer) <= 5:
        return _EXT  # SIP/301, PJSIP/3318: an extension's device
    return _TRUNK if peer else _NONE  # a named peer (PJSIP/VIOrig) or a long number


def _has(text: str, needles: Sequence[str]) -> bool:
    t = text.casefold()
    return any(n in t for n in needles)


def _dials_extensions(lastdata: str) -> bool:
    """The Dial string rings only short extension numbers (``SIP/301&SIP/200@pbx2``):
    a ring group across PBXs, not a call out to the network."""
    targets = _clean(lastdata).split(",", 1)[0].split("&")
    numbers = []
    for t in targets:
        tech, sep, rest = t.strip().partition("/")
        if not sep:
            return False
        rest = rest.split("@", 1)[0]
        numbers.append(rest.rsplit("/", 1)[-1])
    return bool(numbers) and all(x.isdigit() and len(x) <= 5 for x in numbers)


def _asterisk(dcontext: str, channel: str, dstchannel: str, lastapp: str,
              lastdata: str = "", dst: str = "") -> int:
    src, dst_kind = channel_kind(channel), channel_kind(dstchannel)
    ctx = _clean(dcontext)
    app = _clean(lastapp).split("[", 1)[0].casefold()
    if src == _TRUNK:
        # came in from a trunk, whatever it rang - unless a dialer originated it: its
        # A-leg is the trunk channel to the callee, in the dialer's context
        return OUT if ctx and _has(ctx, _OUTBOUND_CONTEXTS) else IN
    if dst_kind == _TRUNK:
        number = _clean(dst).lstrip("+")
        if number.isdigit() and len(number) >= 6:
            return OUT  # a network number dialled through a trunk
        if app in _BRIDGE_APPS or _dials_extensions(lastdata):
            return INT  # a conference, a pick-up, an extension on a peer PBX
        return OUT  # an extension or the dialplan dialled out through a trunk
    if src in (_EXT, _LOCAL):
        return IN if ctx and _has(ctx, _INBOUND_CONTEXTS) and src == _LOCAL else INT
    if ctx and _has(ctx, _INBOUND_CONTEXTS):
        return IN
    if ctx and _has(ctx, _OUTBOUND_CONTEXTS):
        return OUT
    if dst_kind in (_EXT, _LOCAL):
        return INT
    if app in _INBOUND_APPS and src == _NONE and dst_kind == _NONE and ctx:
        return IN
    return UNK


def _freeswitch(context: str, destination: str) -> int:
    ctx = _clean(context).casefold()
    dest = destination.strip()
    if ctx == "public" or _has(ctx, ("from-trunk", "from-pstn", "inbound", "from-gateway")):
        return IN
    if dest.startswith("&"):
        return OUT  # originated by an application (a dialer): the A-leg is the callee
    digits = dest.lstrip("+")
    if digits.isdigit():
        return OUT if len(digits) >= 7 or dest.startswith("+") else INT
    return UNK


def _classify(values: tuple[str, ...], roles: tuple[str, ...]) -> int:
    v = dict(zip(roles, values, strict=True))
    if v.get("userfield", "").startswith("lead=") or v.get("dcontext", "") == "dialsim":
        return OUT  # dialsim's own export
    if _clean(v.get("dst_trunk", "")):
        return OUT
    if _clean(v.get("src_trunk", "")) or _clean(v.get("did", "")):
        return IN
    label = _LABELS.get(_clean(v.get("label", "")).casefold())
    if label is not None:
        return label
    if "fs_context" in v:
        return _freeswitch(v["fs_context"], v.get("fs_destination", ""))
    if any(k in v for k in ("channel", "dstchannel", "dcontext", "lastapp")):
        return _asterisk(v.get("dcontext", ""), v.get("channel", ""),
                         v.get("dstchannel", ""), v.get("lastapp", ""),
                         v.get("lastdata", ""), v.get("dst", ""))
    return UNK


_ASTERISK_NAMES = ("dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata")


def classify_asterisk(dst: str, dcontext: str, channel: str, dstchannel: str, lastapp: str,
                      lastdata: str) -> int:
    """Direction code of one Asterisk row (not dialsim's own) from its fields."""
    return _classify((dst, dcontext, channel, dstchannel, lastapp, lastdata),
                     _ASTERISK_NAMES)


@dataclass(slots=True)
class DirectionRule:
    """Direction codes of a block of CSV records from the fields of ``roles``.

    Parameters
    ----------
    roles
        Role name (see :data:`ROLE_HEADERS`) -> field index.
    """

    roles: Mapping[str, int]
    cache: dict[tuple[str, ...], int] = field(default_factory=dict)

    @property
    def can_tell(self) -> bool:
        """False if the format carries nothing that tells a direction."""
        return bool(self.roles)

    def __call__(self, rows: Sequence[list[str]]) -> np.ndarray:
        n = len(rows)
        if not self.roles:
            return np.full(n, UNK, dtype=np.int8)
        names = tuple(self.roles)
        idx = tuple(self.roles.values())
        cache = self.cache
        out = np.empty(n, dtype=np.int8)
        for j, r in enumerate(rows):
            key = tuple(r[i] if i < len(r) else "" for i in idx)
            code = cache.get(key)
            if code is None:
                if len(cache) > 200_000:
                    cache.clear()
                code = cache[key] = _classify(key, names)
            out[j] = code
        return out


# -- --where --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Where:
    """One ``COLUMN=VALUE`` or ``COLUMN!=VALUE`` term on a file's own column."""

    text: str
    column: str
    index: int
    value: str
    equal: bool

    def matches(self, rows: Sequence[list[str]]) -> np.ndarray:
        """Rows whose field (stripped) equals (or, for ``!=``, differs from) the value."""
        i, value = self.index, self.value
        hit = np.fromiter(((r[i].strip() if i < len(r) else "") == value for r in rows),
                          dtype=bool, count=len(rows))
        return hit if self.equal else ~hit


def parse_where(path: str, terms: Sequence[str], names: Sequence[str],
                what: str) -> list[Where]:
    """Resolve ``--where`` terms against the column names of the file.

    Parameters
    ----------
    path
        The file (named in errors).
    terms
        ``COLUMN=VALUE`` or ``COLUMN!=VALUE`` strings.
    names
        The file's own column names (its header, or the format's field names).
    what
        Where the names come from, for the error message.
    """
    out: list[Where] = []
    exact = {n: i for i, n in reversed(list(enumerate(names)))}
    folded = {_fold(n): i for i, n in reversed(list(enumerate(names)))}
    for term in terms:
        column, sep, value = term.partition("!=")
        equal = not sep
        if equal:
            column, sep, value = term.partition("=")
        if not sep or not column.strip():
            raise CDRFormatError(f"{option('where')} {term!r}: must be COLUMN=VALUE or "
                                 "COLUMN!=VALUE (e.g. --where disposition=ANSWERED)")
        column = column.strip()
        i = exact.get(column, folded.get(_fold(column)))
        if i is None:
            close = difflib.get_close_matches(column, list(names), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CDRFormatError(f"{path}: {option('where')} {term!r}: no column {column!r}{hint}; "
                                 f"{what}: {', '.join(names)}")
        out.append(Where(term, names[i], i, value.strip(), equal))
    return out


_WHY = {
    "inbound": "inbound legs (came in from a trunk or a DID: the carrier does not bill "
               "them as outbound calls)",
    "internal": "internal legs (extension calls, ring-group and Local-channel legs: "
                "they never leave the PBX)",
}


@dataclass(slots=True)
class Selection:
    """Which rows to keep: a direction and ``where`` terms; counts what it excludes.

    Parameters
    ----------
    direction
        ``outbound`` (keeps unknown rows too, with a warning), ``inbound``,
        ``internal`` or ``all``.
    where
        Terms on the file's own columns; a row must match all.
    """

    direction: str
    where: list[Where]
    excluded: dict[str, int] = field(default_factory=dict)
    seen: np.ndarray = field(default_factory=lambda: np.zeros(len(DIRECTIONS), np.int64))
    unknown_kept: int = 0

    def keep(self, direction: np.ndarray, rows: Sequence[list[str]] | None,
             ok: np.ndarray) -> np.ndarray:
        """Mask of the rows to keep among the accepted ``ok``; the others are counted
        as excluded, each for the first reason that excludes it."""
        self.seen += np.bincount(direction[ok], minlength=len(DIRECTIONS))
        keep = ok.copy()
        if self.direction != "all":
            want = DIRECTIONS.index(self.direction)
            chosen = direction == want
            if want == OUT:
                unknown = direction == UNK
                self.unknown_kept += int((unknown & ok).sum())
                chosen |= unknown
            for code, label in enumerate(DIRECTIONS):
                drop = keep & ~chosen & (direction == code)
                if drop.any():
                    self._count(_WHY.get(label, f"{label} legs") if want == OUT else
                                f"{label} legs (selected: {self.direction} only)",
                                int(drop.sum()))
            keep &= chosen
        for term in self.where:
            assert rows is not None
            drop = keep & ~term.matches(rows)
            if drop.any():
                self._count(f"where {term.text}: not matched", int(drop.sum()))
            keep &= ~drop
        return keep

    def _count(self, reason: str, n: int) -> None:
        self.excluded[reason] = self.excluded.get(reason, 0) + n
