"""Vocabularies of the outside world: Asterisk dispositions, FreeSWITCH hang-up causes,
and the ``key=value`` userfield in which dialsim's Asterisk export keeps its own details.

Answered or not is decided by the disposition or the hang-up cause, never by billsec:
a PBX or IVR may answer the caller's leg of a call that the dialled party never
picked up. For FreeSWITCH, where the CDR has a cause and an answer stamp but no
disposition, the rule is:

* ``USER_BUSY`` -> BUSY;
* causes that can only end an unanswered call (``NO_ANSWER``, ``NO_USER_RESPONSE``,
  ``ORIGINATOR_CANCEL``, ``PROGRESS_TIMEOUT``, ``LOSE_RACE``, ``PICKED_OFF``) ->
  NO ANSWER, even with an answer stamp (the switch's own leg was answered);
* any other cause with an answer stamp -> ANSWERED (the call was up, whatever ended it:
  ``NORMAL_CLEARING``, a media or session timer timeout, a network failure mid-call);
* without an answer stamp: normal clearing (``NORMAL_CLEARING``,
  ``NORMAL_UNSPECIFIED``, ``ALLOTTED_TIMEOUT``, ``MANAGER_REQUEST``, transfers) ->
  NO ANSWER (the caller gave up), every other cause (``UNALLOCATED_NUMBER``,
  ``CALL_REJECTED``, ``NORMAL_TEMPORARY_FAILURE``, ``RECOVERY_ON_TIMER_EXPIRE``, ...)
  -> FAILED.

Q.850 cause numbers are accepted too (16, 17, 18, 19, 21, 31, ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

import numpy as np

from ..cdr import AMD, ANSWERED_BY, COLUMNS, DIRECTIONS, DISPOSITIONS, HANGUP_BY, RESULTS

__all__ = [
    "ASTERISK_FIELDS",
    "BOOL_CODES",
    "DISPOSITION_CODES",
    "FIXED_CODES",
    "FIXED_VOCABULARIES",
    "FREESWITCH_FIELDS",
    "KNOWN_CAUSES",
    "OPEN_CATEGORIES",
    "USERFIELD_KEYS",
    "cause_dispositions",
    "cause_kind",
    "escape_label",
    "normalise_label",
    "unescape_label",
]

#: Categorical columns whose labels come from the data (stage, number type, ...).
OPEN_CATEGORIES: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.kind == "cat" and c.vocabulary is None)

#: Asterisk cdr_csv Master.csv, in file order: 16 base columns, then uniqueid and
#: userfield (loguniqueid / loguserfield), then peeraccount, linkedid, sequence
#: (newcdrcolumns). Files hold 16 to 21 of them.
ASTERISK_FIELDS: tuple[str, ...] = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield", "peeraccount", "linkedid", "sequence",
)

#: FreeSWITCH mod_cdr_csv, template "example" (the shipped default-template): 15
#: columns. The older 13-column form (no codecs) and longer templates that extend it
#: ("snom", "linksys") are read too.
FREESWITCH_FIELDS: tuple[str, ...] = (
    "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
    "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid",
    "bleg_uuid", "accountcode", "read_codec", "write_codec",
)


def normalise_label(text: str) -> str:
    """Upper case, trimmed, ``_`` and ``-`` read as spaces (``no_answer`` -> ``NO ANSWER``)."""
    return " ".join(text.replace("_", " ").replace("-", " ").split()).upper()


def _codes(vocab: Sequence[str], extra: dict[str, str] | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, label in enumerate(vocab):
        for form in (label, label.upper(), label.lower(), label.title(), normalise_label(label)):
            out.setdefault(form, i)
    for alias, target in (extra or {}).items():
        out[alias] = out[target]
    return out


#: Disposition texts (as written, then normalised) to codes of ``DISPOSITIONS``.
#: CONGESTION (Asterisk >= 12 with congestion reporting) counts as FAILED.
DISPOSITION_CODES: dict[str, int] = _codes(DISPOSITIONS, {
    "NOANSWER": "NO ANSWER", "ANSWER": "ANSWERED", "CONGESTION": "FAILED",
    "FAIL": "FAILED", "NO ANSWERED": "NO ANSWER",
})

FIXED_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "answered_by": ANSWERED_BY, "amd": AMD, "hangup_by": HANGUP_BY, "result": RESULTS,
    "direction": DIRECTIONS,
}
FIXED_CODES: dict[str, dict[str, int]] = {k: _codes(v) for k, v in FIXED_VOCABULARIES.items()}

BOOL_CODES: dict[str, int] = {
    **{t: 1 for t in ("1", "true", "True", "TRUE", "yes", "Yes", "YES", "t", "T", "y", "Y")},
    **{f: 0 for f in ("0", "false", "False", "FALSE", "no", "No", "NO", "f", "F", "n", "N")},
}

# -- hang-up causes ----------------------------------------------------------------------
_BUSY = frozenset({"USER_BUSY", "BUSY_EVERYWHERE"})
_NEVER_ANSWERED = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL",
                             "PROGRESS_TIMEOUT", "LOSE_RACE", "PICKED_OFF", "NO_PICKUP"})
_CLEARING = frozenset({"NORMAL_CLEARING", "NORMAL_UNSPECIFIED", "ALLOTTED_TIMEOUT",
                       "MANAGER_REQUEST", "ATTENDED_TRANSFER", "BLIND_TRANSFER", "SUCCESS"})
_Q850 = {16: "NORMAL_CLEARING", 17: "USER_BUSY", 18: "NO_USER_RESPONSE", 19: "NO_ANSWER",
         31: "NORMAL_UNSPECIFIED", 487: "ORIGINATOR_CANCEL"}
_CAUSE_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
#: FreeSWITCH's hang-up cause names (switch_types.h); a disposition column holding one
#: of these is read as a cause. In a FreeSWITCH CDR any cause-like name is accepted.
KNOWN_CAUSES: frozenset[str] = frozenset("""
UNSPECIFIED UNALLOCATED_NUMBER NO_ROUTE_TRANSIT_NET NO_ROUTE_DESTINATION
CHANNEL_UNACCEPTABLE CALL_AWARDED_DELIVERED NORMAL_CLEARING USER_BUSY NO_USER_RESPONSE
NO_ANSWER SUBSCRIBER_ABSENT CALL_REJECTED NUMBER_CHANGED REDIRECTION_TO_NEW_DESTINATION
EXCHANGE_ROUTING_ERROR DESTINATION_OUT_OF_ORDER INVALID_NUMBER_FORMAT FACILITY_REJECTED
RESPONSE_TO_STATUS_ENQUIRY NORMAL_UNSPECIFIED NORMAL_CIRCUIT_CONGESTION NETWORK_OUT_OF_ORDER
NORMAL_TEMPORARY_FAILURE SWITCH_CONGESTION ACCESS_INFO_DISCARDED REQUESTED_CHAN_UNAVAIL
PRE_EMPTED FACILITY_NOT_SUBSCRIBED OUTGOING_CALL_BARRED INCOMING_CALL_BARRED
BEARERCAPABILITY_NOTAUTH BEARERCAPABILITY_NOTAVAIL SERVICE_UNAVAILABLE
BEARERCAPABILITY_NOTIMPL CHAN_NOT_IMPLEMENTED FACILITY_NOT_IMPLEMENTED
SERVICE_NOT_IMPLEMENTED INVALID_CALL_REFERENCE INCOMPATIBLE_DESTINATION
INVALID_MSG_UNSPECIFIED MANDATORY_IE_MISSING MESSAGE_TYPE_NONEXIST WRONG_MESSAGE IE_NONEXIST
INVALID_IE_CONTENTS WRONG_CALL_STATE RECOVERY_ON_TIMER_EXPIRE MANDATORY_IE_LENGTH_ERROR
PROTOCOL_ERROR INTERWORKING SUCCESS ORIGINATOR_CANCEL CRASH SYSTEM_SHUTDOWN LOSE_RACE
MANAGER_REQUEST BLIND_TRANSFER ATTENDED_TRANSFER ALLOTTED_TIMEOUT USER_CHALLENGE
MEDIA_TIMEOUT PICKED_OFF USER_NOT_REGISTERED PROGRESS_TIMEOUT INVALID_GATEWAY GATEWAY_DOWN
INVALID_URL INVALID_PROFILE NO_PICKUP SRTP_READ_ERROR BOWOUT BUSY_EVERYWHERE DECLINE
DOES_NOT_EXIST_ANYWHERE NOT_ACCEPTABLE UNWANTED NO_IDENTITY BAD_IDENTITY_INFO
UNSUPPORTED_CERTIFICATE INVALID_IDENTITY STALE_DATE
""".split())

# cause kinds
BUSY, NEVER_ANSWERED, CLEARING, OTHER, UNKNOWN = 0, 1, 2, 3, -1


def cause_kind(text: str, known_only: bool = False) -> int:
    """Kind of a hang-up cause name or Q.850 number (``UNKNOWN`` if not a cause);
    ``known_only`` accepts only FreeSWITCH's cause names."""
    cause = text.strip().upper()
    if known_only:
        return cause_kind(cause) if cause in KNOWN_CAUSES else UNKNOWN
    if cause.isdigit():
        cause = _Q850.get(int(cause), "OTHER_NUMBERED_CAUSE")
    if cause in _BUSY:
        return BUSY
    if cause in _NEVER_ANSWERED:
        return NEVER_ANSWERED
    if cause in _CLEARING:
        return CLEARING
    return OTHER if _CAUSE_RE.match(cause) else UNKNOWN


