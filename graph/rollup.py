"""Roll-ups over the organisation hierarchy: where a solution was tried, summed up the
levels GP practice → sub-ICB location → ICB → NHS England region ("tried in 14 GP
practices across 3 ICBs in the North West"), and in Wales GP practice → local health
board → NHS Wales; and what was tried inside an ICB, board or region.
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
    "local_health_board": ("local health board", "local health boards"),
    "nhs_nation": ("NHS nation", "NHS nations"),
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
              "trust", "ambulance_service", "sub_icb", "local_authority", "icb",
              "local_health_board", "nhs_region", "nhs_nation", "other"]
#: The ICB level (an ICB in England, a local health board in Wales) and the level above
#: it (an NHS England region, or NHS Wales), as roll-ups count them.
AREA_KINDS = ("icb", "local_health_board")
TOP_KINDS = ("nhs_region", "nhs_nation")


def count_text(n: int, kind: str) -> str:
    one, many = KIND_NAMES.get(kind, (kind.replace("_", " "), kind.replace("_", " ") + "s"))
    return f"{n} {one if n == 1 else many}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def region_phrase(names: list[str]) -> str:
    """``["North West"]`` → ``the North West``; London and Wales take no article."""
    def one(name: str) -> str:
        return (name if name in ("London", "Wales") or name.startswith(("the ", "NHS "))
                else f"the {name}")

    if not names:
        return ""
    if len(names) <= 3:
        return _join([one(n) for n in sorted(names)])
    return f"{len(names)} NHS regions"


def summarise(kinds: Counter[str], icbs: set[str], regions: list[str],
              boards: set[str] | None = None) -> str:
    """One sentence: ``Tried in 14 GP practices across 3 ICBs in the North West.``; Welsh
    local health boards count beside ICBs (``across 2 ICBs and 1 local health board in
    the North West and Wales``)."""
    if not kinds:
        return ""
    ordered = sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
    text = "Tried in " + _join([count_text(kinds[k], k) for k in ordered])
    areas = [count_text(len(found), kind) for found, kind in
             ((icbs, "icb"), (boards or set(), "local_health_board")) if found]
    if areas:
        text += f" across {_join(areas)}"
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
    boards: dict[str, str] = {}
    regions: dict[str, str] = {}
    for row in rows:
        kinds[str(row["kind"])] += 1
        levels = [a for a in row["ancestors"] or [] if a and a.get("id")]
        if row["kind"] in AREA_KINDS + TOP_KINDS:
            levels.append({"id": row["id"], "kind": row["kind"], "name": row["name"]})
        for a in levels:
            found = (icbs if a["kind"] == "icb" else
                     boards if a["kind"] == "local_health_board" else regions)
            # NHS Wales is "Wales" in a sentence, as England's regions are by their names
            found[str(a["id"])] = "Wales" if a["kind"] == "nhs_nation" and str(
                a["name"]) == "NHS Wales" else str(a["name"])
    return {"sites": len(rows), "by_kind": dict(sorted(kinds.items())),
            "icbs": sorted({*icbs, *boards}), "regions": sorted(regions.values()),
            "text": summarise(kinds, set(icbs), sorted(regions.values()), set(boards))}


def site_rollup(store: Store, site_id: str) -> dict[str, Any]:
    """A site's place in the hierarchy and what was tried inside it."""
    ancestors = [dict(r) for r in store.read(queries.SITE_ANCESTORS, {"id": site_id})]
    order = {"sub_icb": 0, "icb": 1, "local_health_board": 1, "nhs_region": 2,
             "nhs_nation": 2}
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
