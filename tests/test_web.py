"""The explorer's pages, their JSON twins and CSV downloads, on the sample graph (shared
by the tests that only read) or a temporary store of their own."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app
from triedbefore.web.pages import PAGES

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

PAGES_WITH_IDS = [
    "/", "/search?q=hospital+at+home", "/solutions", "/solutions/SOL-TELE",
    "/initiatives/INI-0021", "/evaluations/EVAL-0004", "/evaluations?solution=SOL-TELE",
    "/sites/RBL", "/zombies", "/gap-map", "/gap-map?by=intervention_type",
    "/deviance", "/deviance?measure=Emergency+admissions+from+care+homes+per+1%2C000+residents",
    "/check?q=telehealth+for+COPD", "/method",
]


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    app = create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "test"})
    return app.test_client()


def _json_url(url: str) -> str:
    path, _, query = url.partition("?")
    path = "/index" if path == "/" else path
    return path + ".json" + ("?" + query if query else "")


@pytest.mark.parametrize("url", PAGES_WITH_IDS)
def test_every_page_and_its_json_twin(client: FlaskClient, url: str) -> None:
    page = client.get(url)
    assert page.status_code == 200, page.data[:500]
    assert b"<h1>" in page.data and b'lang="en"' in page.data
    twin = client.get(_json_url(url))
    assert twin.status_code == 200 and twin.get_json()["ok"] is True


def test_every_registered_page_is_covered() -> None:
    covered = {u.partition("?")[0] for u in PAGES_WITH_IDS}
    patterns = {p["rule"].split("<")[0] for p in PAGES if p["endpoint"].startswith("explore.")}
    assert all(any(c.startswith(pat) if pat != "/" else c == "/" for c in covered)
               for pat in patterns), patterns - covered


def test_solution_page_shows_verdict_timeline_zombies_and_map(client: FlaskClient) -> None:
    data = client.get("/solutions/SOL-TELE.json").get_json()
    assert data["verdict"]["verdict"] == "does_not_work"
    assert {z["initiative_id"] for z in data["zombies"]} == {"INI-0021", "INI-0022", "INI-0023"}
    assert all(a["sites"] for a in data["attempts"]["items"])
    page = client.get("/solutions/SOL-TELE").data.decode()
    assert "does not work" in page and 'class="timeline"' in page
    assert page.count("zombie repeat") >= 3 and 'id="site-map"' in page
    then = client.get("/solutions/SOL-TELE.json?as_of=2013-01-01").get_json()
    assert then["verdict"]["verdict"] != "does_not_work" and then["as_of"] == "2013-01-01"


def test_solution_tables_page_in_a_stable_order(client: FlaskClient) -> None:
    whole = client.get("/solutions/SOL-TELE.json?size=500").get_json()
    for table, key in (("attempts", "start_lo"), ("evaluations", "published_hi"),
                       ("outcomes", "measure")):
        everything = whole[table]["items"]
        assert len(everything) == whole[table]["total"] >= 3, table
        assert [r[key] for r in everything] == sorted(r[key] for r in everything), table
        seen: list[str] = []
        page: int | None = 1
        while page:
            data = client.get(f"/solutions/SOL-TELE.json?size=2&{table}_page={page}").get_json()
            chunk = data[table]
            assert len(chunk["items"]) <= 2 and chunk["total"] == len(everything), table
            seen += [r["id"] for r in chunk["items"]]
            page = chunk["next_page"]
        assert seen == [r["id"] for r in everything], table
    # the verdict, zombies and map do not depend on the page shown
    later = client.get("/solutions/SOL-TELE.json?size=2&attempts_page=3").get_json()
    assert later["verdict"] == whole["verdict"] and later["sites"] == whole["sites"]
    assert later["zombies"] == whole["zombies"]
    zombie_ids = {z["initiative_id"] for z in whole["zombies"]}
    marked = {a["id"] for a in whole["attempts"]["items"] if a["zombie"]}
    assert marked == zombie_ids
    html = client.get("/solutions/SOL-TELE?size=2").data.decode()
    assert 'aria-label="Pages of attempts"' in html and "attempts_page=2#tried-h" in html
    # as of a date: fewer attempts and evaluations, the counts follow
    then = client.get("/solutions/SOL-TELE.json?size=500&as_of=2013-01-01").get_json()
    assert then["attempts"]["total"] < whole["attempts"]["total"]
    assert all(a["start_lo"] is None or a["start_date"] <= "2013-01-01"
               for a in then["attempts"]["items"])
    assert then["evaluations"]["total"] == len(then["evaluations"]["items"])
    assert client.get("/solutions/SOL-TELE.json?attempts_page=0").status_code == 400
    # a page past the last is refused with the last page's number, not shown empty
    last = -(-whole["attempts"]["total"] // 2)
    past = client.get(f"/solutions/SOL-TELE.json?size=2&attempts_page={last + 1}")
    assert past.status_code == 404
    assert f"'attempts_page' is {last + 1}, past the last page ({last})" in (
        past.get_json()["error"])
    assert client.get(f"/solutions/SOL-TELE.json?size=2&attempts_page={last}").status_code == 200


def test_csv_downloads(client: FlaskClient) -> None:
    for url in ("/zombies.csv", "/solutions.csv", "/gap-map.csv", "/solutions/SOL-TELE.csv",
                "/search.csv?q=telehealth"):
        res = client.get(url)
        assert res.status_code == 200 and res.mimetype == "text/csv", url
        rows = list(csv.DictReader(io.StringIO(res.data.decode())))
        assert rows, url
    zombies = list(csv.DictReader(io.StringIO(client.get("/zombies.csv").data.decode())))
    assert {"initiative_id", "solution_id", "ignored_evaluations", "lag_days"} <= set(zombies[0])


def test_pagination_is_stable(client: FlaskClient) -> None:
    first = client.get("/solutions.json?size=5").get_json()["solutions"]
    second = client.get("/solutions.json?size=5&page=2").get_json()["solutions"]
    assert first["next_page"] == 2 and second["prev_page"] == 1
    ids = [s["id"] for s in first["items"]] + [s["id"] for s in second["items"]]
    everything = [s["id"] for s in client.get("/solutions.json?size=500").get_json()
                  ["solutions"]["items"]]
    assert ids == everything[:10]


def test_search_facets_filter_and_count(client: FlaskClient) -> None:
    data = client.get("/search.json?q=care+homes").get_json()
    assert data["facets"] and data["results"]["total"] > 0
    verdicts = dict(data["facets"].get("verdict", []))
    if verdicts:
        value, n = next(iter(verdicts.items()))
        filtered = client.get(f"/search.json?q=care+homes&verdict={value}").get_json()
        assert filtered["results"]["total"] == n


def test_errors_are_json_with_the_right_status(client: FlaskClient) -> None:
    for url in ("/solutions/NOPE.json", "/initiatives/NOPE.json", "/evaluations/NOPE.json",
                "/sites/NOPE.json"):
        res = client.get(url)
        assert res.status_code == 404 and res.get_json()["ok"] is False, url
    for url in ("/solutions.json?page=zero", "/solutions.json?verdict=great",
                "/zombies.json?min_lag=-1", "/solutions/SOL-TELE.json?as_of=2020-13-45",
                "/gap-map.json?by=colour", "/search.json?q=x&site_kind=castle"):
        res = client.get(url)
        assert res.status_code == 400 and "error" in res.get_json(), url
    assert client.get("/solutions/NOPE").status_code == 404
    assert b"Traceback" not in client.get("/solutions/NOPE").data


def test_request_errors_are_not_store_failures(store: FalkorStore) -> None:
    """NotFound and BadArgument raised anywhere (not only by page builders) are the asker's
    mistakes: 404 and 400 in the JSON envelope, never the store's 503."""
    from flask import Blueprint

    from triedbefore.graph import BadArgument, NotFound, StoreUnavailable

    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test"})
    bp = Blueprint("raising", __name__)

    def raise_(error: Exception) -> None:
        raise error

    bp.add_url_rule("/t/missing.json", "missing", lambda: raise_(NotFound("no such thing")))
    bp.add_url_rule("/t/bad.json", "bad", lambda: raise_(BadArgument("not a date")))
    bp.add_url_rule("/t/down.json", "down", lambda: raise_(StoreUnavailable("gone")))
    bp.add_url_rule("/t/missing", "missing_html", lambda: raise_(NotFound("no such thing")))
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/t/missing.json").get_json() == {
        "ok": False, "error": "no such thing", "status": 404}
    assert client.get("/t/bad.json").get_json() == {
        "ok": False, "error": "not a date", "status": 400}
    down = client.get("/t/down.json")
    assert down.status_code == 503 and down.get_json()["status"] == 503
    page = client.get("/t/missing")
    assert page.status_code == 404 and b"no such thing" in page.data


