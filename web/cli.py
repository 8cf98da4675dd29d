"""The ``triedbefore`` command line: a thin layer over the library.

Domain errors become a one-line message on stderr and a non-zero exit code;
every reporting command takes ``--format json`` (stable, documented in the
README) besides the readable table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from triedbefore.graph import (
    GraphError,
    NotFound,
    RequestError,
    StoreURIError,
    names,
    queries,
    settings,
    wording,
)
from triedbefore.graph.engines import open_store
from triedbefore.graph.stats import NOTHING_LOADED
from triedbefore.graph.store import Store, parse_store_uri
from triedbefore.ingest import BundleUnreadable, IngestError
from triedbefore.ingest.export import RDF_FORMATS
from triedbefore.ontology.models import ROW_TYPES
from triedbefore.ontology.vocab import CandidateSource, CandidateStatus, Design, Finding, Label
from triedbefore.web.auth import ROLES

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_UNREADABLE = 2
EXIT_REJECTED = 3
#: A bad argument (click's own usage errors exit with 2 too).
EXIT_USAGE = 2

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      show_default=True, help="Output format.")


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"triedbefore: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _domain_errors(state: Context | None = None) -> Iterator[None]:
    """Domain errors as one line; an unknown id in a graph with nothing loaded says so
    (``state``: the command's, to look)."""
    try:
        yield
    except StoreURIError as exc:  # a bad --store argument: a usage error, as click's are
        _fail(str(exc), EXIT_USAGE)
    except BundleUnreadable as exc:
        _fail(str(exc), EXIT_UNREADABLE)
    except NotFound as exc:
        _fail(f"{exc}; {NOTHING_LOADED}" if state is not None and _nothing_loaded(state)
              else str(exc))
    except (GraphError, IngestError, RequestError) as exc:
        _fail(str(exc))


def _nothing_loaded(state: Context) -> bool:
    from triedbefore.graph.stats import nothing_loaded

    try:
        return nothing_loaded(state.store())
    except GraphError:
        return False


def _say_if_empty(state: Context) -> None:
    """Below an empty answer: say when it is empty because nothing was loaded."""
    if _nothing_loaded(state):
        click.echo(NOTHING_LOADED[0].upper() + NOTHING_LOADED[1:] + ".")


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(rows: list[list[Any]], header: list[str]) -> None:
    if "illustrative" in header:
        column = header.index("illustrative")
        if not any(row[column] for row in rows):  # no such record: no column
            header = header[:column] + header[column + 1:]
            rows = [row[:column] + row[column + 1:] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


class Context:
    def __init__(self, store_uri: str | None) -> None:
        self.store_uri = store_uri
        self._store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.store_uri)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store_uri", envvar=settings.STORE.env, default=None,
              help="Store URI (default: embedded: in the user data folder). "
                   "embedded:[PATH], falkordb://HOST:PORT[?replicas=HOST:PORT,…], "
                   "falkordb+sentinel://HOST:PORT,…/SERVICE, falkordb+unix:///PATH.sock, "
                   "neo4j://HOST, neo4j+s://HOST, bolt://HOST.")
@click.version_option(package_name="triedbefore")
@click.pass_context
def cli(ctx: click.Context, store_uri: str | None) -> None:
    """triedbefore: has this been tried before, where, and what happened?"""
    state = Context(store_uri)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _progress() -> Callable[[str, str, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(phase: str, file: str, done: int) -> None:
        click.echo(f"\r{phase:>9} {file:<18} {done:>10,} rows", err=True, nl=False)

    return show


def run_ingest(state: Context, path: str, *, fmt: str, batch_size: int | None,
               report_dir: str | None) -> int:
    from triedbefore.ingest.pipeline import ingest

    with _domain_errors():
        store = state.store()
        reports = Path(report_dir) if report_dir else settings.data_dir() / "reports"
        result = ingest(store, path, batch_size=batch_size, progress=_progress(),
                        report_dir=reports)
    if sys.stderr.isatty():
        click.echo("", err=True)
    if fmt == "json":
        _emit_json(result.to_dict())
        return result.exit_code
    rows = [[k, result.loaded.get(k, 0), result.written.get(k, 0), result.unchanged.get(k, 0),
             result.rejected.get(k, 0)] for k in result.loaded.keys() | result.rejected.keys()]
    order = [t.FILE.removesuffix(".csv") for t in ROW_TYPES]
    rows.sort(key=lambda r: order.index(r[0]))
    click.echo(f"run {result.run_id} from {result.source}")
    _table(rows, ["file", "loaded", "written", "unchanged", "rejected"])
    _changes_line(result.changes)
    shown = result.problems.kept[:50]
    if shown:
        click.echo("")
        for problem in shown:
            prefix = "warning" if problem.severity != "error" else "error"
            click.echo(f"{prefix}: {problem}")
        if len(result.problems) > len(shown):
            click.echo(f"… and {len(result.problems) - len(shown):,} more "
                       f"({result.problems.error_count:,} errors and "
                       f"{result.problems.warning_count:,} warnings in all)")
    for path_ in result.report_paths:
        click.echo(f"report: {path_}")
    return result.exit_code


def _changes_line(changes: list[dict[str, Any]]) -> None:
    """What the run changed about the evidence, in words."""
    verdicts = sum(1 for c in changes if c["change_kind"] == "verdict")
    zombies = sum(1 for c in changes if c["change_kind"] == "zombie")
    if verdicts or zombies:
        parts = [wording.plural(verdicts, "verdict change") if verdicts else "",
                 wording.plural(zombies, "new zombie repeat") if zombies else ""]
        click.echo(" and ".join(p for p in parts if p)
                   + " recorded (`triedbefore changes` lists them)")


@cli.command()
@click.argument("path", type=click.Path())
@FORMAT
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None,
              help="Rows per write transaction.")
@click.option("--report-dir", type=click.Path(file_okay=False), default=None,
              help="Where the problem report is written (default: DATA_DIR/reports).")
@click.pass_obj
def ingest(state: Context, path: str, fmt: str, batch_size: int | None,
           report_dir: str | None) -> None:
    """Load an interchange bundle (folder or .zip). Exit 0: all loaded; 3: some rows
    rejected, the rest loaded; 2: nothing could be read."""
    sys.exit(run_ingest(state, path, fmt=fmt, batch_size=batch_size, report_dir=report_dir))


@cli.command("ingest-ods")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@FORMAT
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None,
              help="Rows per write transaction.")
@click.option("--report-dir", type=click.Path(file_okay=False), default=None,
              help="Where the problem report is written (default: DATA_DIR/reports).")
