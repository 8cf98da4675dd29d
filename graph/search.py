"""Search and the proposal check.

Search ranks solutions by the text matcher (names, aliases, descriptions,
problems, tags; typos, abbreviations and a health-service synonym table) and
initiatives, evaluations and sites by the engine's full-text index. Scores are
on one scale: the matcher's confidence for solutions; for the other kinds the
full-text score relative to the best hit of that kind, times the kind's weight
(``KIND_WEIGHTS``), so a solution that matches well comes first.

The proposal check answers the commissioner: which solutions the proposal is,
what the evidence says about each now, whether funding it would be a zombie
repeat, and which evaluations to read first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from triedbefore.graph import analytics, asof, costs, hybrid, queries, vectors, wording
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.context import for_check
from triedbefore.graph.fulltext import fulltext
from triedbefore.graph.matching import (
    AUTO_LINK_THRESHOLD,
    STOPWORDS,
    SUGGEST_THRESHOLD,
    SolutionMatcher,
    SolutionText,
)
from triedbefore.graph.resolution import solution_matcher, solution_names
from triedbefore.graph.rules import (
    DOES_NOT_WORK,
    INCONCLUSIVE,
    MIXED,
    NEGATIVE,
    POSITIVE,
    PROMISING,
    WEAK_NEGATIVE,
    WORKS,
    Attempt,
    Evidence,
    Verdict,
    classify,
    iso,
    verdict_of,
)
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

KIND_WEIGHTS: dict[Label, float] = {
    Label.INITIATIVE: 0.8,
    Label.EVALUATION: 0.7,
    Label.SITE: 0.4,
    Label.LESSON: 0.6,
}
NAME_FIELD = {Label.INITIATIVE: "title", Label.EVALUATION: "title", Label.SITE: "name",
              Label.LESSON: "text"}
def search(store: Store, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Ranked hits of every kind above the relevance floor: ``{"kind", "id", "name",
    "score", "why", "listed"}`` (hybrid retrieval: :mod:`~triedbefore.graph.hybrid`)."""
    return list(hybrid.search(store, text, limit)["hits"])


#: A solution whose words the proposal does not share is still among the closest when
#: their meanings are this close (cosine of the sentence vectors); its score is then the
#: cosine scaled below the suggestion threshold's match, so it never makes a zombie risk.
CHECK_MEANING_FLOOR = 0.5


def _closest(store: Store, matcher: SolutionMatcher, text: str,
             limit: int) -> list[tuple[str, float]]:
    """The closest solutions: the matcher's above the suggestion threshold and those
    nearest in meaning (``CHECK_MEANING_FLOOR``; a solution's meaning as search reads it,
    :func:`~triedbefore.graph.hybrid.solution_meaning`), in the order of search's fusion
    of the two rankings (:func:`~triedbefore.graph.hybrid.rrf`; at its cap, the sum before
    it). A solution found by meaning alone scores its cosine scaled below the suggestion
    threshold, so it never makes a zombie risk."""
    pool = hybrid.POOL
    words = [(sid, score) for sid, score in matcher.match(text, k=pool)
             if score >= SUGGEST_THRESHOLD]
    query, _cut = hybrid.clean_query(text)
    vector = vectors.query_vector(query)
    # initiatives only where the solutions' model embeds them too (as search does)
    same_model = vectors.model_for(Label.INITIATIVE) is vectors.model_for(Label.SOLUTION)
    near = hybrid.solution_meaning(
        store, vector, vectors.nearest(store, Label.SOLUTION, vector, pool),
        vectors.nearest(store, Label.INITIATIVE, vector, pool) if same_model else [])
    words_rank = {sid: n for n, (sid, _) in enumerate(words, start=1)}
    meaning_rank = {sid: n for n, (sid, _) in enumerate(near, start=1)}
    score, cosine = dict(words), dict(near)
    candidates = set(words_rank) | {sid for sid, c in near if c >= CHECK_MEANING_FLOOR}

    def order(sid: str) -> tuple[float, float, str]:
        ranks = (words_rank.get(sid), meaning_rank.get(sid), score.get(sid, 0.0))
        return -hybrid.rrf(*ranks), -hybrid.rrf_sum(*ranks), sid

    return [(sid, score[sid] if sid in score else round(SUGGEST_THRESHOLD * cosine[sid], 4))
            for sid in sorted(candidates, key=order)[:limit]]


