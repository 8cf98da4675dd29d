"""Commands of "design once, adapt locally": ``ingest-context`` (deprivation, rurality and
size of sites from the official files), ``like`` (a solution's attempts in the places most
like a site) and ``design`` (a solution's versions, components and adaptations)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from triedbefore.graph import settings
from triedbefore.web.cli import (
    FORMAT,
    Context,
    _domain_errors,
    _emit_json,
    _progress,
    _table,
    cli,
)


def _words(value: Any) -> str:
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
    click.echo(f"Places like {s['name']} ({s['site_id']}, {_words(s['kind'])}): "
               f"IMD decile {s['imd_decile'] or 'unknown'}, "
               f"{_words(s['rurality']) or 'rurality unknown'}, "
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
        findings = ", ".join(_words(e["finding"]) for e in a["evaluations"]) or "not evaluated"
        directions = ", ".join(_words(o["direction"]) for o in a["outcomes"]) or "-"
        rows.append([n, f"{a['similarity']:.2f}", "+".join(a["compared"]),
                     f"{a['initiative_id']} {a['title']}"[:60],
                     f"{t['site_id']} {_words(t['kind'])}", t["imd_decile"] or "?",
                     _words(t["rurality"]) or "?", t["registered_patients"] or "?",
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
                   f"({_words(d.get('nature'))}, fidelity {_words(d.get('fidelity'))})")
    click.echo(data["against_outcomes"]["warning"])
    for g in data["against_outcomes"]["by_component"]:
        click.echo(f"{g['name']}: changed by {g['changed']['attempts']} "
                   f"(outcomes {g['changed']['outcomes']}), kept by {g['kept']['attempts']} "
                   f"(outcomes {g['kept']['outcomes']})")


def check_site_text(site_context: dict[str, Any]) -> None:
    """The proposal check's lines about the proposer's organisation."""
    s = site_context["site"]
    if s is None:
        choices = "; ".join(f"{c['id']} {c['name']}" for c in site_context["choices"])
        click.echo(f"Your organisation: {site_context['query']!r} "
                   + (f"names several sites ({choices}); give an ODS code" if choices
                      else "matches no site"))
        return
    click.echo(f"Your organisation: {s['name']} ({s['site_id']}, {_words(s['kind'])}; IMD "
               f"decile {s['imd_decile'] or 'unknown'}; "
               f"{_words(s['rurality']) or 'rurality unknown'}; "
               f"{s['registered_patients'] or 'size unknown'} registered patients)")
    for sol in site_context["solutions"]:
        for w in sol["warnings"]:
            click.echo(f"  outside the evidence ({sol['solution_id']}): {w}")
        for a in sol["places_like"]:
            findings = ", ".join(_words(e["finding"]) for e in a["evaluations"]) or \
                "not evaluated"
            click.echo(f"  like yours ({sol['solution_id']}, {a['similarity']:.2f}): "
                       f"{a['initiative_id']} {a['title']} at {a['site']['name']} "
                       f"({findings}; {len(a['adaptations'])} adaptations)")