@click.pass_obj
def ingest_ods(state: Context, paths: tuple[str, ...], fmt: str, batch_size: int | None,
               report_dir: str | None) -> None:
    """Load NHS organisations from ODS extracts (etr, eccg, epraccur; headerless CSV) and
    report what changed. Exit 0: all loaded; 3: some rows rejected; 2: nothing readable."""
    from triedbefore.ingest.ods import CHANGE_KINDS, ingest_ods

    with _domain_errors():
        store = state.store()
        reports = Path(report_dir) if report_dir else settings.data_dir() / "reports"
        result = ingest_ods(store, paths, batch_size=batch_size, progress=_progress(),
                            report_dir=reports)
    if sys.stderr.isatty():
        click.echo("", err=True)
    if fmt == "json":
        _emit_json(result.to_dict())
        sys.exit(result.exit_code)
    run = result.ingest
    click.echo(f"run {run.run_id} from {run.source}")
    _table([[f["file"], f["extract"], f["layout_columns"] or "", f["organisations"],
             f["skipped"], f["rejected"]] for f in result.files],
           ["file", "extract", "columns", "organisations", "skipped", "rejected"])
    click.echo(f"sites: {run.loaded.get('sites', 0)} loaded, {run.written.get('sites', 0)} "
               f"written, {run.unchanged.get('sites', 0)} unchanged")
    _changes_line(run.changes)
    click.echo("")
    if result.first_load:
        click.echo(f"first load of these organisations: {len(result.changes['opened'])} added")
    rows: list[list[Any]] = []
    for kind in CHANGE_KINDS:
        if kind == "opened" and result.first_load:
            continue
        for change in result.changes[kind]:
            if kind in ("renamed", "moved"):
                detail = f"{change['from'] or '-'} → {change['to'] or '-'}"
            elif kind == "closed":
                detail = f"closed {change['close_date']}"
            elif kind == "reopened":
                detail = f"was closed {change['was_closed']}"
            else:
                detail = f"opened {change['open_date'] or '?'}"
            rows.append([kind, change["id"], change.get("name") or change.get("to") or "",
                         detail])
    if rows:
        _table(rows, ["change", "id", "name", "detail"])
    elif not result.first_load:
        click.echo("no organisation changed")
    shown = run.problems.kept[:50]
    if shown:
        click.echo("")
        for problem in shown:
            prefix = "warning" if problem.severity != "error" else "error"
            click.echo(f"{prefix}: {problem}")
        if len(run.problems) > len(shown):
            click.echo(f"… and {len(run.problems) - len(shown):,} more "
                       f"({run.problems.error_count:,} errors and "
                       f"{run.problems.warning_count:,} warnings in all)")
    for path_ in run.report_paths:
        click.echo(f"report: {path_}")
    sys.exit(result.exit_code)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--rdf", type=click.Choice(RDF_FORMATS), default=None,
              help="Write RDF with the ontology's IRIs instead of the CSV bundle.")
@click.option("--public", is_flag=True,
              help="Export the public copy: the graph without its restricted records.")
@FORMAT
@click.pass_obj
def export(state: Context, directory: str, rdf: str | None, public: bool, fmt: str) -> None:
    """Write the graph out as an interchange bundle (or as RDF)."""
    from triedbefore.ingest.export import export_bundle, export_rdf

    with _domain_errors():
        store = state.store()
        empty = _nothing_loaded(state)
        if public:
            if not store.has_public_copy():
                from triedbefore.ingest.pipeline import PublicCopy, run

                run(store, PublicCopy())
            store = store.public_copy()
        if rdf:
            path = export_rdf(store, Path(directory), rdf)
            data: dict[str, Any] = {"rdf": str(path), "format": rdf}
        else:
            data = {"files": export_bundle(store, Path(directory)), "directory": directory}
    if fmt == "json":
        _emit_json(data)
        return
    if rdf:
        click.echo(f"wrote {data['rdf']}")
    else:
        _table([[k, v] for k, v in data["files"].items()], ["file", "rows"])
    if empty:
        _say_if_empty(state)


@cli.command()
@FORMAT
@click.pass_obj
def stats(state: Context, fmt: str) -> None:
    """Counts of nodes and relationships, and the latest ingest runs."""
    from triedbefore.graph.stats import graph_stats

    with _domain_errors():
        data = graph_stats(state.store())
    if fmt == "json":
        _emit_json(data)
        return
    click.echo(f"{data['store']} ({data['engine']})")
    _table([[k, v] for k, v in data["nodes"].items()], ["label", "nodes"])
    click.echo("")
    _table([[k, v] for k, v in data["relationships"].items()], ["relationship", "count"])
    if data["latest_runs"]:
        click.echo("")
        _table([[r.get("id"), r.get("status"),
                 str(r.get("started_at") or "")[:19].replace("T", " "), r.get("source")]
                for r in data["latest_runs"]], ["run", "status", "started", "source"])
        for r in data["latest_runs"]:
            if r.get("failure"):
                click.echo(f"{r.get('id')} failed {r['failure']}")
    _say_if_empty(state)


AS_OF = click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
                     help="Judge with the evidence published by this date (default: today).")


@cli.command()
@click.argument("solution_id")
@AS_OF
@FORMAT
@click.pass_obj
def verdict(state: Context, solution_id: str, as_of: str | None, fmt: str) -> None:
    """The evidence verdict for a solution, its strength and the rule applied."""
    from triedbefore.graph import analytics, costs, quality

    with _domain_errors(state):
        data = analytics.verdict(state.store(), solution_id, as_of)
        data["warnings"] = quality.explain(state.store(), data["verdict"],
                                           data["evaluations"])
        when = analytics.as_of_day(data["as_of"])
        data["costs"] = costs.costs_of(state.store(), [solution_id], when)[solution_id]
        data["economics"] = costs.economics_of(state.store(), solution_id, when)
        data["money_outcomes"] = costs.money_outcomes_of(state.store(), solution_id, when)
        name = names.name_of(names.named(state.store(), Label.SOLUTION, [solution_id]),
                             solution_id)
    if fmt == "json":
        _emit_json({k: v for k, v in data.items() if k != "considered"})
        return
    click.echo(f"{name} ({data['solution_id']}): {_verdict_name(data['verdict'])}, "
               f"{wording.level(data['strength'])}, as of {data['as_of']}")
    click.echo(data["explanation_titled"])
    sides = data["sides"]
    # the side that weighs more first; both, so that the reader sees what was outweighed
    order = ["negative", "positive"] if sides["negative"]["level"] > sides["positive"][
        "level"] else ["positive", "negative"]
    if sides["positive"]["count"] or sides["negative"]["count"]:
        for key in order:
            click.echo("")
            click.echo(_side_text(key, sides[key]))
            for e in sides[key]["evaluations"]:
                click.echo("  - " + _evaluation_text(e))
            more = sides[key]["count"] - len(sides[key]["evaluations"])
            if more:
                click.echo(f"  … and {more} more")
    for w in data["warnings"]:
        about = f" ({w['evaluation_id']})" if w["evaluation_id"] else ""
        click.echo(f"warning{about}: {w['reason']} [{w['reference']}]")
    click.echo("")
    _echo_costs(data["costs"])
    if data["economics"]:
        click.echo("Economic results (beside the verdict, not part of it):")
    for e in data["economics"]:
        click.echo(f"  - {e['title'] or e['id']} ({e['published_date']}): {e['text']}")
    if data["money_outcomes"]:
        click.echo("Outcomes measured in money (beside the verdict, not part of it):")
    for o in data["money_outcomes"]:
        click.echo(f"  - {_money_outcome_text(o)}")


