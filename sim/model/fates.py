"""What can happen to a call, as the small integer codes the event loop records.

A recorded ``code`` packs the call's fate with, for a person who went through the
script, the script's outcome: ``code = fate + FATE_SHIFT * script_code`` where
``script_code = result + 8 * hangup_by + 64 * (stage + 1)`` (codes of the CDR
vocabularies). Everything a CDR says is decoded from these afterwards in numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["F", "FATES", "FATE_SHIFT", "OUTCOME_OF_FATE", "decode_script", "outcome_of",
           "outcomes_of", "script_code"]

# Order is part of the recorded codes: append only.
FATES: tuple[str, ...] = (
    "failed",  # network failure (FAILED)
    "invalid",  # number does not exist (FAILED, lead closed)
    "busy",
    "no_answer",  # rang until the ring timeout
    "person",  # a person talked to an agent
    "machine_connected",  # an answering machine reached an agent, who hung up
    "machine_amd",  # AMD detected a machine; the dialer hung up
    "machine_dropped",  # a machine answered, no agent free: the dialer hung up
    "abandoned_dialer",  # a person answered, no agent within the threshold
    "abandoned_customer",  # a person answered and hung up before an agent came
    "amd_false_positive",  # AMD took a person for a machine: a silent call
    "robot",  # an AI robot talked to the person to the end
    "robot_transfer",  # the robot passed the person to a human agent
    "robot_transfer_lost",  # the robot tried to pass the person on; nobody came in time
)
F: dict[str, int] = {name: i for i, name in enumerate(FATES)}
FATE_SHIFT = 16

# Outcome for the call list (see leads.OUT_*), by fate; None: decided by the script.
(OUT_INVALID, OUT_FAILED, OUT_BUSY, OUT_NO_ANSWER, OUT_MACHINE, OUT_ABANDONED,
 OUT_CONTACTED, OUT_CONVERTED, OUT_CALLBACK) = range(9)
OUTCOME_OF_FATE: dict[int, int] = {
    F["failed"]: OUT_FAILED, F["invalid"]: OUT_INVALID, F["busy"]: OUT_BUSY,
    F["no_answer"]: OUT_NO_ANSWER, F["machine_connected"]: OUT_MACHINE,
    F["machine_amd"]: OUT_MACHINE, F["machine_dropped"]: OUT_MACHINE,
    F["abandoned_dialer"]: OUT_ABANDONED, F["abandoned_customer"]: OUT_ABANDONED,
    F["amd_false_positive"]: OUT_ABANDONED,
}
# Outcome of a scripted conversation by result code (none, converted, declined,
# hung_up, callback).
OUTCOME_OF_RESULT: tuple[int, ...] = (OUT_CONTACTED, OUT_CONVERTED, OUT_CONTACTED,
                                      OUT_CONTACTED, OUT_CALLBACK)


_FATE_BITS = FATE_SHIFT.bit_length() - 1
assert FATE_SHIFT == 1 << _FATE_BITS and len(FATES) <= FATE_SHIFT
_OUTCOME_LUT = np.full(FATE_SHIFT, -1, dtype=np.int64)  # by fate; -1: by the script's result
for _fate, _out in OUTCOME_OF_FATE.items():
    _OUTCOME_LUT[_fate] = _out
_RESULT_LUT = np.asarray(OUTCOME_OF_RESULT)


def outcome_of(code: int) -> int:
    """The call-list outcome of a recorded code."""
    out = OUTCOME_OF_FATE.get(code % FATE_SHIFT)
    return out if out is not None else OUTCOME_OF_RESULT[(code // FATE_SHIFT) % 8]


def outcomes_of(codes: np.ndarray) -> np.ndarray:
    """:func:`outcome_of` over an array of codes (float or int)."""
    codes = codes.astype(np.int64)  # non-negative: % and // by powers of two as bit operations
    out = _OUTCOME_LUT[codes & (FATE_SHIFT - 1)]
    scripted = _RESULT_LUT[(codes >> _FATE_BITS) & 7]
    return np.where(out >= 0, out, scripted)


def script_code(result: Any, hangup_by: Any, stage: Any) -> Any:
    """Pack (result, hangup_by, last stage index or -1) into one number per call."""
    return result + 8 * hangup_by + 64 * (stage + 1)


def decode_script(code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`script_code`: (result, hangup_by, stage index or -1)."""
    code = code.astype(np.int64)
    return code % 8, (code // 8) % 8, code // 64 - 1