def test_markup_in_titles_is_escaped(store: FalkorStore, tmp_path: Path) -> None:
    (tmp_path / "solutions.csv").write_text(
        "solution_id,name\nS1,<script>alert(1)</script>\n")
    ingest(store, tmp_path)
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t"}).test_client()
    for url in ("/solutions/S1", "/solutions", "/search?q=script+alert"):
        body = client.get(url).data
        assert b"<script>alert(1)</script>" not in body, url
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/solutions/S1").data


def test_every_table_has_a_csv_download(client: FlaskClient) -> None:
    for url, table, column in (("/solutions/SOL-TELE.csv", "attempts", "title"),
                               ("/initiatives/INI-0021.csv", "outcomes", "measure"),
                               ("/evaluations/EVAL-0004.csv", "initiatives", "title"),
                               ("/sites/RBL.csv", "outcomes", "measure"),
                               ("/zombies.csv", "retries", "cited")):
        res = client.get(f"{url}?table={table}")
        assert res.status_code == 200, url
        rows = list(csv.DictReader(io.StringIO(res.data.decode())))
        assert rows and column in rows[0], (url, table)
    nested = client.get("/solutions/SOL-TELE.csv?table=attempts").data.decode()
    assert '""id"": ""' in nested  # nested site records are JSON text, not Python reprs
    assert client.get("/zombies.csv?table=nope").status_code == 400
    assert "table=attempts" in client.get("/solutions/SOL-TELE").data.decode()