def _money_outcome_text(o: dict[str, Any]) -> str:
    """``measure: value unit (from baseline), initiative (id)``, as the attempt reported it."""
    value = "" if o["value"] is None else f"{wording.number(o['value'], 6)} {o['unit']}"
    since = "" if o["baseline"] is None else f" (from {wording.number(o['baseline'], 6)})"
    return f"{o['measure']}: {value}{since}, {o['initiative'] or ''} ({o['initiative_id']})"


def _echo_costs(summary: dict[str, Any], indent: str = "") -> None:
    """What the attempts cost, overall and by funder (when any reported a cost)."""
    click.echo(f"{indent}Cost of attempts: {summary['text']}")
    if summary["reported"]:
        for f in summary["by_funder"]:
            click.echo(f"{indent}  - {f['funder']}: {f['text']}")


def _verdict_name(verdict: str) -> str:
    return verdict.replace("_", " ")


def _side_text(key: str, side: dict[str, Any]) -> str:
    finding = "a positive effect" if key == "positive" else "no effect or harm"
    if not side["count"]:
        return f"Found {finding}: no evaluation with a strength level."
    if side["count"] == 1:
        return f"Found {finding}: 1 evaluation, at {wording.level(side['level'])}:"
    return (f"Found {finding}: {side['count']} evaluations, the strongest at "
            f"{wording.level(side['level'])}; strongest first:")


def _evaluation_text(e: dict[str, Any]) -> str:
    parts = [wording.design(e.get("design")),
             wording.level(e.get("level")), str(e.get("finding") or "").replace("_", " "),
             f"published {e.get('published_date') or 'on an unknown date'}"]
    if e.get("independent"):
        parts.append("independent")
    if e.get("illustrative"):
        parts.append("illustrative")
    return f"{e.get('title') or e['id']} ({e['id']}): {', '.join(parts)}"


def _repeats(state: Context, as_of: str | None, fmt: str, retries: bool) -> None:
    from triedbefore.graph import analytics

    with _domain_errors():
        zombies, informed = analytics.repeats(state.store(), as_of)
        found = informed if retries else zombies
        if fmt != "json":
            store = state.store()
            initiatives = names.named(store, Label.INITIATIVE, [
                *(r.initiative_id for r in found), *(c for r in found for c in r.cited)])
            solutions = names.named(store, Label.SOLUTION, (r.solution_id for r in found))
            evaluations = names.named(store, Label.EVALUATION, [
                *(e for r in found for e in r.ignored_evaluations),
                *(c for r in found for c in r.cited)])
    if fmt == "json":
        _emit_json([r.to_dict() for r in found])
        return
    if not found:
        click.echo("No informed re-tries." if retries else "No zombie repeats.")
        _say_if_empty(state)
        return

    def name(found_names: dict[str, names.Named], node_id: str) -> str:
        return _short(names.name_of(found_names, node_id))

    header = ["initiative", "solution", "ignored evaluations", "lag"]
    rows: list[list[Any]] = []
    for r in found:
        shown = [initiatives.get(r.initiative_id), solutions.get(r.solution_id),
                 *(evaluations.get(e) for e in r.ignored_evaluations)]
        row: list[Any] = [
            names.name_of(initiatives, r.initiative_id),
            names.name_of(solutions, r.solution_id)
            + (" (inferred link)" if r.inferred_link else ""),
            "; ".join(name(evaluations, e) for e in r.ignored_evaluations) or "none",
            wording.days(r.lag_days)]
        if retries:
            cited = [evaluations.get(c) or initiatives.get(c) for c in r.cited]
            row.append("; ".join(_short(n.name) if n else c
                                 for n, c in zip(cited, r.cited, strict=True)))
            shown += cited
        row.append("yes" if any(n and n.illustrative for n in shown) else "")
        rows.append(row)
    if retries:
        header.append("cited")
    header.append("illustrative")
    _table(rows, header)
    _illustrative_note(rows, header)


def _short(text: str, width: int = 60) -> str:
    """A long title cut at a word for a table cell (the JSON keeps ids, the pages titles)."""
    if len(text) <= width:
        return text
    return text[:width - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _illustrative_note(rows: list[list[Any]], header: list[str]) -> None:
    if "illustrative" in header and any(row[header.index("illustrative")] for row in rows):
        click.echo("")
        click.echo("illustrative: the row shows records invented to illustrate the analytics "
                   "(no real project, study or organisation)")


@cli.command()
@AS_OF
@FORMAT
@click.pass_obj
def zombies(state: Context, as_of: str | None, fmt: str) -> None:
    """Initiatives that repeated a solution already shown not to work, ignoring the evidence."""
    _repeats(state, as_of, fmt, retries=False)


@cli.command()
@AS_OF
@FORMAT
@click.pass_obj
def retries(state: Context, as_of: str | None, fmt: str) -> None:
    """Informed re-tries: repeats of a failed solution that cite the failed evidence."""
    _repeats(state, as_of, fmt, retries=True)


@cli.command()
@AS_OF
@FORMAT
@click.pass_obj
def spread(state: Context, as_of: str | None, fmt: str) -> None:
    """Solutions tried at three or more sites that nobody has evaluated."""
    from triedbefore.graph import analytics

    with _domain_errors():
        data = analytics.spread(state.store(), as_of)
        if fmt != "json":
            solutions = names.named(state.store(), Label.SOLUTION,
                                    (d["solution_id"] for d in data))
            sites = names.named(state.store(), Label.SITE, (s for d in data for s in d["sites"]))
    if fmt == "json":
        _emit_json(data)
        return
    if not data:
        click.echo("No solution tried at three or more sites is unevaluated.")
        _say_if_empty(state)
        return
    rows: list[list[Any]] = []
    for d in data:
        shown = [names.name_of(sites, s) for s in d["sites"][:SITES_SHOWN]]
        more = len(d["sites"]) - len(shown)
        flagged = [solutions.get(d["solution_id"]), *(sites.get(s) for s in d["sites"])]
        rows.append([names.name_of(solutions, d["solution_id"]), len(d["sites"]),
                     "; ".join(shown) + (f"; and {more} more" if more else ""),
                     "yes" if any(n and n.illustrative for n in flagged) else ""])
    header = ["solution", "sites", "tried at", "illustrative"]
    _table(rows, header)
    _illustrative_note(rows, header)


#: Sites named per solution in the spread table (the JSON lists them all).
SITES_SHOWN = 3


@cli.command()
@click.option("--measure", required=True, help="The outcome measure, as written in outcomes.")
@FORMAT
@click.pass_obj
def deviance(state: Context, measure: str, fmt: str) -> None:
    """Positive deviance: sites that improved far more than their peers on one measure."""
    from triedbefore.graph import analytics

    with _domain_errors(state):
        result = analytics.deviance(state.store(), measure)
        store = state.store()
        sites = names.named(store, Label.SITE, (d["site_id"] for d in result.deviants))
        outcomes = names.named(store, Label.OUTCOME, (d["outcome_id"] for d in result.deviants))
        initiatives = names.named(store, Label.INITIATIVE,
                                  (d["initiative_id"] for d in result.deviants))
    if fmt == "json":
        _emit_json([{k: d[k] for k in ("site_id", "baseline", "value", "relative_change",
                                       "score")} for d in result.deviants])
        return
    click.echo(f"{result.measure}: {result.note}")
    if result.deviants:
        rows = []
        for d in result.deviants:
            flagged = [sites.get(d["site_id"]), outcomes.get(d["outcome_id"]),
                       initiatives.get(d["initiative_id"])]
            rows.append([names.name_of(sites, d["site_id"]),
                         wording.number(d["baseline"]), wording.number(d["value"]),
                         d.get("unit") or "", wording.change(d["relative_change"]),
                         f"{d['score']:.1f}",
                         "yes" if any(n and n.illustrative for n in flagged) else ""])
        header = ["site", "baseline", "value", "unit", "relative change", "robust z",
                  "illustrative"]
        _table(rows, header)
        _illustrative_note(rows, header)


@cli.command()
@click.option("--accept", nargs=2, metavar="INITIATIVE_ID SOLUTION_ID", default=None,
              help="Record a curator's acceptance of a link.")
@click.option("--reject", nargs=2, metavar="INITIATIVE_ID SOLUTION_ID", default=None,
              help="Record a curator's rejection (never proposed again).")
@FORMAT
@click.pass_obj
def resolve(state: Context, accept: tuple[str, str] | None, reject: tuple[str, str] | None,
            fmt: str) -> None:
    """Propose solutions for initiatives loaded without one; or record a curator's decision."""
    from triedbefore.graph import resolution
    from triedbefore.ingest.curation import decide
    from triedbefore.ingest.pipeline import ResolveAll, run
    from triedbefore.ontology.vocab import LinkHow

    with _domain_errors():
        store = state.store()
        if accept and reject:
            _fail("give --accept or --reject, not both")
        if accept or reject:
            iid, sid = accept or reject  # type: ignore[misc]
            how = LinkHow.ACCEPTED if accept else LinkHow.REJECTED
            results = [decide(store, iid, sid, how.value)]
        else:
            run(store, ResolveAll())
            results = resolution.proposals(store)
    if fmt == "json":
        _emit_json([{"initiative_id": r.initiative_id, "solution_id": r.solution_id,
                     "score": r.score, "status": r.status} for r in results])
        return
    if not results:
        click.echo("No initiative is waiting for a solution.")
        _say_if_empty(state)
        return
    _table([[r.initiative_id, r.solution_id or "",
             "" if r.score is None else wording.percent(r.score, 0), r.status]
            for r in results], ["initiative", "solution", "match", "status"])


#: The most hits `search` lists.
SEARCH_LIMIT_MAX = 100


@cli.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, SEARCH_LIMIT_MAX), default=10, show_default=True)
@click.option("--all", "everything", is_flag=True,
              help="List the hits below the relevance floor too.")