def _meaning(store: Store, text: str, k: int) -> dict[str, float]:
    """Initiatives nearest the proposal in meaning: id → cosine."""
    query, _cut = hybrid.clean_query(text)
    return dict(vectors.nearest(store, Label.INITIATIVE,
                                vectors.query_vector(query, Label.INITIATIVE), k))


def _cites(text: str, ref: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(ref)}(?![\w-])", text, re.IGNORECASE) is not None


#: A title this many words long or more, quoted in a proposal, cites its record (shorter
#: ones, "Evaluation report", could be any text's words).
CITED_TITLE_WORDS = 4


def _plain(text: str) -> str:
    """Lower case, every run of other characters than letters and digits one space."""
    return " " + " ".join(re.findall(r"[^\W_]+", text.lower())) + " "


def _address(url: str) -> str:
    """A web address without its scheme, ``www.`` and final slash, lower case."""
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower())
    return bare.removeprefix("www.").rstrip("/")


def cites_evidence(store: Store, text: str, evaluation_ids: set[str],
                   initiative_ids: set[str]) -> bool:
    """Whether the proposal cites any of these evaluations or the initiatives they
    evaluated: by id, or as people cite them, by an evaluation's DOI or web address or
    either's title (of ``CITED_TITLE_WORDS`` words or more; case, punctuation and
    spacing aside)."""
    if any(_cites(text, ref) for ref in evaluation_ids | initiative_ids):
        return True
    lowered, plain = text.lower(), _plain(text)
    rows = [r for label, ids in ((Label.EVALUATION, evaluation_ids),
                                 (Label.INITIATIVE, initiative_ids)) if ids
            for r in store.read(queries.citations_of(label), {"ids": sorted(ids)})]
    for props in rows:
        doi = str(props.get("doi") or "").strip().lower()
        if doi and doi in lowered:
            return True
        url = _address(str(props.get("url") or ""))
        if len(url) > 8 and url in lowered:
            return True
        title = _plain(str(props.get("title") or ""))
        if len(title.split()) >= CITED_TITLE_WORDS and title in plain:
            return True
    return False


