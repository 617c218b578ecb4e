"""Campaign KPIs from a CDR table and an agent log.

The figures a call-centre manager reads first: dials, contacts and contact rate,
conversions, abandonment (share of live answers), occupancy, contacts per agent-hour,
average handle time and list penetration. Definitions follow DESIGN §3: a *contact*
is a live person connected to an agent or robot; *occupancy* is (talk + wrap) /
logged-in time; *abandonment* is abandoned / live answers (persons who picked up).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..agentlog import AgentLog
from ..cdr import CDRTable
from ..exact import exact_seconds, seconds_of

__all__ = ["CLOSED_STATUSES", "KPI_LABELS", "KpiFold", "dialable_leads", "kpis"]

#: KPI key -> (label, format) in report order.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "dials": ("Dials", "{:,.0f}"),
    "answered": ("Answered (carrier)", "{:,.0f}"),
    "live_answers": ("Live answers (person)", "{:,.0f}"),
    "contacts": ("Contacts", "{:,.0f}"),
    "contact_rate": ("Contact rate (per dial)", "{:.2%}"),
    "conversions": ("Conversions", "{:,.0f}"),
    "conversion_rate": ("Conversion rate (per contact)", "{:.2%}"),
    "abandoned": ("Abandoned calls", "{:,.0f}"),
    "abandonment_rate": ("Abandonment rate (of live answers)", "{:.2%}"),
    "occupancy": ("Occupancy", "{:.1%}"),
    "contacts_per_agent_hour": ("Contacts per agent-hour", "{:.2f}"),
    "aht_s": ("Average handle time (s)", "{:.1f}"),
    "mean_talk_s": ("Mean talk time, answered (s)", "{:.1f}"),
    "agent_hours": ("Agent hours logged in", "{:,.1f}"),
    "list_penetration": ("List penetration (dialled at least once)", "{:.1%}"),
    "leads_closed": ("Leads closed (share of dialable leads)", "{:.1%}"),
}

#: The final lead statuses that count as closed: nothing more to dial (DESIGN §4). Leads
#: on a do-not-call list (``dnc``) are never dialled: they are neither open nor closed
#: work, so ``leads_closed`` and ``list_penetration`` are shares of the *dialable* leads
#: (the list minus its DNC leads), and a list done to the last lead reads 100%.
CLOSED_STATUSES: tuple[str, ...] = ("contacted", "converted", "exhausted", "invalid")


def dialable_leads(list_size: int, lead_status: dict[str, int] | None) -> int:
    """The leads that may be dialled: the list minus its do-not-call leads; the
    denominator of ``leads_closed`` and ``list_penetration``."""
    return list_size - (lead_status or {}).get("dnc", 0)


class KpiFold:
    """The CDR-side KPI sums, folded over chunks of calls (or one whole table)."""

    def __init__(self) -> None:
        self.n = self.answered = self.live = self.contacts = 0
        self.conversions = self.abandoned = self.handled = 0
        self.handle = self.talk = 0  # exact sums (2**-SCALE_BITS s)

    def add(self, cdrs: CDRTable, agent_start: np.ndarray | None = None) -> None:
        """Fold the calls of ``cdrs`` in (``agent_start``: see :func:`kpis`)."""
        answered = cdrs.answered
        person = cdrs.mask("answered_by", "person")
        connected = ~np.isnan(cdrs["connect"])
        self.n += len(cdrs)
        self.answered += int(answered.sum())
        self.live += int(person.sum())
        self.contacts += int((person & connected).sum())
        self.conversions += int(cdrs.mask("result", "converted").sum())
        self.abandoned += int(cdrs["abandoned"].sum())
        handled = connected & (cdrs["agent_id"] >= 0)
        began = cdrs["connect"] if agent_start is None else agent_start
        self.handled += int(handled.sum())
        self.handle += exact_seconds((cdrs["end"] - began + cdrs["wrap_s"])[handled])
        self.talk += exact_seconds(cdrs["talk_s"][answered])

    def result(self, agents: AgentLog | None = None, *, logged_in_s: float | None = None,
               list_size: int | None = None, lead_status: dict[str, int] | None = None,
               dialled: int | None = None) -> dict[str, Any]:
        """The KPIs (see :func:`kpis`); ``dialled``: leads dialled at least once, where
        ``lead_status`` does not say."""
        n, contacts, live = self.n, self.contacts, self.live
        conversions = self.conversions
        out: dict[str, Any] = {
            "dials": n,
            "answered": self.answered,
            "live_answers": live,
            "contacts": contacts,
            "contact_rate": contacts / n if n else float("nan"),
            "conversions": conversions,
            "conversion_rate": conversions / contacts if contacts else float("nan"),
            "abandoned": self.abandoned,
            "abandonment_rate": self.abandoned / live if live else 0.0,
            "aht_s": seconds_of(self.handle, self.handled) if self.handled else float("nan"),
            "mean_talk_s": seconds_of(self.talk, self.answered) if self.answered
            else float("nan"),
        }
        if agents is not None or logged_in_s is not None:
            if agents is not None:
                logged = agents.logged_in()
                work = agents.total("talk") + agents.total("wrap")
            else:
                logged = float(logged_in_s or 0.0)
                work = seconds_of(self.handle)
            out["occupancy"] = work / logged if logged else float("nan")
            out["agent_hours"] = logged / 3600
            out["contacts_per_agent_hour"] = contacts / (logged / 3600) if logged \
                else float("nan")
        if list_size:
            if lead_status:
                dialled = list_size - lead_status.get("untouched", 0) - lead_status.get("dnc", 0)
            eligible = dialable_leads(list_size, lead_status)
            out["list_penetration"] = (dialled or 0) / eligible if eligible else float("nan")
            if lead_status:
                closed = sum(lead_status.get(k, 0) for k in CLOSED_STATUSES)
                out["leads_closed"] = closed / eligible if eligible else float("nan")
        return out


def kpis(cdrs: CDRTable, agents: AgentLog | None = None, *, logged_in_s: float | None = None,
         agent_start: np.ndarray | None = None, list_size: int | None = None,
         lead_status: dict[str, int] | None = None) -> dict[str, Any]:
    """KPIs of one run (or of imported CDRs, without the agent-side figures).

    Sums of seconds (handle and talk times) are exact (:func:`exact_seconds`), so the
    figures are the same whether the calls are given whole or folded chunk by chunk
    (:class:`KpiFold`).

    Parameters
    ----------
    cdrs
        The run's CDRs.
    agents
        The agent state log; occupancy and per-agent-hour figures need it (or
        ``logged_in_s``).
    logged_in_s
        Total logged-in agent time, s, instead of the log (work time then comes from
        the CDRs: talk with an agent plus wrap-up).
    agent_start
        When the agent started on each call, s (default ``connect``; a robot call
        handed to an agent starts later).
    list_size
        Leads on the list, for penetration.
    lead_status
        Final lead counts by status (``contacted``, ``converted``, ...).
    """
    fold = KpiFold()
    fold.add(cdrs, agent_start)
    dialled = None
    if list_size and not lead_status:
        leads = cdrs["lead_id"]
        dialled = int(np.count_nonzero(np.bincount(leads[leads >= 0])))
    return fold.result(agents, logged_in_s=logged_in_s, list_size=list_size,
                       lead_status=lead_status, dialled=dialled)