def test_cache_computes_different_answers_concurrently(store: FalkorStore) -> None:
    """A slow answer does not hold up another: the first computation waits until the
    second one has run, which would never happen under one lock for all answers."""
    import threading

    from triedbefore.web import explore

    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test"})
    second_done = threading.Event()
    results: dict[str, object] = {}

    def slow() -> str:
        assert second_done.wait(10), "the other answer was not computed meanwhile"
        return "slow"

    def run(name: str, compute: object) -> None:
        with app.test_request_context("/"):
            results[name] = explore.cached(name, compute)  # type: ignore[arg-type]

    first = threading.Thread(target=run, args=("test:slow", slow))
    first.start()
    run("test:fast", lambda: "fast")
    second_done.set()
    first.join(15)
    assert results == {"test:slow": "slow", "test:fast": "fast"}
    calls = []
    with app.test_request_context("/"):  # and an answer is computed once per graph version
        assert explore.cached("test:fast", lambda: calls.append(1) or "again") == "fast"
    assert calls == []


def test_warm_computes_the_shared_answers_ahead(client: FlaskClient) -> None:
    from triedbefore.web import explore

    app = client.application
    with app.test_request_context("/"):
        explore.warm()

        def recomputed() -> object:
            raise AssertionError("not computed ahead")

        for name in ("zombie_rows", "verdicts", "stats", "gap:solution",
                     "gap:intervention_type"):
            assert explore.cached(name, recomputed) is not None, name