def check(store: Store, text: str, as_of: str | date | None = None,
          limit: int = 5, site: str | None = None) -> dict[str, Any]:
    """The proposal check: closest solutions with their verdicts, zombie risk, what to read
    first, and the closest past initiatives (see :func:`similar_initiatives`); with the
    proposer's ``site`` (ODS code or name), whether its context lies outside what each
    solution's evaluations covered, and the attempts in places most like it
    (:func:`triedbefore.graph.context.for_check`)."""
    when = analytics.as_of_day(as_of)
    matcher = solution_matcher(store)
    names = solution_names(store)
    matches: list[dict[str, Any]] = []
    read_first: list[str] = []
    verdicts: dict[str, tuple[list[Evidence], Verdict]] = {}
    risk = False
    first_starts: dict[str, int] = {}
    if as_of is not None:  # a solution no one had tried or evaluated by then is not shown
        first_starts = {str(r["id"]): int(r["first_start"]) for r in store.read(
            queries.SOLUTION_FIRST_STARTS, {"counted": COUNTED_LINKS})}
    for sid, score in _closest(store, matcher, text, limit):
        evidence = analytics.solution_evidence(store, sid)
        if as_of is not None and not asof.solution_known(
                first_starts.get(sid), min((e.published_hi for e in evidence), default=None),
                when):
            continue
        v = verdict_of(evidence, when)
        verdicts[sid] = (evidence, v)
        matches.append({"solution_id": sid, "name": names.get(sid, sid),
                        "score": round(score, 4), "verdict": v.verdict,
                        "strength": v.strength, "explanation": v.explanation,
                        "evaluations": list(v.evaluations)})
        if score >= AUTO_LINK_THRESHOLD and v.verdict == DOES_NOT_WORK:
            # Citing the evidence (an evaluation or an initiative it evaluated) makes the
            # proposal an informed re-try, as for initiatives (semantics.md, condition 3).
            known = [e for e in evidence if e.published_hi <= when]
            risk = risk or not cites_evidence(store, text, {e.id for e in known},
                                              set().union(*(e.initiatives for e in known)))
        for eid in list(v.evaluations) + list(v.shown):
            if eid not in read_first:
                read_first.append(eid)
    illustrative = _illustrative(store, Label.SOLUTION, [m["solution_id"] for m in matches])
    # The evaluations the report names: to read first, behind a verdict or in its words.
    named = set(read_first[:limit]) | {
        eid for _, v in verdicts.values()
        for eid in {*v.evaluations, *analytics.explanation_ids(v)}}
    evaluations = {str(r["props"].get("id")): r["props"] for r in store.read(
        queries.nodes_by_ids(Label.EVALUATION), {"ids": sorted(named)})} if named else {}
    for match in matches:
        match["illustrative"] = match["solution_id"] in illustrative
        match["explanation_titled"] = analytics.titled(match["explanation"], evaluations)
        judged = verdicts[match["solution_id"]][1]
        match["evaluation_titles"] = {  # what the design warnings name
            eid: str(evaluations[eid].get("title") or eid)
            for eid in (*judged.shown, *judged.evaluations) if eid in evaluations}
    spent = costs.costs_of(store, [m["solution_id"] for m in matches], when)
    for match in matches:
        match["costs"] = spent[match["solution_id"]]
    places = find_places(store, text)
    # The tiers of similar initiatives follow the solutions the words match; those close in
    # meaning only lead them when the words match none.
    worded = [m["solution_id"] for m in matches if m["score"] >= SUGGEST_THRESHOLD]
    initiatives = similar_initiatives(store, text, worded or [m["solution_id"] for m in matches],
                                      places, when, verdicts)
    read, cut = hybrid.clean_query(text)
    report = {"matches": matches, "zombie_risk": risk,
              "meaning_read": {"characters": len(read), "cut": cut},
              "read_first": _read_first(read_first[:limit], evaluations, verdicts, names,
                                        initiatives),
              "initiatives": initiatives, "as_of": iso(when),
              "places": [{"name": p.name, "sites": sorted(p.sites)} for p in places]}
    if site:
        report["site_context"] = for_check(store, site, [m["solution_id"] for m in matches],
                                           when=when)
    return report


# --- the proposal check's neighbours ------------------------------------------------------

#: How near an initiative was tried to a place the proposal names (higher: nearer): at a
#: site of that name or within it, in the same sub-ICB location, ICB or NHS region.
IN_PLACE, SAME_SUB_ICB, SAME_ICB, SAME_REGION, ELSEWHERE = 4, 3, 2, 1, 0
_AREA_LEVELS = {"sub_icb": SAME_SUB_ICB, "icb": SAME_ICB, "nhs_region": SAME_REGION,
                "local_health_board": SAME_ICB, "nhs_nation": SAME_REGION}
_AREA_WORDS = {IN_PLACE: "", SAME_SUB_ICB: "sub-ICB location", SAME_ICB: "ICB",
               SAME_REGION: "NHS region"}
