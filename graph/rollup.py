"""Roll-ups over the organisation hierarchy: where a solution was tried, summed up the
levels GP practice → sub-ICB location → ICB → NHS England region ("tried in 14 GP
practices across 3 ICBs in the North West"), and what was tried inside an ICB or region.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.store import Store

#: Singular and plural names of site kinds, as a roll-up writes them.
KIND_NAMES: dict[str, tuple[str, str]] = {
    "gp_practice": ("GP practice", "GP practices"),
    "trust": ("NHS trust", "NHS trusts"),
    "sub_icb": ("sub-ICB location", "sub-ICB locations"),
    "icb": ("ICB", "ICBs"),
    "nhs_region": ("NHS England region", "NHS England regions"),
    "pcn": ("primary care network", "primary care networks"),
    "care_home": ("care home", "care homes"),
    "hospital": ("hospital", "hospitals"),
    "ward": ("ward", "wards"),
    "community_service": ("community service", "community services"),
    "ambulance_service": ("ambulance service", "ambulance services"),
    "local_authority": ("local authority", "local authorities"),
    "other": ("other site", "other sites"),
}
#: Kinds listed first in a roll-up sentence, the most local first.
KIND_ORDER = ["gp_practice", "care_home", "ward", "hospital", "community_service", "pcn",
              "trust", "ambulance_service", "sub_icb", "local_authority", "icb", "nhs_region",
              "other"]


def count_text(n: int, kind: str) -> str:
    one, many = KIND_NAMES.get(kind, (kind.replace("_", " "), kind.replace("_", " ") + "s"))
    return f"{n} {one if n == 1 else many}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def region_phrase(names: list[str]) -> str:
    """``["North West"]`` → ``the North West``; London takes no article."""
    def one(name: str) -> str:
        return name if name == "London" or name.startswith("the ") else f"the {name}"

    if not names:
        return ""
    if len(names) <= 3:
        return _join([one(n) for n in sorted(names)])
    return f"{len(names)} NHS England regions"


def summarise(kinds: Counter[str], icbs: set[str], regions: list[str]) -> str:
    """One sentence: ``Tried in 14 GP practices across 3 ICBs in the North West.``"""
    if not kinds:
        return ""
    ordered = sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
    text = "Tried in " + _join([count_text(kinds[k], k) for k in ordered])
    if icbs:
        text += f" across {count_text(len(icbs), 'icb')}"
    if regions:
        text += f" in {region_phrase(regions)}"
    return text + "."


def solution_rollup(store: Store, solution_id: str) -> dict[str, Any]:
    """Where a solution was tried, by kind of site, ICB and region."""
    return rollup_of(store.read(queries.SOLUTION_SITE_ROLLUP,
                                {"id": solution_id, "counted": COUNTED_LINKS}))


def rollup_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The roll-up of sites given as rows of ``id``, ``kind``, ``name`` and
    ``ancestors`` (their ICB and region, as maps of ``id``, ``kind``, ``name``)."""
    rows = list(rows)
    kinds: Counter[str] = Counter()
    icbs: dict[str, str] = {}
    regions: dict[str, str] = {}
    for row in rows:
        kinds[str(row["kind"])] += 1
        levels = [a for a in row["ancestors"] or [] if a and a.get("id")]
        if row["kind"] in ("icb", "nhs_region"):
            levels.append({"id": row["id"], "kind": row["kind"], "name": row["name"]})
        for a in levels:
            (icbs if a["kind"] == "icb" else regions)[str(a["id"])] = str(a["name"])
    return {"sites": len(rows), "by_kind": dict(sorted(kinds.items())),
            "icbs": sorted(icbs), "regions": sorted(regions.values()),
            "text": summarise(kinds, set(icbs), sorted(regions.values()))}


def site_rollup(store: Store, site_id: str) -> dict[str, Any]:
    """A site's place in the hierarchy and what was tried inside it."""
    ancestors = [dict(r) for r in store.read(queries.SITE_ANCESTORS, {"id": site_id})]
    order = {"sub_icb": 0, "icb": 1, "nhs_region": 2}
    ancestors.sort(key=lambda a: order.get(str(a["kind"]), -1))
    contains = {str(r["kind"]): int(r["n"])
                for r in store.read(queries.SITE_DESCENDANT_KINDS, {"id": site_id})}
    tried = [dict(r) for r in store.read(queries.SITE_DESCENDANTS_TRIED, {"id": site_id})]
    kinds: Counter[str] = Counter(str(r["kind"]) for r in tried)
    initiatives = {i for r in tried for i in r["initiative_ids"] or []}
    text = ""
    if tried:
        text = (f"{len(initiatives)} initiative{'s' if len(initiatives) != 1 else ''} tried "
                f"inside it, in " + _join([count_text(kinds[k], k) for k in sorted(
                    kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)])
                + ".")
    for r in tried:
        r.pop("initiative_ids", None)
    return {"ancestors": ancestors, "contains": contains, "tried_inside": tried,
            "text": text}