@FORMAT
@click.pass_obj
def search(state: Context, text: tuple[str, ...], limit: int, everything: bool,
           fmt: str) -> None:
    """Search solutions, initiatives, evaluations and sites, by words and by meaning."""
    from triedbefore.graph import hybrid

    with _domain_errors():
        report = hybrid.search(state.store(), " ".join(text), limit, everything=everything)
        hits = report["hits"]
        if fmt != "json":
            flagged: dict[str, names.Named] = {}
            for kind, label in SEARCH_KINDS.items():
                flagged |= names.named(state.store(), label,
                                       (h["id"] for h in hits if h["kind"] == kind))
    if fmt == "json":
        _emit_json(hits)
        return
    if report["message"]:
        click.echo(report["message"])
    if report["cut"]:
        click.echo("The query was long: only its beginning was searched "
                   "(search_max_query_chars).")
    if report["did_you_mean"]:
        click.echo(f"Did you mean: {report['did_you_mean']}?")
    if not hits:
        if not report["message"]:
            click.echo("Nothing found.")
        _say_if_empty(state)
        if report["below_floor"] and not everything:
            click.echo(f"{report['below_floor']} weaker matches not shown (--all lists them).")
        return
    verdicts = _recorded_verdicts(state.store(), [h["id"] for h in hits
                                                  if h["kind"] == "solution"])
    rows = [[h["kind"], h["name"], h["id"], wording.percent(h["score"], 0),
             verdicts.get(h["id"], "") if h["kind"] == "solution" else "", _why(h["why"]),
             "yes" if h["id"] in flagged and flagged[h["id"]].illustrative else ""]
            for h in hits]
    header = ["kind", "name", "id", "match", "verdict", "why", "illustrative"]
    _table(rows, header)
    _illustrative_note(rows, header)
    more = (report["listed"] + (report["below_floor"] if everything else 0)) - len(hits)
    if more > 0:
        wanted = len(hits) + more
        click.echo(f"{more} more matches not shown (--limit {min(wanted, SEARCH_LIMIT_MAX)} "
                   + ("lists them)." if wanted <= SEARCH_LIMIT_MAX else
                      f"lists the best {SEARCH_LIMIT_MAX}; add words to narrow the search)."))
    if report["below_floor"] and not everything:
        click.echo(f"{report['below_floor']} weaker matches not shown (--all lists them).")


def _recorded_verdicts(store: Store, ids: list[str]) -> dict[str, str]:
    """Each solution's verdict as the graph records it (the public copy's own on a
    public copy), in words: no whole-graph computation for a command."""
    if not ids:
        return {}
    with _domain_errors():
        rows = store.read(queries.RECORDED_VERDICTS, {"ids": ids})
    out: dict[str, str] = {}
    for r in rows:
        mine = r["verdict"] is not None
        out[str(r["id"])] = _verdict_words(
            (r["verdict"] if mine else r["public_verdict"]) or "unevaluated",
            r["strength"] if mine else r["public_strength"])
    return out


def _why(why: dict[str, Any]) -> str:
    """Why a hit matched, in words: the query's words it holds, or a similar meaning."""
    parts = [f"words: {', '.join(why['words'])}"] if why["words"] else []
    if why["meaning"] is not None:
        parts.append("similar meaning")
    return "; ".join(parts)


#: The labels of the kinds of search hits.
SEARCH_KINDS = {"solution": Label.SOLUTION, "initiative": Label.INITIATIVE,
                "evaluation": Label.EVALUATION, "site": Label.SITE}


@cli.command()
@click.argument("text", nargs=-1, required=True)
@AS_OF
@click.option("--site", default=None, metavar="ODS_CODE_OR_NAME",
              help="The proposer's organisation: warn when its context lies outside what "
                   "the evidence covered, and list the attempts in places like it.")