#: A name found in more site names than this (or none) is not a place the proposal names…
PLACE_SITES_MAX = 40
#: … nor one whose sites do not lie mostly (this share) in one NHS region.
PLACE_REGION_SHARE = 0.6
PLACE_CANDIDATES_MAX = 40
#: Initiatives the check lists; of one solution it reads at most this many (most recent).
SIMILAR_LIMIT = 10
SOLUTION_INITIATIVES_MAX = 200
TEXT_POOL = 30  # initiatives read from the full-text index, ranked again by their text
#: Tiers of similar initiatives, first first: the closest solution's own, another close
#: solution's, and those that only share words with the proposal.
CLOSEST, CLOSE, WORDED = 2, 1, 0
#: A run of capitalised words, joined by the small words place names hold ("Newcastle
#: upon Tyne", "Cardiff and Vale", "Isle of Wight", "Brighton & Hove").
_NAME_WORD = r"[A-Z][a-z]+(?:['’-][A-Za-z]+)*"
_NAME_RUN = re.compile(rf"{_NAME_WORD}(?: (?:(?:and|&|of|upon|under) )?{_NAME_WORD})*")


@dataclass
class Place:
    """A place the proposal names: the sites of that name, and how near each site or
    area above them is (site or area id → ``IN_PLACE`` … ``SAME_REGION``)."""

    name: str
    sites: set[str] = field(default_factory=set)
    near: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (level, name)
    regions: set[str] = field(default_factory=set)


def _opens_sentence(text: str, at: int) -> bool:
    """Whether the word at ``at`` opens the text, a sentence, a line or a numbered heading
    (an opening quote or bracket before it allowed)."""
    window = text[max(0, at - 24):at]
    before = window.rstrip(" \t\"'‘“(")
    return (not before and at <= 24) or (bool(before) and before[-1] in ".!?:;\n")


def _one_region(regions: Iterable[Any]) -> str | None | bool:
    """The NHS region most of a name's sites lie in (``PLACE_REGION_SHARE``); None when
    none has a region; False when they are spread over several."""
    counted = Counter(str(r) for r in regions if r)
    if not counted:
        return None
    region, n = counted.most_common(1)[0]
    return region if n >= PLACE_REGION_SHARE * sum(counted.values()) else False


def _names_place(phrase: str, name: str, kind: str) -> bool:
    """Whether a site's ``name`` names ``phrase`` as a place: a run of words anywhere in
    it; a lone word only where names put their place: first (after "NHS" or "The"),
    after a comma, or anywhere in an area's name ("NHS Devon ICB"). An inner word of an
    organisation's name ("Oxfordshire Learning Disability NHS Trust") says what kind of
    body it is."""
    if " " in phrase or kind in _AREA_LEVELS:
        return _whole(phrase, name)
    return re.search(rf"(?:^(?:NHS\s+|The\s+)?|,\s*){re.escape(phrase)}(?!\w)", name,
                     re.IGNORECASE) is not None


def _whole(phrase: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE) is not None


