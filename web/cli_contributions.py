"""``triedbefore contributions [list|submit|accept|return]`` and ``triedbefore lessons
SOLUTION``: the command-line side of contributed records (``ingest/contributions.py``)
and of the lessons a solution's attempts recorded. ``web/cli.py`` calls :func:`attach`
with its ``cli`` group and itself (the helpers every command uses: error handling, JSON
and table output), so that this module does not import it back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from triedbefore.graph import NotFound, queries, settings
from triedbefore.ingest import contributions as contrib

FILES = [
    click.option("--users-file", type=click.Path(dir_okay=False), default=None,
                 help="The accounts file (default: DATA_DIR/users.json)."),
    click.option("--contributions-file", type=click.Path(dir_okay=False), default=None,
                 help="The contributions file (default: beside the accounts file)."),
]


F = TypeVar("F", bound=Callable[..., Any])

#: The output option every reporting command takes (as in ``web/cli.py``).
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      show_default=True, help="Output format.")


def _files(func: F) -> F:
    for option in reversed(FILES):
        func = option(func)
    return func


def _paths(users_file: str | None, contributions_file: str | None
           ) -> tuple[Path, contrib.ContributionStore]:
    users = Path(users_file) if users_file else settings.data_dir() / "users.json"
    path = Path(contributions_file) if contributions_file else \
        users.parent / "contributions.sqlite3"
    return users, contrib.ContributionStore(path)


def _rows(items: list[contrib.Contribution], _table: Any) -> None:
    _table([[c.id, c.status, c.owner, (c.data.get("title") or "")[:50], c.updated_at]
            for c in items], ["contribution", "status", "contributor", "title", "changed"])


def attach(cli: click.Group, h: Any) -> None:
    """Add the ``contributions`` group and the ``lessons`` command to ``cli``; ``h`` is
    the ``web.cli`` module (its helpers)."""
    _domain_errors, _emit_json, _fail, _table = (
        h._domain_errors, h._emit_json, h._fail, h._table)
    EXIT_REJECTED, EXIT_USAGE = h.EXIT_REJECTED, h.EXIT_USAGE

    @cli.group(invoke_without_command=True)
    @click.pass_context
    def contributions(ctx: click.Context) -> None:
        """Records of attempts sent by the people who ran them: list, submit, accept (load
        into the graph through the ingest path) or return with a comment. Without a
        subcommand: those waiting for moderation."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(contributions_list, status=contrib.SUBMITTED)


    @contributions.command("list")
    @click.option("--status", type=click.Choice(contrib.STATUSES), default=None,
                  help="Only contributions with this status.")
    @click.option("--user", "owner", default=None, help="Only this contributor's.")
    @_files
    @FORMAT
    def contributions_list(status: str | None = None, owner: str | None = None,
                           users_file: str | None = None, contributions_file: str | None = None,
                           fmt: str = "table") -> None:
        """List contributions (every status by default)."""
        _users, store = _paths(users_file, contributions_file)
        with _domain_errors():
            items = store.of_owner(owner) if owner else store.all()
        items = [c for c in items if status is None or c.status == status]
        if fmt == "json":
            _emit_json({"contributions": [c.to_dict() for c in items]})
        elif not items:
            click.echo("No contributions.")
        else:
            _rows(items, _table)


    @contributions.command("submit")
    @click.argument("file", type=click.File("r", encoding="utf-8"))
    @click.option("--user", "owner", required=True, help="The contributor (an account name).")
    @click.option("--draft", is_flag=True, help="Keep it a draft (no checks).")
    @click.option("--id", "cid", default=None, help="Update this contribution of the user's.")
    @_files
    @FORMAT
    @click.pass_obj
    def contributions_submit(state: Any, file: Any, owner: str, draft: bool, cid: str | None,
                             users_file: str | None, contributions_file: str | None,
                             fmt: str) -> None:
        """Send a record of an attempt (a JSON object, as the explorer's JSON API takes it)
        for moderation. It is checked as an interchange bundle is; with problems it is kept
        as a draft and they are listed (exit code 3)."""
        from triedbefore.web import auth

        users, store = _paths(users_file, contributions_file)
        try:
            body = json.load(file)
        except json.JSONDecodeError as exc:
            _fail(f"{file.name}: not JSON ({exc})", EXIT_USAGE)
        if not isinstance(body, dict):
            _fail(f"{file.name}: not a JSON object", EXIT_USAGE)
        unknown = contrib.unknown_fields(body)
        if unknown:
            _fail(f"unknown fields: {', '.join(unknown)}", EXIT_USAGE)
        if not any(u.name == owner for u in auth.list_users(users)):
            _fail(f"no user {owner!r}")
        data = contrib.clean(body)
        with _domain_errors(state):
            if cid:
                item = store.get(cid)
                if item.owner != owner:
                    _fail(f"{cid} is not {owner}'s")
                saved = store.update(cid, owner, data, submit=False, action="saved")
            else:
                saved = store.create(owner, data, submit=False)
            found: list[contrib.FieldError] = []
            alike: list[dict[str, Any]] = []
            if not draft:
                found = contrib.problems(state.store(), saved.number, saved.data)
                if not found and not data.get("separate"):
                    alike = contrib.duplicates(state.store(), store, saved.number, saved.data,
                                               owner)
                if not found and not alike:
                    saved = store.update(saved.id, owner, saved.data, submit=True,
                                         action="submitted")
        if fmt == "json":
            _emit_json({"submitted": saved.status == contrib.SUBMITTED,
                        "contribution": saved.to_dict(), "problems": [p.to_dict() for p in found],
                        "duplicates": alike})
        else:
            for p in found:
                click.echo(f"{p.problem}")
            for d in alike:
                click.echo(f"looks like {d['kind']} {d['id']} ({d['title']}): same solution, "
                           "site and start; send with \"separate\": true, or \"merge_into\"")
            click.echo(f"{saved.id}: {saved.status}")
        if found or alike:
            raise SystemExit(EXIT_REJECTED)


    @contributions.command("accept")
    @click.argument("contribution_id")
    @click.option("--moderator", default="curator", show_default=True,
                  help="The curator's name, recorded with the contribution.")
    @click.option("--comment", default=None, help="A note to the contributor.")
    @_files
    @FORMAT
    @click.pass_obj
    def contributions_accept(state: Any, contribution_id: str, moderator: str,
                             comment: str | None, users_file: str | None,
                             contributions_file: str | None, fmt: str) -> None:
        """Accept a contribution: load it through the ingest path, with who contributed it
        (as they chose to be named), when, and the moderator."""
        from triedbefore.web import auth

        users, store = _paths(users_file, contributions_file)
        with _domain_errors(state):
            item = store.get(contribution_id)
            done, result = contrib.accept(state.store(), store, contribution_id,
                                          moderator=moderator, comment=comment,
                                          profile=auth.profile(users, item.owner))
        if fmt == "json":
            _emit_json({"contribution": done.to_dict(), "run_id": result.run_id,
                        "written": result.written})
        else:
            click.echo(f"accepted {done.id} as initiative {done.initiative_id} "
                       f"(run {result.run_id})")


    @contributions.command("return")
    @click.argument("contribution_id")
    @click.option("--comment", default="", help="What the contributor should change (required).")
    @click.option("--moderator", default="curator", show_default=True)
    @_files
    @FORMAT
    def contributions_return(contribution_id: str, comment: str, moderator: str,
                             users_file: str | None, contributions_file: str | None,
                             fmt: str) -> None:
        """Return a contribution to its contributor with a comment."""
        _users, store = _paths(users_file, contributions_file)
        with _domain_errors():
            done = contrib.return_to_contributor(store, contribution_id, moderator=moderator,
                                                 comment=comment)
        if fmt == "json":
            _emit_json({"contribution": done.to_dict()})
        else:
            click.echo(f"returned {done.id} to its contributor")


    @cli.command()
    @click.argument("solution_id")
    @FORMAT
    @click.pass_obj
    def lessons(state: Any, solution_id: str, fmt: str) -> None:
        """What the people who tried a solution learned: by NASSS domain, helped or got in
        the way, counted by team; what they would do differently; stopped attempts and why."""
        from triedbefore.web.lessons import of_solutions

        with _domain_errors(state):
            if not state.store().read(queries.SOLUTION_EXISTS, {"id": solution_id}):
                raise NotFound(f"no solution with id {solution_id!r}")
            found = of_solutions(state.store(), [solution_id])
        if fmt == "json":
            _emit_json({"solution_id": solution_id, "lessons": found})
            return
        if not (found["lessons"] or found["do_differently"] or found["stopped"]):
            click.echo("No lessons recorded for this solution.")
            return
        click.echo(f"{found['lessons']} lessons from {found['teams']} teams")
        for domain in found["domains"]:
            click.echo(f"\n{domain['label']} ({domain['teams']} teams)")
            for group in domain["groups"]:
                word = "helped" if group["effect"] == "helped" else "got in the way"
                click.echo(f"  {word}: {group['teams']} teams")
                for item in group["lessons"]:
                    click.echo(f"    - {item['text']} [{item['initiative_id']}]")
        if found["do_differently"]:
            click.echo("\nWhat they would do differently")
            for item in found["do_differently"]:
                click.echo(f"  - {item['text']} [{item['initiative_id']}]")
        if found["stopped"]:
            click.echo("\nStopped attempts")
            for item in found["stopped"]:
                click.echo(f"  - {item['title']} [{item['initiative_id']}]: {item['why']}")
