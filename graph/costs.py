"""What attempts at a solution cost, and what its economic evaluations found.

Initiatives carry ``cost_gbp`` and ``funder``; a commissioner weighs them next to the
verdict. The summary is taken over the attempts started by the date asked (the rule of
``asof.py``: an initiative is knowable from the first day of its start date): the median
and range of the costs reported, how many attempts reported one, overall and by funder.
Economic results (cost per QALY, net cost per patient, with their price year) and the
outcomes that attempts measured in money (a unit in pounds: "GBP million a year") are
shown beside the verdict and never change it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.graph.wording import plural
from triedbefore.ontology import vocab

COUNTED_LINKS = [how.value for how in vocab.COUNTED_LINKS]

#: The funder group of attempts whose row names no funder.
NO_FUNDER = "funder not recorded"
NO_COST = "no cost reported"


def money(value: float) -> str:
    """Pounds for people: ``£1,250``, ``£3.2m`` from a million on, pence dropped."""
    if abs(value) >= 1_000_000:
        return f"£{value / 1_000_000:,.1f}m".replace(".0m", "m")
    return f"£{value:,.0f}"


def _stats(costs: Sequence[float], attempts: int) -> dict[str, Any]:
    if not costs:
        return {"attempts": attempts, "reported": 0, "median": None, "min": None, "max": None}
    return {"attempts": attempts, "reported": len(costs),
            "median": float(statistics.median(costs)), "min": float(min(costs)),
            "max": float(max(costs))}


def _words(s: Mapping[str, Any]) -> str:
    if not s["reported"]:
        return NO_COST
    median = s["median"]
    if s["reported"] == 1:  # one cost is no median
        return f"{money(median)}, from 1 of {plural(s['attempts'], 'attempt')} reporting a cost"
    spread = ("" if s["min"] == s["max"] else
              f" (range {money(s['min'])} to {money(s['max'])})")
    return (f"median {money(median)}{spread}, from {s['reported']:,} of "
            f"{plural(s['attempts'], 'attempt')} reporting a cost")


def summarise(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A cost summary from rows of ``funder``, ``attempts`` and ``costs`` (one per funder,
    as :data:`queries.SOLUTION_COSTS` gives them); funders named alike after trimming are
    one group."""
    groups: dict[str, tuple[int, list[float]]] = {}
    for row in rows:
        funder = " ".join(str(row.get("funder") or "").split()) or NO_FUNDER
        attempts, costs = groups.get(funder, (0, []))
        groups[funder] = (attempts + int(row["attempts"]),
                          costs + [float(c) for c in row.get("costs") or () if c is not None])
    every = [c for _, costs in groups.values() for c in costs]
    total = _stats(every, sum(a for a, _ in groups.values()))
    by_funder = [{"funder": funder, **_stats(costs, attempts)}
                 for funder, (attempts, costs) in groups.items()]
    # funders that reported costs first (most reports first), then the others by name
    by_funder.sort(key=lambda f: (-f["reported"], f["funder"] == NO_FUNDER, f["funder"]))
    for f in by_funder:
        f["text"] = _words(f)
    return {**total, "text": _words(total), "by_funder": by_funder}


def costs_of(store: Store, solution_ids: Sequence[str], when: int) -> dict[str, dict[str, Any]]:
    """The cost summary of each solution's attempts started by day ``when``."""
    rows = store.read(queries.SOLUTION_COSTS, {"ids": list(solution_ids),
                                               "counted": COUNTED_LINKS, "when": when})
    by_solution: dict[str, list[dict[str, Any]]] = {sid: [] for sid in solution_ids}
    for row in rows:
        by_solution.setdefault(str(row["solution_id"]), []).append(row)
    return {sid: summarise(found) for sid, found in by_solution.items()}


#: An outcome is measured in money when its unit starts with the currency's code (in any
#: case: "GBP million a year") or its sign ("£ per case").
MONEY_CODE, MONEY_SIGN = "GBP", "£"


def money_outcomes_of(store: Store, solution_id: str, when: int) -> list[dict[str, Any]]:
    """The outcomes of a solution's attempts started by day ``when`` that are measured in
    money (:data:`MONEY_CODE`, :data:`MONEY_SIGN`) by then: savings, costs, net benefits,
    as reported."""
    return store.read(queries.SOLUTION_MONEY_OUTCOMES, {
        "id": solution_id, "counted": COUNTED_LINKS, "when": when,
        "money_code": MONEY_CODE, "money_sign": MONEY_SIGN})


def economic_words(row: Mapping[str, Any]) -> str:
    """An economic result as a reader weighs it: "£12,000 per QALY; net saving of £150
    per patient (2019 prices)"."""
    parts = []
    if row.get("cost_per_qaly_gbp") is not None:
        parts.append(f"{money(float(row['cost_per_qaly_gbp']))} per QALY gained")
    net = row.get("net_cost_per_patient_gbp")
    if net is not None:
        net = float(net)
        parts.append(f"net saving of {money(-net)} per patient" if net < 0 else
                     f"net cost of {money(net)} per patient" if net > 0 else
                     "no net cost or saving per patient")
    year = row.get("price_year")
    return "; ".join(parts) + (f" ({int(year)} prices)" if year is not None else
                               " (price year not stated)")


def economics_of(store: Store, solution_id: str, when: int) -> list[dict[str, Any]]:
    """The economic results of a solution's evaluations published by day ``when``."""
    rows = store.read(queries.SOLUTION_ECONOMICS, {"id": solution_id,
                                                   "counted": COUNTED_LINKS, "when": when})
    return [{**row, "text": economic_words(row)} for row in rows]