def find_places(store: Store, text: str) -> list[Place]:
    """Places the proposal names: runs of capitalised words (or, failing the run, its
    words) that are the whole-word name, or part of the name, of a few sites of the graph
    ("Wakefield", "North Devon"). A word of the solutions' texts ("Home", "Telehealth")
    says what, not where; a word in many site names ("Medical") names no one place, nor
    does one whose sites lie in more than one NHS region ("Teaching": Leeds, Sheffield
    and Wirral's teaching hospitals). A lone capitalised word that opens a sentence, a
    line or a numbered heading ("Key performance indicators", "12. Learning from
    elsewhere") is read as an ordinary word."""
    matcher = solution_matcher(store)
    seen: Counter[str] = Counter()
    for found_run in _NAME_RUN.finditer(text):
        run = found_run.group(0)
        if " " not in run and _opens_sentence(text, found_run.start()):
            continue
        for phrase in [run, *(run.split(" ") if " " in run else [])]:
            if phrase.lower() not in STOPWORDS and len(phrase) >= 3:
                seen[phrase] += 1
    # The names said most often first, then in the order of the text (a long proposal's
    # place may come late): at most PLACE_CANDIDATES_MAX are looked up.
    phrases = [p for p, _ in sorted(seen.items(), key=lambda pn: -pn[1])
               if not matcher.describes(p)]
    found: dict[str, set[str]] = {}
    covered: set[str] = set()
    for phrase in phrases[:PLACE_CANDIDATES_MAX]:
        if any(phrase in longer.split(" ") for longer in covered):
            continue  # a word of a run already found as a place
        hits = fulltext(store, Label.SITE, phrase, 2 * PLACE_SITES_MAX)
        named = [f["node"] for f in hits if _whole(phrase, str(f["node"].get("name") or ""))]
        sites = {str(n.get("id")) for n in named
                 if _names_place(phrase, str(n.get("name") or ""), str(n.get("kind") or ""))}
        if 0 < len(sites) <= PLACE_SITES_MAX and len(hits) < 2 * PLACE_SITES_MAX:
            region = _one_region(n.get("region") for n in named)
            if region is False:
                continue  # shared by places far apart: what kind of body, not where
            # the place's sites ("Devon Road Surgery" elsewhere is not in Devon)
            found[phrase] = {str(n.get("id")) for n in named if str(n.get("id")) in sites
                             and n.get("region") in (None, region)}
            covered.add(phrase)
    places: list[Place] = []
    chains = _site_chains(store, set().union(*found.values())) if found else {}
    for phrase, sites in found.items():
        place = Place(phrase, sites)
        for sid in sites:
            chain = chains.get(sid)
            if chain is None:
                continue
            place.near[sid] = (IN_PLACE, str(chain["name"] or sid))
            if chain["region"]:
                place.regions.add(str(chain["region"]))
            for above in chain["ancestors"]:
                level = _AREA_LEVELS.get(str(above.get("kind")))
                if level and place.near.get(str(above["id"]), (0, ""))[0] < level:
                    place.near[str(above["id"])] = (level, str(above.get("name") or above["id"]))
        places.append(place)
    return places