@FORMAT
@click.pass_obj
def check(state: Context, text: tuple[str, ...], as_of: str | None, site: str | None,
          fmt: str) -> None:
    """Check a proposal: closest solutions, their verdicts, zombie risk, what to read first."""
    from triedbefore.graph import search as searching

    with _domain_errors():
        report = searching.check(state.store(), " ".join(text), as_of, site=site)
    if fmt == "json":
        _emit_json({k: report[k] for k in ("zombie_risk", "read_first", "initiatives",
                                           "places", "as_of", "site_context") if k in report}
                   | {"matches": [{k: m[k] for k in ("solution_id", "name", "score", "verdict",
                                                     "strength", "explanation",
                                                     "illustrative", "costs")}
                                  for m in report["matches"]]})
        return
    if not report["matches"]:
        click.echo("No known solution matches this proposal closely.")
    for n, m in enumerate(report["matches"]):
        click.echo(f"{'Closest solution' if n == 0 else 'Also close'}: {m['name']}"
                   f"{_ILLUSTRATIVE if m['illustrative'] else ''}: "
                   f"{_verdict_words(m['verdict'], m['strength'])}. {m['explanation_titled']}")
        _echo_costs(m["costs"], "  ")
    click.echo("Zombie risk: " + ("YES: the evidence says this does not work and the "
                                  "proposal does not cite it" if report["zombie_risk"]
                                  else "no"))
    if report["read_first"]:
        click.echo("Read first:")
    for n, e in enumerate(report["read_first"], 1):
        level = f"SMS level {e['level']}" if e["level"] else "no strength level"
        finding = (e["finding"] or "finding not recorded").replace("_", " ")
        click.echo(f"  {n}. {e['title'] or e['evaluation_id']}"
                   f"{_ILLUSTRATIVE if e['illustrative'] else ''} ({e['design_label']}, "
                   f"{level}, {finding}, {e['published_date'] or 'date not recorded'})")
        click.echo(f"     {e['reason']}")
    if report["places"]:
        click.echo("Places the proposal names: "
                   + ", ".join(p["name"] for p in report["places"]))
    if report["initiatives"]:
        click.echo("Similar past initiatives:")
    for n, i in enumerate(report["initiatives"], 1):
        where = "; ".join(s["name"] or s["id"] for s in i["sites"]) or "site not recorded"
        when = (f"{i['start_date']} to {i['end_date']}" if i["start_date"] and i["end_date"]
                else f"from {i['start_date']}" if i["start_date"] else "dates not recorded")
        mark = (", zombie repeat" if i["zombie"] else
                ", informed re-try" if i["informed_retry"] else "")
        verdict = (f"; {i['solution_name']}: {_verdict_words(i['verdict'], i['strength'])}"
                   if i["solution_id"] else "")
        click.echo(f"  {n}. {i['title'] or i['initiative_id']}"
                   f"{_ILLUSTRATIVE if i['illustrative'] else ''} ({where}; {when}; "
                   f"{i['status'] or 'status not recorded'}{mark}{verdict})")
        click.echo(f"     {i['reason']}")
    if "site_context" in report:
        _check_site_text(report["site_context"])


_ILLUSTRATIVE = " [illustrative]"


def _verdict_words(verdict: str | None, strength: int | None) -> str:
    """A verdict as the explorer's badge says it ("does not work, SMS level 5")."""
    words = (verdict or "no verdict").replace("_", " ")
    return f"{words}, SMS level {strength}" if strength else words


@cli.group(invoke_without_command=True)
@click.option("--status", type=click.Choice([s.value for s in CandidateStatus]),
              default=None, help="Only candidates with this status.")
@click.option("--solution", "solution_id", default=None, help="Only candidates of a solution.")
@FORMAT
@click.pass_context
def candidates(ctx: click.Context, status: str | None, solution_id: str | None,
               fmt: str) -> None:
    """Candidate evaluations found in ClinicalTrials.gov and Europe PMC, for a curator to
    accept or reject. Without a subcommand: list them."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(candidates_list, status=status, solution_id=solution_id, fmt=fmt)


def _candidate_rows(rows: list[dict[str, Any]]) -> None:
    _table([[r["id"], r["solution_id"], r["status"], r["source"], r["published_date"] or "",
             r["design"] or "?", (r["title"] or "")[:60]] for r in rows],
           ["candidate", "solution", "status", "source", "published", "design", "title"])


@candidates.command("list")
@click.option("--status", type=click.Choice([s.value for s in CandidateStatus]),
              default=None, help="Only candidates with this status.")
@click.option("--solution", "solution_id", default=None, help="Only candidates of a solution.")
@FORMAT
@click.pass_obj
def candidates_list(state: Context, status: str | None, solution_id: str | None,
                    fmt: str) -> None:
    """List candidate evaluations."""
    from triedbefore.ingest import candidates as cands

    with _domain_errors():
        rows = cands.list_candidates(state.store(),
                                     status=CandidateStatus(status) if status else None,
                                     solution_id=solution_id)
    if fmt == "json":
        _emit_json(rows)
        return
    if not rows:
        click.echo("No candidate evaluations.")
        _say_if_empty(state)
        return
    _candidate_rows(rows)


@candidates.command("fetch")
@click.argument("solution_id")
@click.option("--source", "source", type=click.Choice([s.value for s in CandidateSource]),
              default=None, help="One source only (default: both; Europe PMC only with --doi).")
@click.option("--query", default=None, help="Search text (default: the solution's name).")
@click.option("--doi", default=None, help="Europe PMC: the article with this DOI.")
@click.option("--condition", default=None, help="ClinicalTrials.gov: the condition studied.")
@click.option("--intervention", default=None,
              help="ClinicalTrials.gov: the intervention studied.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=None,
              help="Stop after this many records per source (default: follow every page).")
@FORMAT
@click.pass_obj
def candidates_fetch(state: Context, solution_id: str, source: str | None, query: str | None,
                     doi: str | None, condition: str | None, intervention: str | None,
                     limit: int | None, fmt: str) -> None:
    """Search the registries and the literature for evaluations of a solution; what they
    find becomes candidates (never facts until accepted)."""
    from triedbefore.ingest.sources import candidates as cands
    from triedbefore.ingest.sources.client import HttpClient

    client = HttpClient()
    try:
        with _domain_errors():
            result = cands.fetch(state.store(), client, solution_id,
                                 sources=[CandidateSource(source)] if source else None,
                                 query=query, doi=doi, condition=condition,
                                 intervention=intervention, limit=limit)
    finally:
        client.close()
    if fmt == "json":
        _emit_json(result.to_dict())
        return
    for search in result.searches:
        click.echo(f"{search['source']}: {search['query']}")
    click.echo(f"found {result.found}: {len(result.new)} new, {len(result.updated)} "
               f"updated, skipped {result.skipped['rejected']} rejected, "
               f"{result.skipped['accepted']} accepted, {result.skipped['in_graph']} already "
               f"in the graph ({result.requests} requests)")


@candidates.command("accept")
@click.argument("candidate_id")
@click.option("--initiative", "initiatives", multiple=True, required=True,
              help="An initiative the study evaluated (repeat for several).")
@click.option("--finding", required=True,
              type=click.Choice([f.value for f in Finding]),
              help="What the study found.")
@click.option("--design", type=click.Choice([d.value for d in Design]), default=None,
              help="The design, if not the one guessed.")
@click.option("--published-date", default=None, metavar="YYYY[-MM[-DD]]",
              help="The publication date, if not the candidate's.")
@FORMAT
@click.pass_obj
def candidates_accept(state: Context, candidate_id: str, initiatives: tuple[str, ...],
                      finding: str, design: str | None, published_date: str | None,
                      fmt: str) -> None:
    """Accept a candidate: load it as an evaluation, with its source, URL and retrieval
    time."""
    from triedbefore.ingest import candidates as cands

    with _domain_errors():
        done = cands.accept(state.store(), candidate_id, initiative_ids=initiatives,
                            finding=finding, design=design, published_date=published_date)
    if fmt == "json":
        _emit_json(done)
    else:
        click.echo(f"accepted {done['id']} as evaluation {done['evaluation_id']}")


@candidates.command("reject")
@click.argument("candidate_id")
@FORMAT
@click.pass_obj
def candidates_reject(state: Context, candidate_id: str, fmt: str) -> None:
    """Reject a candidate; later fetches never propose it again for that solution."""
    from triedbefore.ingest import candidates as cands

    with _domain_errors():
        done = cands.reject(state.store(), candidate_id)
    if fmt == "json":
        _emit_json(done)
    else:
        click.echo(f"rejected {done['id']}")


@cli.command()
@click.option("--since", default=None, metavar="YYYY-MM-DD",
              help="Only changes recorded on or after this date.")
@FORMAT
@click.pass_obj
def changes(state: Context, since: str | None, fmt: str) -> None:
    """Verdict changes and new zombie repeats recorded by ingest runs, newest first."""
    from triedbefore.graph import changes as living

    with _domain_errors():
        found = living.list_changes(state.store(), since)
    if fmt == "json":
        _emit_json(found)
        return
    if not found:
        click.echo("No verdict changes or new zombie repeats recorded"
                   + (f" since {since}." if since else "."))
        _say_if_empty(state)
        return
    rows = []
    for c in found:
        what = (f"{_verdict_name(c['from_verdict'] or 'unevaluated')} → "
                f"{_verdict_name(c['to_verdict'])}" if c["change_kind"] == "verdict"
                else f"zombie repeat {c['initiative_id']}")
        rows.append([str(c["changed_at"])[:19].replace("T", " "),
                     c.get("solution_name") or c["solution_id"], what,
                     wording.level(c["strength"]), ", ".join(c["evaluations"]), c["run_id"]])
    click.echo(f"{wording.plural(len(found), 'change')}, newest first:")
    _table(rows, ["recorded", "solution", "change", "strength", "evaluations", "run"])


@cli.group()
def user() -> None:
    """Manage the explorer's accounts (roles: contributor, viewer, curator, admin)."""


