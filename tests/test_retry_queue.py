"""The call list's retry queue pops exactly what a heap of (due, seq, lead) tuples would."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.leads import RetryQueue

# (push due-time index, or None: pop); few distinct due times, so many ties
_OPS = st.lists(st.one_of(st.none(), st.integers(0, 5)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_pops_earliest_due_first_and_equal_dues_in_push_order(ops: list[int | None]) -> None:
    q = RetryQueue()
    ref: list[tuple[float, int, int]] = []
    lead = 0
    for seq, op in enumerate(ops):
        if op is None:
            if ref:
                assert q.pop() == heapq.heappop(ref)[2]
        else:
            due = 100.0 + 0.5 * op
            q.push(due, lead)
            heapq.heappush(ref, (due, seq, lead))
            lead += 1
        assert len(q) == len(ref)
        assert (q.heap[0] if q.heap else None) == (ref[0][0] if ref else None)
    while ref:
        assert q.pop() == heapq.heappop(ref)[2]
    assert not q.heap and not q.lead_at and not q.ties  # nothing left behind


def test_three_leads_due_at_once_come_back_in_push_order() -> None:
    q = RetryQueue()
    for lead in (7, 3, 9):
        q.push(60.0, lead)
    q.push(30.0, 1)
    assert [q.pop() for _ in range(4)] == [1, 7, 3, 9]
