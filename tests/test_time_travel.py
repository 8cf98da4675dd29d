"""Time travel holds everywhere on a page: with ``as_of=D`` (or ``year``), nothing in a
page, its JSON twin or its CSV started, was published or was measured after D.

The dates each record became knowable are read here from the sample bundle's CSV files
(not from the code under test): an initiative on the first day of its start date, an
evaluation on the last day of its publication date, an outcome when its initiative had
started and its measurement period had ended (the last day of ``period_end``, or of
``period_start`` when only that is given)."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ontology.models import EPOCH, date_bounds
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
RECORD_ID = re.compile(r"\b(?:INI|EVAL|OUT|SOL)-[0-9A-Z]+\b")
SOLUTION_TABLES = ("evaluations", "attempts", "outcomes")
PROPOSALS = ("Proposal: telehealth monitoring for COPD patients",
             "Enhanced health in care homes with a named GP for every care home",
             "Discharge to assess for frail older people leaving hospital")


def _rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _day(d: date) -> int:
    return (d - EPOCH).days


@cache
def knowable() -> dict[str, int]:
    """Record id → the first day it is knowable (days since 1970-01-01)."""
    out: dict[str, int] = {}
    for row in _rows("initiatives.csv"):
        out[row["initiative_id"]] = date_bounds(row["start_date"])[0]
    for row in _rows("evaluations.csv"):
        out[row["evaluation_id"]] = date_bounds(row["published_date"])[1]
    for row in _rows("outcomes.csv"):
        measured = row["period_end"] or row["period_start"]
        out[row["outcome_id"]] = max(out[row["initiative_id"]],
                                     date_bounds(measured)[1] if measured else -10**6)
    return out


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    app = create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "test"})
    return app.test_client()


def _solution_first_days(client: FlaskClient) -> dict[str, int]:
    """Solution id → the first day one of its attempts had started or one of its
    evaluations was published (what the graph links to it today, inferred links too)."""
    out: dict[str, int] = {}
    for row in _rows("solutions.csv"):
        sid = row["solution_id"]
        today = client.get(f"/solutions/{sid}.json?size=500").get_json()
        days = [knowable()[r["id"]] for t in ("attempts", "evaluations")
                for r in today[t]["items"] if r["id"] in knowable()]
        out[sid] = min(days, default=10**6)
    return out


def _texts(client: FlaskClient, path: str, query: str, tables: tuple[str, ...]) -> list[str]:
    """The HTML page, its JSON twin and each of its CSV tables."""
    urls = [f"{path}?{query}", f"{path}.json?{query}",
            *(f"{path}.csv?{query}&table={t}" for t in tables)]
    out = []
    for url in urls:
        res = client.get(url)
        assert res.status_code == 200, (url, res.data[:300])
        out.append(res.data.decode())
    return out


def _later(texts: list[str], cut: int, own: str = "",
           solutions: dict[str, int] | None = None) -> set[str]:
    """The ids in ``texts`` of records knowable only after day ``cut``."""
    found: set[str] = set()
    for text in texts:
        for rid in RECORD_ID.findall(text):
            if rid.startswith("SOL-"):
                if solutions is not None and rid != own and solutions.get(rid, 0) > cut:
                    found.add(rid)
            elif knowable().get(rid, -10**6) > cut:
                found.add(rid)
    return found


def _query(d: date, by_year: bool) -> tuple[str, int]:
    """The request parameter for ``d`` and the day it stands for (a year: 31 December)."""
    if by_year:
        return f"year={d.year}", _day(date(d.year, 12, 31))
    return f"as_of={d.isoformat()}", _day(d)


PAGES = [f"/solutions/{r['solution_id']}" for r in _rows("solutions.csv")] + [
    "/zombies", *(f"/check?q={p}" for p in PROPOSALS)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=st.dates(date(1995, 1, 1), date(2030, 12, 31)), by_year=st.booleans(),
       page=st.sampled_from(PAGES))
def test_nothing_after_the_date_on_any_page(client: FlaskClient, when: date, by_year: bool,
                                             page: str) -> None:
    query, cut = _query(when, by_year)
    if page.startswith("/check"):
        path, _, q = page.partition("?")
        texts = _texts(client, path, f"{q}&{query}", ())
        assert not _later(texts, cut), page
    elif page == "/zombies":
        assert not _later(_texts(client, page, query, ("zombies", "retries")), cut)
    else:
        sid = page.rsplit("/", 1)[1]
        texts = _texts(client, page, f"{query}&size=500", SOLUTION_TABLES)
        assert not _later(texts, cut, sid, _solution_first_days_cached(client)), page
        _no_later_end(client.get(f"{page}.json?{query}&size=500").get_json(), cut)


def _no_later_end(data: dict[str, object], cut: int) -> None:
    """No attempt shows an end (or the status an end brings) after the date."""
    attempts = data["attempts"]["items"]  # type: ignore[index]
    for a in attempts:
        assert not a["end_date"] or date_bounds(a["end_date"])[0] <= cut, a
        if not a["end_date"]:
            assert a["status"] not in ("completed", "stopped"), a


_FIRST_DAYS: dict[int, dict[str, int]] = {}


def _solution_first_days_cached(client: FlaskClient) -> dict[str, int]:
    key = id(client.application.config["STORE"])
    if key not in _FIRST_DAYS:
        _FIRST_DAYS[key] = _solution_first_days(client)
    return _FIRST_DAYS[key]


@pytest.mark.parametrize("when", [date(2013, 1, 1), date(2016, 6, 30), date(2019, 12, 31)])
def test_every_solution_page_at_turning_points(client: FlaskClient, when: date) -> None:
    """Every solution of the sample, on dates between its waves of attempts and evidence."""
    cut = _day(when)
    first = _solution_first_days_cached(client)
    for row in _rows("solutions.csv"):
        sid = row["solution_id"]
        texts = _texts(client, f"/solutions/{sid}", f"as_of={when}&size=500", SOLUTION_TABLES)
        assert not _later(texts, cut, sid, first), sid
        _no_later_end(client.get(f"/solutions/{sid}.json?as_of={when}&size=500").get_json(),
                      cut)


# --- the three cases seen on the demo -------------------------------------------------


def _timeline(html: str) -> str:
    start = html.index('<svg class="timeline"')
    return html[start:html.index("</svg>", start)]


def test_timeline_as_of_draws_only_attempts_started_by_then(client: FlaskClient) -> None:
    html = client.get("/solutions/SOL-TELE?as_of=2014-01-01").data.decode()
    drawn = _timeline(html)
    for later in ("INI-0021", "INI-0022", "INI-0023"):
        assert later not in drawn, later
    assert "zombie" not in drawn  # no zombie repeat had started by 2014
    assert "INI-0019" in drawn and "INI-0020" in drawn
    # today the same timeline marks the zombie repeats
    assert "zombie" in _timeline(client.get("/solutions/SOL-TELE").data.decode())


def test_outcomes_as_of_only_of_initiatives_started_by_then(client: FlaskClient) -> None:
    then = client.get("/solutions/SOL-TELE.json?as_of=2014-01-01&size=500").get_json()
    cut = _day(date(2014, 1, 1))
    outcomes = then["outcomes"]
    assert outcomes["total"] == len(outcomes["items"])
    assert all(knowable()[o["id"]] <= cut and knowable()[o["initiative_id"]] <= cut
               for o in outcomes["items"]), outcomes["items"]
    today = client.get("/solutions/SOL-TELE.json?size=500").get_json()["outcomes"]
    assert any(o["initiative_id"] == "INI-0021" for o in today["items"])
    assert outcomes["total"] < today["total"]
    html = client.get("/solutions/SOL-TELE?as_of=2014-01-01").data.decode()
    assert "/initiatives/INI-0021" not in html


def test_year_twin_lists_nothing_started_later(client: FlaskClient) -> None:
    data = client.get("/solutions/SOL-TELE.json?year=2020").get_json()
    assert data["as_of"] == "2020-12-31"
    text = str(data)
    assert "INI-0023" not in text  # started 2021-01-11
    assert "INI-0022" in text  # started 2018-03
    assert {z["initiative_id"] for z in data["zombies"]} == {"INI-0021", "INI-0022"}
    assert all(a["id"] != "INI-0023" for a in data["attempts"]["items"])


def test_counts_and_evidence_years_follow_the_date(client: FlaskClient) -> None:
    then = client.get("/solutions/SOL-TELE.json?as_of=2016-01-01&size=500").get_json()
    assert then["evidence_years"] == [2014, 2015]
    for table in SOLUTION_TABLES:
        assert then[table]["total"] == len(then[table]["items"]), table
    assert {s["id"] for s in then["sites"]} == {"03R", "RA9"}


def test_check_as_of_lists_no_later_initiative(client: FlaskClient) -> None:
    cut = _day(date(2015, 1, 1))
    report = client.get(f"/check.json?q={PROPOSALS[0]}&as_of=2015-01-01").get_json()["report"]
    assert report["initiatives"], "the proposal resembles initiatives started by 2015"
    assert all(knowable()[i["initiative_id"]] <= cut for i in report["initiatives"])
    today = client.get(f"/check.json?q={PROPOSALS[0]}").get_json()["report"]
    assert any(knowable()[i["initiative_id"]] > cut for i in today["initiatives"])


def test_similar_solutions_as_of_were_tried_by_then(store: FalkorStore,
                                                    sample_copy: Path) -> None:
    """A solution first tried after the date is not offered as similar then."""
    from triedbefore.ingest.pipeline import ingest

    with (sample_copy / "solutions.csv").open("a", encoding="utf-8") as f:
        f.write("SOL-TELEX,Telehealth monitoring for COPD patients at home,COPD telehealth,"
                "Patients with COPD send daily readings from home; a nurse triages alerts.,"
                "delivery_arrangements,true,Emergency admissions for exacerbations of COPD,"
                "COPD|remote monitoring\n")
    with (sample_copy / "initiatives.csv").open("a", encoding="utf-8") as f:
        f.write("INI-0900,COPD telehealth at home,Daily readings triaged by nurses.,SOL-TELEX,"
                "03R,2022-05,,active,,,,,\n")
    assert ingest(store, sample_copy).exit_code == 0
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t"}).test_client()
    today = client.get("/solutions/SOL-TELE.json").get_json()["similar"]
    assert "SOL-TELEX" in {s["solution_id"] for s in today}
    for query in ("as_of=2014-01-01", "as_of=2022-04-30", "year=2021"):
        then = client.get(f"/solutions/SOL-TELE.json?{query}").get_json()["similar"]
        assert "SOL-TELEX" not in {s["solution_id"] for s in then}, query
        html = client.get(f"/solutions/SOL-TELE?{query}").data.decode()
        assert "SOL-TELEX" not in html, query
    on = client.get("/solutions/SOL-TELE.json?as_of=2022-05-01").get_json()["similar"]
    assert "SOL-TELEX" in {s["solution_id"] for s in on}


def test_one_day_before_a_start_hides_it(client: FlaskClient) -> None:
    """The cut is inclusive: an initiative appears on its start day, not the day before."""
    start = date(2021, 1, 11)  # INI-0023
    before = client.get(f"/solutions/SOL-TELE.json?as_of={start - timedelta(days=1)}").data
    on = client.get(f"/solutions/SOL-TELE.json?as_of={start}").data
    assert b"INI-0023" not in before and b"INI-0023" in on



def test_year_slider_reaches_this_year_from_an_earlier_date(client: FlaskClient) -> None:
    """Evidence years stop at the date shown; the slider still moves forward to today."""
    html = client.get("/solutions/SOL-TELE?year=2015").data.decode()
    slider = re.search(r'<input id="year"[^>]*>', html)
    assert slider is not None
    assert f'max="{date.today().year}"' in slider.group(0) and 'value="2015"' in slider.group(0)
    assert "Evidence published in 2014, 2015;" in html


def test_an_attempt_running_on_the_date_shows_no_later_end(client: FlaskClient) -> None:
    """INI-0021 (2016-10-01 to 2018-03, stopped) was running on 1 January 2017."""
    then = client.get("/solutions/SOL-TELE.json?as_of=2017-01-01").get_json()
    stockport = next(a for a in then["attempts"]["items"] if a["id"] == "INI-0021")
    assert stockport["end_date"] is None and stockport["status"] == "active"
    html = client.get("/solutions/SOL-TELE?as_of=2017-01-01").data.decode()
    assert "stopped" not in html
    today = client.get("/solutions/SOL-TELE.json").get_json()
    stockport = next(a for a in today["attempts"]["items"] if a["id"] == "INI-0021")
    assert stockport["end_date"] == "2018-03" and stockport["status"] == "stopped"


@pytest.mark.parametrize("when", ["2016-06-30", "2018-12-31", "2021-06-30"])
def test_solution_page_and_zombies_page_agree_on_a_date(client: FlaskClient,
                                                        when: str) -> None:
    listed = client.get(f"/zombies.json?as_of={when}").get_json()["zombies"]["items"]
    for row in _rows("solutions.csv"):
        sid = row["solution_id"]
        page = client.get(f"/solutions/{sid}.json?as_of={when}&size=500").get_json()
        marked = {a["id"] for a in page["attempts"]["items"] if a["zombie"]}
        assert {z["initiative_id"] for z in page["zombies"]} == marked == {
            z["initiative_id"] for z in listed if z["solution_id"] == sid}, sid


def test_year_slider_before_any_evidence_tells_no_later_year(client: FlaskClient) -> None:
    """Before the first evidence the slider is still there to move forward, and neither its
    range nor its marks tell when the evidence came."""
    html = client.get("/solutions/SOL-TELE?as_of=2010-06-01").data.decode()
    slider = re.search(r'<input id="year"[^>]*>', html)
    assert slider is not None
    assert 'min="2010"' in slider.group(0) and f'max="{date.today().year}"' in slider.group(0)
    marks = re.search(r'<datalist id="evidence-years">(.*?)</datalist>', html)
    assert marks is not None and marks.group(1) == ""
    assert "No evidence published by 2010-06-01" in html