def cause_dispositions(causes: Sequence[str], answer_stamped: np.ndarray,
                       known_only: bool = False) -> np.ndarray:
    """Disposition codes (int16; -1 for texts that are not causes) from hang-up causes
    and whether an answer stamp is present (see the module docstring)."""
    kinds_of: dict[str, int] = {}
    for c in set(causes):
        kinds_of[c] = cause_kind(c, known_only)
    kind = np.fromiter(map(kinds_of.__getitem__, causes), dtype=np.int16, count=len(causes))
    answered, no_answer, busy, failed = (DISPOSITIONS.index(x) for x in
                                         ("ANSWERED", "NO ANSWER", "BUSY", "FAILED"))
    disp = np.where(answer_stamped, answered, np.where(kind == CLEARING, no_answer, failed))
    disp = np.where(kind == NEVER_ANSWERED, no_answer, disp)
    disp = np.where(kind == BUSY, busy, disp)
    return np.where(kind == UNKNOWN, -1, disp).astype(np.int16)


# -- dialsim's Asterisk userfield ------------------------------------------------------------
#: Keys of the userfield written by dialsim's Asterisk export, in order, and the CDR
#: column each holds: ``lead=12;att=1;agent=5;by=person;amd=none;ab=0;hup=customer;
#: res=declined;stage=pitch;nt=mobile;seg=a``. Labels are %-escaped (``%``, ``;``, ``=``).
USERFIELD_KEYS: dict[str, str] = {
    "lead": "lead_id", "att": "attempt", "agent": "agent_id", "by": "answered_by",
    "amd": "amd", "ab": "abandoned", "hup": "hangup_by", "res": "result", "stage": "stage",
    "nt": "number_type", "seg": "segment",
}


def escape_label(label: str) -> str:
    """A label made safe for the ``key=value;`` userfield."""
    return quote(label, safe="") if any(c in label for c in "%;=\r\n\0") else label


def unescape_label(label: str) -> str:
    """Inverse of :func:`escape_label`."""
    return unquote(label) if "%" in label else label