USERS_FILE = click.option("--users-file", type=click.Path(dir_okay=False), default=None,
                          help="The accounts file (default: DATA_DIR/users.json).")


def _users_file(path: str | None) -> Path:
    return Path(path) if path else settings.data_dir() / "users.json"


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer",
              show_default=True, help="curator: may accept or reject solution links; "
                                      "admin: everything.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (no prompt).")
@click.option("--replace", is_flag=True,
              help="Replace the password and role of an existing user.")
@USERS_FILE
@FORMAT
def user_add(name: str, role: str, password_stdin: bool, replace: bool,
             users_file: str | None, fmt: str) -> None:
    """Add an account; the password is asked for twice (hidden) and stored hashed."""
    from triedbefore.web import auth

    try:
        auth.validate(name, None, role)
    except auth.UserError as exc:
        _fail(str(exc))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    path = _users_file(users_file)
    try:
        added = auth.add_user(path, name, password, role, replace=replace)
    except (auth.UserError, OSError) as exc:
        _fail(str(exc))
    if fmt == "json":
        _emit_json({**added.to_dict(), "users_file": str(path)})
    else:
        click.echo(f"saved {added.name} ({added.role}) "
                   f"in {path}")


@user.command("list")
@USERS_FILE
@FORMAT
def user_list(users_file: str | None, fmt: str) -> None:
    """The accounts and their roles (never their passwords)."""
    from triedbefore.web import auth

    try:
        users = auth.list_users(_users_file(users_file))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the users file: {exc}")
    if fmt == "json":
        _emit_json([u.to_dict() for u in users])
        return
    if not users:
        click.echo("No accounts yet; add one with `triedbefore user add NAME`.")
        return
    _table([[u.name, u.role, u.created_at] for u in users], ["name", "role", "created"])


@user.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for (kept beside its hash).")
@click.option("--revoke", is_flag=True, help="Remove every token of the user instead.")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Days the token lasts (default the token_days setting, 90; 0: never "
                   "expires).")
@USERS_FILE
@FORMAT
def user_token(name: str, label: str, revoke: bool, days: int | None, users_file: str | None,
               fmt: str) -> None:
    """Make an API token for NAME (printed once; send it as `Authorization: Bearer TOKEN`;
    its expiry is shown on stderr), or --revoke all of NAME's tokens."""
    from triedbefore.web import auth

    path = _users_file(users_file)
    try:
        if revoke:
            count = auth.revoke_tokens(path, name)
        else:
            made = auth.add_token(path, name, label, days=days)
    except (auth.UserError, OSError, ValueError) as exc:
        _fail(str(exc))
    if revoke:
        if fmt == "json":
            _emit_json({"name": name, "revoked": count})
        else:
            click.echo(f"revoked {count} token{'s' if count != 1 else ''} of {name}")
    elif fmt == "json":
        _emit_json({"name": name, "token": made.token, "expires_at": made.expires_at})
    else:
        click.echo(made.token)
        click.echo(f"expires {made.expires_at}" if made.expires_at else "never expires",
                   err=True)


@cli.group()
def db() -> None:
    """Manage the embedded FalkorDB server."""


def _server(state: Context) -> Any:
    from triedbefore.graph.embedded import EmbeddedServer

    with _domain_errors():
        uri = parse_store_uri(state.store_uri)
    if uri.engine != "embedded":
        _fail(f"`db` manages the embedded store only; the store is {uri.display}")
    return EmbeddedServer(uri.path or settings.data_dir(),
                          fsync=uri.options.get("fsync", settings.FSYNC.get()))


@db.command("start")
@click.option("--replicas", type=click.IntRange(1, 16), default=None,
              help="Make the store a replicated deployment on this machine: the folder's "
                   "server as primary, this many replicas and Sentinels (docs/scaling.md).")
@click.option("--sentinels", type=click.IntRange(1, 9), default=3, show_default=True,
              help="With --replicas: Sentinels watching the primary.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="With --replicas: first TCP port (of 127.0.0.1) of the nodes, then the "
                   "Sentinels; 0 picks free ports.")
@click.option("--down-after-ms", type=click.IntRange(100, 3_600_000),
              default=None, help="With --replicas: milliseconds without an answer before "
                                 "the Sentinels fail the primary over [default: 5000].")
@FORMAT
@click.pass_obj
def db_start(state: Context, replicas: int | None, sentinels: int, port: int,
             down_after_ms: int | None, fmt: str) -> None:
    """Start the embedded server (or report the running one); with --replicas, or in a
    folder that has a replicated deployment, every process of it."""
    topology = _topology(state, create=replicas is not None)
    if topology is not None:
        from triedbefore.graph.topology import DOWN_AFTER_MS

        with _domain_errors():
            if replicas is not None:
                topology.create(replicas=replicas, sentinels=sentinels, port=port,
                                down_after_ms=down_after_ms or DOWN_AFTER_MS)
            found = topology.start(fsync=_fsync(state))
        _print_topology(found, fmt)
        return
    server = _server(state)
    with _domain_errors():
        server.ensure_running()
        status = server.status()
    _print_status(status, fmt)