def test_site_outcomes_against_their_peers(client: FlaskClient,
                                           read_sample: FalkorStore) -> None:
    import statistics

    from triedbefore.graph import analytics, queries

    checked = 0
    for site in ("RBL", "03R", "01W", "RWJ", "36L"):
        res = client.get(f"/sites/{site}.json")
        if res.status_code != 200:
            continue
        for o in res.get_json()["outcomes"]:
            if o["relative_change"] is None:
                continue
            others = [analytics.relative_change(float(p["baseline"]), float(p["value"]),
                                                p["direction"])
                      for p in read_sample.read(queries.MEASURE_OUTCOMES,
                                                {"key": o["measure_key"]})
                      if p["outcome_id"] != o["id"] and p["baseline"] not in (None, 0)
                      and p["value"] is not None]
            values = [v for v in others if v is not None]
            assert o["peers"] == len(values)
            expected = round(statistics.median(values), 4) if values else None
            assert o["peer_median"] == expected
            checked += 1
    assert checked >= 2


def test_gap_map_pages_its_rows(client: FlaskClient) -> None:
    whole = client.get("/gap-map.json?size=500").get_json()["cells"]
    assert whole["total"] == len(whole["items"]) >= 3 and whole["next_page"] is None
    labels = [r["label"].lower() for r in whole["items"]]
    assert labels == sorted(labels)
    pages, page = [], 1
    while page is not None:
        got = client.get(f"/gap-map.json?size=2&page={page}").get_json()["cells"]
        assert len(got["items"]) <= 2 and got["total"] == whole["total"]
        pages.extend(got["items"])
        page = got["next_page"]
    assert pages == whole["items"]  # every row once, in the same order
    last = -(-whole["total"] // 2)
    for fmt in (".json", "", ".csv"):
        past = client.get(f"/gap-map{fmt}?size=2&page={last + 1}")
        assert past.status_code == 404, fmt
        assert f"past the last page ({last})" in past.get_data(as_text=True), fmt
    html = client.get("/gap-map?size=2&page=2").get_data(as_text=True)
    assert f"Rows 3 to 4 of {whole['total']}" in html and 'rel="prev"' in html
    shown = {r["row"] for r in pages[2:4]}
    drawn = {r["row"] for r in pages} - shown
    svg = html.split("</svg>")[0]
    assert all(f"solution={row}&amp;" in svg for row in shown)
    assert not any(f"solution={row}&amp;" in svg for row in drawn)
    csv_rows = list(csv.DictReader(io.StringIO(
        client.get("/gap-map.csv?size=2&page=2").get_data(as_text=True))))
    assert [r["row"] for r in csv_rows] == [r["row"] for r in pages[2:4]]


def test_zombie_filters(client: FlaskClient) -> None:
    everything = client.get("/zombies.json?size=500").get_json()
    rows = everything["zombies"]["items"]
    lags = sorted({z["lag_days"] for z in rows})
    assert len(lags) >= 2
    cut = lags[1]
    for query in (f"min_lag={cut}", f"min_lag={cut}&solution=SOL-TELE",
                  "solution=SOL-TELE", f"min_lag={cut}&as_of=2030-01-01"):
        got = client.get(f"/zombies.json?size=500&{query}").get_json()
        solution = "SOL-TELE" if "solution" in query else None
        want = [z for z in rows if z["lag_days"] >= (cut if "min_lag" in query else 0)
                and solution in (None, z["solution_id"])]
        assert got["zombies"]["items"] == want, query
        assert got["zombies"]["total"] == len(want)
        assert all(solution in (None, r["solution_id"]) for r in got["retries"])
    assert client.get("/zombies.json?solution=NOPE").get_json()["zombies"]["total"] == 0