def _site_chains(store: Store, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    return {str(r["id"]): r for r in store.read(queries.SITE_CHAINS, {"ids": sorted(ids)})}


def _illustrative(store: Store, label: Label, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = store.read(queries.nodes_by_ids(label), {"ids": ids})
    return {str(r["props"].get("id")) for r in rows if r["props"].get("illustrative")}


def _nearness(sites: list[dict[str, Any]], chains: dict[str, dict[str, Any]],
              places: list[Place]) -> tuple[int, str]:
    """How near the nearest of an initiative's sites is to a place the proposal names, and
    the phrase that says so ("" when it is not near one)."""
    best, why = ELSEWHERE, ""
    for site in sites:
        chain = chains.get(str(site["id"])) or {"ancestors": [], "region": site.get("region")}
        steps = [(str(site["id"]), str(site.get("name") or site["id"]))] + [
            (str(a["id"]), str(a.get("name") or a["id"])) for a in chain["ancestors"]]
        for place in places:
            for sid, name in steps:
                level = place.near.get(sid, (ELSEWHERE, ""))[0]
                if sid in place.sites:
                    level = IN_PLACE
                if level > best:
                    best = level
                    why = (f"tried in {place.name}, which the proposal names"
                           if level == IN_PLACE else
                           f"tried in the same {_AREA_WORDS[level]} as {place.name} ({name})")
            region = chain.get("region") or site.get("region")
            if region == place.name and best < IN_PLACE:
                best, why = IN_PLACE, f"tried in {region}, the NHS region the proposal names"
            elif best < SAME_REGION and region and region in place.regions:
                best, why = SAME_REGION, (f"tried in the same NHS region as {place.name} "
                                          f"({region})")
    return best, why


def _text_similarity(text: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    """How much of the proposal each initiative's title and description hold: the share
    of the proposal's weight the solution matcher, built over these texts, explains."""
    texts = [SolutionText(id=str(r["id"]), name=str(r.get("title") or ""),
                          description=str(r.get("description") or "")) for r in rows]
    if not texts:
        return {}
    return dict(SolutionMatcher(texts).coverage(text, k=len(texts)))


def similar_initiatives(store: Store, text: str, solution_ids: list[str],
                        places: list[Place], when: int,
                        verdicts: dict[str, tuple[list[Evidence], Verdict]],
                        limit: int = SIMILAR_LIMIT) -> list[dict[str, Any]]:
    """Past initiatives closest to a proposal, started by ``when`` (an NHS region the
    proposal names among their sites' regions is added to ``places``): first the closest
    solution's own, then those of the other close solutions (``solution_ids``, closest
    first), then those that only share words with it; within each, those tried nearest a
    place the proposal names first, then the most similar text. ``score`` is one number
    for that order: (tier + (nearness + similarity) / 5) / 3, in [0, 1]."""
    tier: dict[str, tuple[int, str | None]] = {}
    for rank, sid in enumerate(solution_ids):
        if len(tier) >= limit:
            break  # the tiers above fill the list
        for row in store.read(queries.CHECK_SOLUTION_INITIATIVES, {
                "id": sid, "counted": COUNTED_LINKS, "when": when,
                "limit": SOLUTION_INITIATIVES_MAX}):
            tier.setdefault(str(row["id"]), (CLOSEST if rank == 0 else CLOSE, sid))
    meaning: dict[str, float] = {}
    if len(tier) < limit:
        for f in fulltext(store, Label.INITIATIVE, text, TEXT_POOL):
            tier.setdefault(str(f["node"].get("id")), (WORDED, None))
    if len(tier) < limit:  # too few share the words: those close in meaning too
        meaning = {iid: c for iid, c in _meaning(store, text, TEXT_POOL).items()
                   if c >= CHECK_MEANING_FLOOR}
        for iid in meaning:
            tier.setdefault(iid, (WORDED, None))
    if not tier:
        return []
    rows = [r for r in store.read(queries.CHECK_INITIATIVES,
                                  {"ids": list(tier), "counted": COUNTED_LINKS})
            if asof.started_by(r["start_lo"], when)]
    similarity = _text_similarity(text, rows)
    # The areas above each site matter only near a place the proposal names by a site's.
    chains = _site_chains(store, {str(s["id"]) for r in rows for s in r["sites"] or []}) \
        if places else {}
    named = {p.name.lower() for p in places}
    for region in sorted({str(s["region"]) for r in rows for s in r["sites"] or []
                          if s.get("region")}):
        if region.lower() not in named and _whole(region, text):
            places.append(Place(region, regions={region}))  # an NHS region, by its name
    ranked: list[dict[str, Any]] = []
    for row in rows:
        iid = str(row["id"])
        level, why_near = _nearness(row["sites"] or [], chains, places)
        sim = max(similarity.get(iid, 0.0), meaning.get(iid, 0.0))
        rank, via = tier[iid]
        if rank == WORDED and sim <= 0:
            continue  # the full-text index matched a word the matcher does not count
        score = (rank + (level + min(sim, 0.999)) / 5) / 3
        ranked.append({"row": row, "tier": rank, "via": via, "near": level,
                       "why_near": why_near, "similarity": round(sim, 4),
                       "score": round(score, 4)})
    ranked.sort(key=lambda r: (-r["score"], str(r["row"]["id"])))
    names = solution_names(store)
    out = []
    for r in ranked[:limit]:
        row = r["row"]
        links = {str(link["id"]): str(link.get("how") or "declared")
                 for link in row["solutions"] or [] if link}
        solution: str | None = r["via"] or (sorted(links)[0] if links else None)
        verdict: Verdict | None = None
        repeat = None
        if solution is not None:
            if solution not in verdicts:
                evidence = analytics.solution_evidence(store, solution)
                verdicts[solution] = (evidence, verdict_of(evidence, when))
            evidence, verdict = verdicts[solution]
            if row["start_lo"] is not None:
                known = [e for e in evidence if e.published_hi <= when]
                repeat = classify(Attempt(str(row["id"]), solution, int(row["start_lo"]),
                                          frozenset(str(x) for x in row["learned_from"] or ()),
                                          links.get(solution, "declared")), known)
        name = names.get(solution, solution) if solution else None
        reason = ([f"an attempt at {name}, the closest solution"] if r["tier"] == CLOSEST
                  else [f"an attempt at {name}, another close solution"]
                  if r["tier"] == CLOSE else
                  ["it shares words or meaning with the proposal but is not an attempt at a close "
                   "solution"])
        if r["why_near"]:
            reason.append(r["why_near"])
        sentence = "; ".join(reason)
        out.append({
            "initiative_id": str(row["id"]), "title": row["title"],
            "start_date": row["start_date"], "end_date": row["end_date"],
            "status": row["status"], "illustrative": bool(row["illustrative"]),
            "sites": [{"id": str(s["id"]), "name": s.get("name")}
                      for s in sorted(row["sites"] or [], key=lambda s: str(s["id"]))],
            "solution_id": solution, "solution_name": name,
            "verdict": verdict.verdict if verdict else None,
            "strength": verdict.strength if verdict else None,
            "zombie": repeat is not None and not repeat.cited,
            "informed_retry": repeat is not None and bool(repeat.cited),
            "place": r["why_near"] or None,
            "score": r["score"], "similarity": r["similarity"],
            "reason": sentence[0].upper() + sentence[1:] + "."})
    return out


# --- what to read first ---------------------------------------------------------------------

#: The findings on the side of each verdict: an evaluation with one of them decided it.
_DECIDING: dict[str, frozenset[str]] = {
    WORKS: POSITIVE, PROMISING: POSITIVE, DOES_NOT_WORK: NEGATIVE, WEAK_NEGATIVE: NEGATIVE,
    MIXED: POSITIVE | NEGATIVE, INCONCLUSIVE: frozenset({"mixed", "inconclusive"}),
}
FINDING_WORDS = {"positive": "a positive effect", "no_effect": "no effect",
                 "negative": "harm", "mixed": "mixed results", "inconclusive": "no clear result"}


def _read_first(ids: list[str], props: dict[str, dict[str, Any]],
                verdicts: dict[str, tuple[list[Evidence], Verdict]], names: dict[str, str],
                initiatives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluations to read first with what a reader needs to pick one up: title,
    design, strength level, finding, date, and a sentence saying why it is on the list."""
    near = {i["initiative_id"]: (i["title"], i["place"]) for i in initiatives if i["place"]}
    out = []
    for eid in ids:
        e = props.get(eid, {})
        sid, evidence, v = next(((s, ev, v) for s, (ev, v) in verdicts.items()
                                 if eid in v.shown), (None, [], None))
        mine = next((x for x in evidence if x.id == eid), None)
        name = names.get(sid, sid) if sid else "the solution"
        level = e.get("sms_effective")
        deciding = [x for x in v.evaluations
                    if next((y.finding for y in evidence if y.id == x), "")
                    in _DECIDING.get(v.verdict, frozenset())] if v else []
        verdict = v.verdict.replace("_", " ") if v else ""
        if deciding and eid == deciding[0]:
            why = f"The strongest evaluation behind the verdict on {name} ({verdict})."
        elif eid in deciding:
            why = f"One of the evaluations behind the verdict on {name} ({verdict})."
        elif not level:
            why = (f"Evaluated {name} with no strength level: it explains how and why, "
                   "not whether it worked, so it did not decide the verdict.")
        else:
            found = FINDING_WORDS.get(str(e.get("finding")), "a result")
            why = (f"Evaluated {name} and found {found} at SMS level {level}, weaker than the "
                   f"evidence that decided the verdict ({verdict}).")
        here = sorted(near[i] for i in (mine.initiatives if mine else ()) if i in near)
        if here:
            why += f" It evaluated “{here[0][0]}”, {here[0][1]}."
        out.append({"evaluation_id": eid, "title": e.get("title"), "design": e.get("design"),
                    "design_label": wording.design(e.get("design")),
                    "level": int(level) if level else None,
                    "finding": e.get("finding"), "published_date": e.get("published_date"),
                    "illustrative": bool(e.get("illustrative")),
                    "solution_id": sid, "solution_name": names.get(sid, sid) if sid else None,
                    "reason": why})
    return out