@db.command("stop")
@FORMAT
@click.pass_obj
def db_stop(state: Context, fmt: str) -> None:
    """Stop the embedded server, flushing its append-only file (every process of a
    replicated deployment, by pid, and the query console's replica)."""
    from triedbefore.graph.console_server import stop_console_server

    topology = _topology(state, create=False)
    if topology is not None:
        with _domain_errors():
            stop_console_server(_server(state).data_dir)  # the query console's replica
            stopped = topology.stop()
        if fmt == "json":
            _emit_json({"stopped": {name: was for name, was in stopped}})
        else:
            for name, was in stopped:
                click.echo(f"{name:>12}: {'stopped' if was else 'not running'}")
        return
    server = _server(state)
    with _domain_errors():
        stop_console_server(server.data_dir)  # the query console's replica, if any
        was_running = server.stop()
        status = server.status()
    if fmt == "json":
        _emit_json({"stopped": was_running, **status.to_dict()})
    else:
        click.echo("stopped" if was_running else "not running")


@db.command("status")
@FORMAT
@click.pass_obj
def db_status(state: Context, fmt: str) -> None:
    """Whether the embedded server runs, its pid, socket and data folder (every process
    of a replicated deployment, its role, and where the primary is)."""
    topology = _topology(state, create=False)
    if topology is not None:
        with _domain_errors():
            found = topology.status()
        _print_topology(found, fmt)
        return
    server = _server(state)
    with _domain_errors():
        status = server.status()
    _print_status(status, fmt)


def _fsync(state: Context) -> str:
    with _domain_errors():
        uri = parse_store_uri(state.store_uri)
    return uri.options.get("fsync", settings.FSYNC.get())


def _topology(state: Context, *, create: bool) -> Any:
    """The replicated deployment of the embedded store's folder: when it has one, or
    ``create``; None otherwise."""
    from triedbefore.graph.topology import LocalTopology

    with _domain_errors():
        uri = parse_store_uri(state.store_uri)
    if uri.engine != "embedded":
        _fail(f"`db` manages the embedded store only; the store is {uri.display}")
    folder = uri.path or settings.data_dir()
    if create or LocalTopology.exists(folder):
        return LocalTopology(folder)
    return None


def _print_topology(found: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        _emit_json(found)
        return
    click.echo(f"primary: {found['primary'] or 'none'}")
    click.echo(f"store URI (processes of this machine): {found['store_uri']}")
    rows = [[m["name"], m["role"] or "-", m["port"], "yes" if m["running"] else "no",
             m["pid"] or "-", m.get("replica_of") or "", m.get("link") or "",
             m.get("offset") if m.get("offset") is not None else "", m["folder"]]
            for m in found["members"]]
    _table(rows, ["process", "role", "port", "running", "pid", "replica of", "link",
                  "offset", "folder"])
    for entry in found.get("set_aside", []):
        click.echo(f"{entry['name']} could not load its own files: they are kept in "
                   f"{entry['kept_in']}, and it copied the graph from the primary again")


def _print_status(status: Any, fmt: str) -> None:
    data = status.to_dict()
    if fmt == "json":
        _emit_json(data)
    else:
        for key, value in data.items():
            shown = {True: "yes", False: "no", None: "-"}.get(value, value) \
                if isinstance(value, bool) or value is None else value
            click.echo(f"{key.replace('_', ' '):>12}: {shown}")


def demo_bundle() -> Path:
    from importlib.resources import files

    return Path(str(files("triedbefore.ingest.demo").joinpath("bundle")))


SERVE_OPTIONS = (
    click.option("--host", default="127.0.0.1", show_default=True),
    click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
                 help="0 picks a free port."),
    click.option("--workers", type=click.IntRange(1, 64), default=None,
                 help="Worker processes (gunicorn) [default: setting `workers`]; 1 serves "
                      "from this process with threads."),
)


def _serve_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(SERVE_OPTIONS):
        command = option(command)
    return command


@cli.command()
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Serve the explorer once the demo corpus is loaded.")
@_serve_options
@click.pass_obj
def demo(state: Context, serve: bool, host: str, port: int, workers: int | None) -> None:
    """Load the demo corpus (real NHS organisations, the 2015 vanguards and their
    evaluations, and labelled illustrative records) and open the explorer on it."""
    code = run_ingest(state, str(demo_bundle()), fmt="table", batch_size=None, report_dir=None)
    if code not in (EXIT_OK, EXIT_REJECTED):
        sys.exit(code)
    if serve:
        _serve(state, host, port, workers)


@cli.command()
@_serve_options
@click.pass_obj
def serve(state: Context, host: str, port: int, workers: int | None) -> None:
    """Serve the explorer."""
    _serve(state, host, port, workers)


def _serve(state: Context, host: str, port: int, workers: int | None) -> None:
    from triedbefore.web.app import create_app
    from triedbefore.web.serving import serve as run

    with _domain_errors():
        state.store()  # reachable (an embedded server started) before serving
        count = workers or int(settings.WORKERS.get())

    def ready(bound_host: str, bound_port: int) -> None:
        click.echo(f"explorer on http://{bound_host}:{bound_port}/ "
                   f"({count} worker{'s' if count != 1 else ''}; Ctrl-C stops it)")

    with _domain_errors():
        run(lambda: create_app({"STORE_URI": state.store_uri}), host, port, workers=count,
            ready=ready)


# --- design once, adapt locally: site context, places like yours, the design -----------
# (graph/context.py, ingest/context.py, docs/adaptations.md)


def _ctx_words(value: Any) -> str:
    return "" if value is None else str(value).replace("_", " ")


@cli.command("ingest-context")
@click.argument("paths", nargs=-1, required=True)
@FORMAT
@click.option("--report-dir", type=click.Path(file_okay=False), default=None,
              help="Where the problem report is written (default: DATA_DIR/reports).")
@click.pass_obj
def ingest_context_command(state: Context, paths: tuple[str, ...], fmt: str,
                           report_dir: str | None) -> None:
    """Add deprivation (OHID Fingertips IMD 2019 by GP practice), size (NHS Digital
    patients registered at a GP practice) and rurality (ONS 2011 rural-urban class by
    site code) to the graph's sites. PATHS are files or http(s) URLs of the official
    files. Exit 0: all read; 3: some rows rejected; 2: no file readable."""
    from triedbefore.ingest.context import ContextUnreadable, ingest_context
    from triedbefore.ingest.sources.context import fetch_context_file

    with _domain_errors():
        local: list[Path] = []
        for path in paths:
            if path.startswith(("http://", "https://")):
                local.append(fetch_context_file(path, settings.data_dir() / "cache" / "context"))
            else:
                local.append(Path(path))
        reports = Path(report_dir) if report_dir else settings.data_dir() / "reports"
        try:
            result = ingest_context(state.store(), local, progress=_progress(),
                                    report_dir=reports)
        except ContextUnreadable as exc:
            click.echo(f"triedbefore: error: {exc}", err=True)
            sys.exit(2)
    if fmt == "json":
        _emit_json(result.to_dict())
        sys.exit(result.exit_code)
    run = result.ingest
    click.echo(f"run {run.run_id} from {run.source}")
    _table([[f["file"], f["kind"], f["rows"], f["values"], f["rejected"], f["not_in_graph"]]
            for f in result.files],
           ["file", "gives", "rows", "values", "rejected", "codes not in the graph"])
    click.echo(f"sites written: {run.written.get('sites', 0)}")
    cov = result.coverage
    _table([[kind, n, cov.imd.get(kind, 0), cov.rurality.get(kind, 0),
             cov.patients.get(kind, 0)] for kind, n in sorted(cov.sites.items())],
           ["kind", "sites", "with deprivation", "with rurality", "with patients"])
    for problem in run.problems.kept[:50]:
        click.echo(f"{'warning' if problem.severity != 'error' else 'error'}: {problem}")
    sys.exit(result.exit_code)


@cli.command()
@click.argument("site")
@click.argument("solution_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@FORMAT
@click.pass_obj
def like(state: Context, site: str, solution_id: str, limit: int, fmt: str) -> None:
    """Attempts at SOLUTION_ID in the places most like SITE (an ODS code or a name), with
    their outcomes, adaptations and evaluations; and whether SITE lies outside what the
    evaluations covered."""
    from triedbefore.graph import NotFound
    from triedbefore.graph import context as ctx

    with _domain_errors(state):
        store = state.store()
        found = ctx.find_site(store, site)
        exact = [f for f in found if f["exact"]]
        chosen = exact[0] if exact else (found[0] if len(found) == 1 else None)
        if chosen is None:
            if not found:
                raise NotFound(f"no site with the code or a name holding {site!r}")
            names = "; ".join(f"{f['id']} {f['name']}" for f in found)
            raise NotFound(f"{site!r} names several sites ({names}); give an ODS code")
        data = ctx.places_like(store, str(chosen["id"]), solution_id, limit=limit,
                               when=ctx.today())
        applies = ctx.applicability(store, solution_id, when=ctx.today())
        mine = ctx.contexts(store, [str(chosen["id"])])[str(chosen["id"])]
        data["applicability"] = applies
        data["warnings"] = ctx.outside(applies, mine)
    if fmt == "json":
        _emit_json(data)
        return
    s = data["site"]
    click.echo(f"Places like {s['name']} ({s['site_id']}, {_ctx_words(s['kind'])}): "
               f"IMD decile {s['imd_decile'] or 'unknown'}, "
               f"{_ctx_words(s['rurality']) or 'rurality unknown'}, "
               f"{s['registered_patients'] or 'size unknown'} registered patients")
    if s["inherited"]:
        click.echo("  from the area it is part of: " + ", ".join(
            f"{k} ({v})" for k, v in s["inherited"].items()))
    if data["missing"]:
        click.echo("  not known for this site: " + ", ".join(data["missing"]))
    click.echo(f"Rule: {data['rule']}")
    rows = []
    for n, a in enumerate(data["attempts"], 1):
        t = a["site"]
        findings = ", ".join(_ctx_words(e["finding"]) for e in a["evaluations"]) or "not evaluated"
        directions = ", ".join(_ctx_words(o["direction"]) for o in a["outcomes"]) or "-"
        rows.append([n, f"{a['similarity']:.2f}", "+".join(a["compared"]),
                     f"{a['initiative_id']} {a['title']}"[:60],
                     f"{t['site_id']} {_ctx_words(t['kind'])}", t["imd_decile"] or "?",
                     _ctx_words(t["rurality"]) or "?", t["registered_patients"] or "?",
                     findings, directions, len(a["adaptations"]),
                     "yes" if a["illustrative"] else ""])
    _table(rows, ["#", "similarity", "compared on", "attempt", "site", "IMD decile",
                  "rurality", "patients", "evaluations", "outcomes", "adaptations",
                  "illustrative"])
    for w in data["warnings"]:
        click.echo(f"warning: {w}")
    if data["applicability"]["not_covered"]:
        click.echo("Where the evidence does not reach: "
                   + "; ".join(data["applicability"]["not_covered"]) + ".")


@cli.command()
@click.argument("solution_id")
@FORMAT
@click.pass_obj
def design(state: Context, solution_id: str, fmt: str) -> None:
    """A solution's national design: versions and the attempts following each, core and
    adaptable components, local adaptations, dropped core components, and adaptations
    against outcomes (descriptive, not causal)."""
    from triedbefore.graph import context as ctx
    from triedbefore.graph.analytics import solution_evidence

    with _domain_errors(state):
        solution_evidence(state.store(), solution_id)  # raises NotFound for an unknown id
        data = ctx.design(state.store(), solution_id)
    if fmt == "json":
        _emit_json(data)
        return
    for v in data["versions"]:
        click.echo(f"{v['id']} {v['name']} ({v.get('published_date') or 'date not given'}): "
                   f"{len(v['attempts'])} attempts; components {', '.join(v['components'])}")
    _table([[c["id"], c["role"], c["name"]] for c in data["components"]],
           ["component", "role", "name"])
    click.echo(f"{data['adaptations']} adaptations by {data['adapted_attempts']} of "
               f"{data['attempts']} attempts")
    for d in data["dropped_core"]:
        click.echo(f"dropped core: {d['initiative_id']} {d['component_id']} "
                   f"({_ctx_words(d.get('nature'))}, fidelity {_ctx_words(d.get('fidelity'))})")
    click.echo(data["against_outcomes"]["warning"])
    for g in data["against_outcomes"]["by_component"]:
        if g["changed"]["attempts"]:
            click.echo(f"{g['name']}: changed by {g['changed']['attempts']} (outcomes "
                       f"{g['changed']['outcomes']}); no change recorded by "
                       f"{g['kept']['attempts']} (outcomes {g['kept']['outcomes']})")


def _check_site_text(site_context: dict[str, Any]) -> None:
    """The proposal check's lines about the proposer's organisation."""
    s = site_context["site"]
    if s is None:
        choices = "; ".join(f"{c['id']} {c['name']}" for c in site_context["choices"])
        click.echo(f"Your organisation: {site_context['query']!r} "
                   + (f"names several sites ({choices}); give an ODS code" if choices
                      else "matches no site"))
        return
    click.echo(f"Your organisation: {s['name']} ({s['site_id']}, {_ctx_words(s['kind'])}; IMD "
               f"decile {s['imd_decile'] or 'unknown'}; "
               f"{_ctx_words(s['rurality']) or 'rurality unknown'}; "
               f"{s['registered_patients'] or 'size unknown'} registered patients)")
    for sol in site_context["solutions"]:
        for w in sol["warnings"]:
            click.echo(f"  outside the evidence ({sol['solution_id']}): {w}")
        for a in sol["places_like"]:
            findings = ", ".join(_ctx_words(e["finding"]) for e in a["evaluations"]) or \
                "not evaluated"
            click.echo(f"  like yours ({sol['solution_id']}, {a['similarity']:.2f}): "
                       f"{a['initiative_id']} {a['title']} at {a['site']['name']} "
                       f"({findings}; {len(a['adaptations'])} adaptations)")
# The contributions and lessons commands.
from triedbefore.web import cli_contributions  # noqa: E402

cli_contributions.attach(cli, sys.modules[__name__])


def main() -> None:
    cli(prog_name="triedbefore")


if __name__ == "__main__":
    main()
