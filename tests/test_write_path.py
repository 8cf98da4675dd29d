"""Every write goes through the one entry point (``ingest.pipeline.run``), and every write
path keeps the public copy and the graph version in step.

The first tests read the product's source: each place that calls the loader or writes to
a store is listed, so a new way into the graph fails here until it is made a step of the
entry point (or, for a user's own records, listed on purpose). The others load through
each path (a bundle, ODS extracts, a candidate accepted or rejected, a curator's decision,
full re-resolution) and check the public copy and the version held in the graph.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from processes import children

from triedbefore.graph import queries
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "ingest" / "sample"
PRODUCT = ("graph", "ingest", "web", "ontology")

#: Calls that write to a store (or run the loader that does).
STORE_WRITES = frozenset({"Loader", "write", "write_public_copy", "rebuild_public_copy",
                          "write_with_copy", "copy_visible_into", "drop_all"})

#: Every place that makes one of those calls: (file, enclosing function, call).
ALLOWED_WRITES = {
    # the entry point and the loader it runs
    ("ingest/pipeline.py", "run", "Loader"),
    ("ingest/pipeline.py", "_run", "write"),
    ("ingest/pipeline.py", "_run", "write_public_copy"),
    ("ingest/pipeline.py", "_public_record", "write_public_copy"),
    ("ingest/pipeline.py", "_run", "rebuild_public_copy"),
    ("ingest/pipeline.py", "_mirror", "rebuild_public_copy"),
    ("ingest/pipeline.py", "_bump_version", "write"),
    ("ingest/pipeline.py", "_bump_version", "write_public_copy"),
    ("ingest/pipeline.py", "_Tracked.write", "write"),
    ("ingest/pipeline.py", "_Tracked.rebuild_public_copy", "rebuild_public_copy"),
    ("ingest/loader.py", "Loader._apply", "write"),
    ("ingest/loader.py", "Loader._record_run", "write"),
    # steps of the entry point: they write on the store the run gives them
    ("graph/resolution.py", "resolve", "write"),
    ("graph/resolution.py", "apply_decision", "write"),
    ("graph/changes.py", "_record_chunk", "write"),
    ("graph/vectors.py", "update", "write"),  # sentence vectors of new or changed rows
    ("ingest/candidates.py", "_store_found", "write"),
    ("ingest/candidates.py", "CandidateDecision.apply", "write"),
    ("ingest/contributions.py", "AcceptedContribution.apply", "write"),
    ("ingest/contributions.py", "AcceptedContribution._remove_dropped", "write"),
    # the stores themselves: the public copy, mirroring, engines
    ("graph/store.py", "Store.write_with_copy", "write"),
    ("graph/store.py", "Store.write_with_copy", "write_public_copy"),
    ("graph/store.py", "WrappedStore.write", "write"),
    ("graph/store.py", "WrappedStore.write_public_copy", "write_public_copy"),
    ("graph/store.py", "WrappedStore.rebuild_public_copy", "rebuild_public_copy"),
    ("graph/mirror.py", "MirroringStore.write", "write"),
    ("graph/mirror.py", "MirroringStore.write", "write_with_copy"),
    ("graph/mirror.py", "MirroringStore._upsert", "write_with_copy"),
    ("graph/mirror.py", "MirroringStore._upsert", "write_public_copy"),
    ("graph/mirror.py", "MirroringStore.finish", "write_public_copy"),
    ("graph/mirror.py", "MirroringStore.rebuild_public_copy", "rebuild_public_copy"),
    ("graph/falkor.py", "FalkorStore.rebuild_public_copy", "copy_visible_into"),
    ("graph/falkor.py", "FalkorStore.rebuild_public_copy", "write"),  # vectors, retyped
    ("graph/falkor.py", "FalkorStore.drop_all", "drop_all"),
    ("graph/neo4j_store.py", "Neo4jStore.rebuild_public_copy", "copy_visible_into"),
    ("graph/neo4j_store.py", "Neo4jStore.rebuild_public_copy", "drop_all"),
    ("graph/neo4j_store.py", "FalkorBoltStore.rebuild_public_copy", "copy_visible_into"),
    ("graph/neo4j_store.py", "FalkorBoltStore.rebuild_public_copy", "drop_all"),
    ("graph/neo4j_store.py", "FalkorBoltStore.drop_all", "drop_all"),
    # a replicated deployment: each write passed on to the primary
    ("graph/replicated.py", "ReplicatedStore.write", "write"),
    ("graph/replicated.py", "ReplicatedStore.write_with_copy", "write_with_copy"),
    ("graph/replicated.py", "ReplicatedStore.write_public_copy", "write_public_copy"),
    ("graph/replicated.py", "ReplicatedStore.rebuild_public_copy", "rebuild_public_copy"),
    ("graph/replicated.py", "ReplicatedStore.drop_all", "drop_all"),
    # a user's own watches: never in the public copy, no shared answer reads them
    ("web/living.py", "add_watch", "write"),
    ("web/living.py", "delete_watch", "write"),
    ("web/living.py", "mark_seen", "write"),
    # files, not the store
    ("web/app.py", "_secret_key", "write"),
    ("web/auth.py", "_write", "write"),
    ("graph/embedded.py", "_write_private", "write"),  # a server's password and settings
    ("ingest/bundle.py", "ProblemLog.append", "write"),  # problems past the limit, spooled
    ("ingest/loader.py", "write_report", "write"),  # the problem report
    ("ingest/demo/build.py", "", "write"),
    ("graph/console_server.py", "_private_write", "write"),  # the replica's settings, 0600
}

#: The graph-level steps of a write, and the only modules that may import them.
STEP_IMPORTERS = {
    ("triedbefore.graph.resolution", "resolve"): {"ingest/pipeline.py"},
    ("triedbefore.graph.resolution", "apply_decision"): {"ingest/curation.py"},
    ("triedbefore.graph.changes", "record_changes"): {"ingest/pipeline.py"},
    ("triedbefore.ingest.loader", "Loader"): {"ingest/pipeline.py", "ingest/ods.py"},
}


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "static" in path.parts:
                continue
            out.append((str(path.relative_to(ROOT)), ast.parse(path.read_text("utf-8"))))
    return out


class _Writes(ast.NodeVisitor):
    """The store writes of one module: (file, enclosing function, call)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stack: list[str] = []
        self.found: set[tuple[str, str, str]] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef
                          | ast.ClassDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = (func.attr if isinstance(func, ast.Attribute)
                  else func.id if isinstance(func, ast.Name) else None)
        if called in STORE_WRITES:
            self.found.add((self.name, ".".join(self.stack), called))
        self.generic_visit(node)


def _write_calls() -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for name, tree in _modules():
        visit = _Writes(name)
        visit.visit(tree)
        found |= visit.found
    return found


def test_every_store_write_is_a_step_of_the_entry_point() -> None:
    found = _write_calls()
    new = sorted(found - ALLOWED_WRITES)
    assert not new, ("writes outside the ingest entry point (make them a Source of "
                     f"triedbefore.ingest.pipeline.run): {new}")
    gone = sorted(ALLOWED_WRITES - found)
    assert not gone, f"listed writes no longer in the code (take them off the list): {gone}"


def test_the_steps_of_a_write_are_imported_only_by_the_entry_point() -> None:
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            for alias in node.names:
                allowed = STEP_IMPORTERS.get((node.module, alias.name))
                assert allowed is None or name in allowed, (
                    f"{name} imports {node.module}.{alias.name}: only "
                    f"{sorted(allowed or ())} may")


def test_a_new_caller_of_the_loader_is_caught() -> None:
    """The scan is live: a module calling the loader or writing to a store is found."""
    visit = _Writes("web/sneak.py")
    visit.visit(ast.parse("def sneak(store, rows):\n    Loader(store, rows).run()\n"
                          "    store.write('MATCH (n) DETACH DELETE n')\n"))
    assert visit.found == {("web/sneak.py", "sneak", "Loader"),
                           ("web/sneak.py", "sneak", "write")}
    assert not visit.found & ALLOWED_WRITES


# --- every write path keeps the public copy and the version in step -----------------


def version(store: FalkorStore) -> int | None:
    rows = store.read(queries.GRAPH_VERSION)
    return rows[0]["version"] if rows else None


def in_step(store: FalkorStore) -> None:
    """The public copy holds every public node of the graph and the graph's version."""
    count = ("MATCH (n) WHERE NOT n:IngestRun AND NOT n:Watch AND "
             "coalesce(n.visibility, 'public') <> 'restricted' RETURN count(n) AS n")
    assert store.read(count) == store.public_copy().read(count)
    assert version(store) is not None
    assert version(store) == version(store.public_copy())


@pytest.fixture
def sample(store: FalkorStore) -> FalkorStore:
    assert ingest(store, SAMPLE).exit_code == 0
    in_step(store)
    return store


def test_a_run_that_changes_nothing_keeps_the_version(sample: FalkorStore) -> None:
    before = version(sample)
    again = ingest(sample, SAMPLE)
    assert sum(again.written.values()) == 0
    assert version(sample) == before
    in_step(sample)


def test_ods_extracts_keep_the_public_copy_and_version_in_step(sample: FalkorStore) -> None:
    from triedbefore.ingest.ods import ingest_ods

    before = version(sample)
    sites = "MATCH (s:Site) RETURN count(s) AS n"
    extracts = ROOT / "tests" / "data" / "ods"
    result = ingest_ods(sample, sorted(extracts.glob("*.csv")))
    assert result.ingest.written.get("sites", 0) > 0
    n = sample.read(sites)[0]["n"]
    assert n > 58
    assert sample.public_copy().read(sites)[0]["n"] == n
    assert version(sample) == (before or 0) + 1
    in_step(sample)


def test_candidate_decisions_keep_the_public_copy_in_step(sample: FalkorStore) -> None:
    from triedbefore.ingest import candidates as cands
    from triedbefore.ingest.records import Found
    from triedbefore.ontology.vocab import CandidateSource, Design

    found = [(Found(CandidateSource.EUROPEPMC, f"MED:{n}", f"Trial {n} of remote monitoring",
                    f"https://europepmc.org/article/MED/{n}", doi=f"10.1000/tb.{n}",
                    published_date="2021-03-01", design=Design.RCT,
                    design_reason="publication type"), "2026-01-01T00:00:00+00:00", "q")
             for n in (1, 2)]
    fetched = cands.FetchResult("SOL-TELE")
    v0 = version(sample)
    cands.store_found(sample, "SOL-TELE", found, fetched)
    assert len(fetched.new) == 2
    assert version(sample) == (v0 or 0) + 1
    in_step(sample)
    public = "MATCH (c:Candidate) RETURN c.id AS id, c.status AS status ORDER BY id"
    assert sample.public_copy().read(public) == sample.read(public)

    runner = CliRunner()
    from triedbefore.web.cli import cli

    uri = sample.uri.raw
    out = runner.invoke(cli, ["--store", uri, "candidates", "accept", fetched.new[0],
                              "--initiative", "INI-0019", "--finding", "no_effect",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    evaluation = json.loads(out.output)["evaluation_id"]
    assert sample.public_copy().read("MATCH (e:Evaluation {id: $id}) RETURN e.title AS t",
                                     {"id": evaluation}) == [{"t": "Trial 1 of remote "
                                                                   "monitoring"}]
    out = runner.invoke(cli, ["--store", uri, "candidates", "reject", fetched.new[1]])
    assert out.exit_code == 0, out.output
    assert sample.public_copy().read(public) == sample.read(public)
    statuses = {r["id"]: r["status"] for r in sample.public_copy().read(public)}
    assert statuses == {fetched.new[0]: "accepted", fetched.new[1]: "rejected"}
    assert version(sample) == (v0 or 0) + 3
    in_step(sample)


def test_accepting_a_candidate_writes_no_file(sample: FalkorStore, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The accepted row goes to the loader from memory: no CSV in the temporary folder."""
    import tempfile

    from triedbefore.ingest import candidates as cands
    from triedbefore.ingest.records import Found
    from triedbefore.ontology.vocab import CandidateSource, Design

    record = Found(CandidateSource.CLINICALTRIALS, "NCT01234567", "A registered trial",
                   "https://clinicaltrials.gov/study/NCT01234567",
                   published_date="2020", design=Design.RCT, design_reason="registry")
    fetched = cands.FetchResult("SOL-TELE")
    cands.store_found(sample, "SOL-TELE", [(record, "2026-01-01T00:00:00+00:00", "q")], fetched)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: set[str] = set()
    real_open = open

    def watching(file: object, *args: object, **kwargs: object) -> object:
        seen.add(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", watching)
    done = cands.accept(sample, fetched.new[0], initiative_ids=["INI-0020"],
                        finding="positive")
    monkeypatch.undo()
    assert done["status"] == "accepted"
    assert not [f for f in seen if f.endswith(".csv")]
    assert not list(tmp_path.rglob("*.csv"))


def test_curation_decisions_and_resolution_keep_the_copy_in_step(sample: FalkorStore) -> None:
    from triedbefore.ingest.curation import decide
    from triedbefore.ingest.pipeline import ResolveAll, run

    link = ("MATCH (:Initiative {id: 'INI-0034'})-[l:IMPLEMENTS]->(:Solution {id: 'SOL-VW'}) "
            "RETURN l.how AS how")
    v0 = version(sample)
    decide(sample, "INI-0034", "SOL-VW", "accepted", who="cora")
    assert sample.public_copy().read(link) == [{"how": "accepted"}]
    assert version(sample) == (v0 or 0) + 1
    runs = sample.read("MATCH (r:IngestRun {source: 'curation:cora'}) "
                       "RETURN r.status AS status, r.public_in_step AS ok")
    assert runs == [{"status": "completed", "ok": True}]
    decide(sample, "INI-0034", "SOL-VW", "rejected", who="cora")
    assert sample.public_copy().read(link) == [{"how": "rejected"}]
    run(sample, ResolveAll())
    in_step(sample)


def test_a_curation_decision_records_the_verdict_it_changes(sample: FalkorStore,
                                                           tmp_path: Path) -> None:
    """Accepting a link makes the initiative's evaluation count for the solution: the
    verdict change is recorded like one an ingest makes."""
    from triedbefore.graph import analytics
    from triedbefore.graph.changes import list_changes
    from triedbefore.ingest.curation import decide

    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "solutions.csv").write_text(
        "solution_id,name,intervention_type\n"
        "SOL-PHARM,Pharmacist-led medicines review in care homes,delivery_arrangements\n")
    (folder / "initiatives.csv").write_text(
        "initiative_id,title,site_ids,start_date\nINI-WINTER,Winter pilot 2019,RBL,2019\n")
    (folder / "evaluations.csv").write_text(
        "evaluation_id,initiative_ids,title,design,finding,published_date\n"
        "EVAL-WINTER,INI-WINTER,Trial of the winter pilot,rct,negative,2021\n")
    assert ingest(sample, folder).exit_code == 0
    assert analytics.verdict(sample, "SOL-PHARM")["verdict"] == "unevaluated"
    before = {c["id"] for c in list_changes(sample, None)}
    decide(sample, "INI-WINTER", "SOL-PHARM", "accepted")
    verdict = analytics.verdict(sample, "SOL-PHARM")["verdict"]
    assert verdict != "unevaluated"
    new = [c for c in list_changes(sample, None) if c["id"] not in before]
    assert [(c["solution_id"], c["change_kind"], c["from_verdict"], c["to_verdict"])
            for c in new] == [("SOL-PHARM", "verdict", "unevaluated", verdict)]


def test_unknown_ids_are_refused_before_anything_is_written(sample: FalkorStore) -> None:
    from triedbefore.graph import BadArgument, NotFound
    from triedbefore.ingest.curation import decide

    runs = "MATCH (r:IngestRun) RETURN count(r) AS n"
    n = sample.read(runs)
    with pytest.raises(NotFound):
        decide(sample, "INI-NOPE", "SOL-VW", "accepted")
    with pytest.raises(BadArgument):
        decide(sample, "INI-0034", "SOL-VW", "maybe")
    assert sample.read(runs) == n


# --- a decision in one worker is seen by the other ------------------------------------


def _socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The worker process holding the server side of one TCP connection (from /proc)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if (int(parts[1].rsplit(":", 1)[1], 16) == server_port
                and int(parts[2].rsplit(":", 1)[1], 16) == client_port):
            inode = parts[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def _ask(port: int, workers: list[int], method: str, path: str,
         body: bytes | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int | None, int, dict[str, object]]:
    """(the worker that answered, status, JSON body) of one request on a new connection,
    read while the connection is still open (kept alive)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = json.loads(res.read() or b"{}")
        assert conn.sock is not None
        owner = _socket_owner(port, conn.sock.getsockname()[1], workers)
        return owner, res.status, data
    finally:
        conn.close()


def _count(data: dict[str, object], solution_id: str) -> int:
    items = data["solutions"]["items"]  # type: ignore[index]
    return next(int(s["initiatives"]) for s in items if s["id"] == solution_id)  # type: ignore


@pytest.mark.server
def test_a_decision_in_one_worker_is_seen_by_the_other(sample: FalkorStore, store_uri: str,
                                                       tmp_path: Path) -> None:
    from triedbefore.graph import resolution
    from triedbefore.web import auth

    proposal = next(p for p in resolution.proposals(sample) if p.status == "suggested")
    iid, sid = proposal.initiative_id, str(proposal.solution_id)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    auth.add_user(data_dir / "users.json", "cora", "correct horse battery", "curator")
    token = auth.add_token(data_dir / "users.json", "cora", "test").token
    proc = subprocess.Popen(
        [sys.executable, "-m", "triedbefore.web.cli", "--store", store_uri, "serve",
         "--port", "0", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TRIEDBEFORE_SECRET_KEY": "test",
             "TRIEDBEFORE_DATA_DIR": str(data_dir)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/ \(2 workers;", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(found.group(1))
        workers = children(proc.pid)
        for _ in range(100):  # the master forks its workers as it starts
            if len(workers) == 2:
                break
            time.sleep(0.1)
            workers = children(proc.pid)
        assert len(workers) == 2
        listing = "/solutions.json?size=500"
        # both workers answer the list (and cache it) before the decision: a suggested
        # link counts for nothing, an accepted one adds its initiative to the solution
        before: dict[int, int] = {}
        for _ in range(200):
            owner, status, data = _ask(port, workers, "GET", listing)
            assert status == 200
            if owner is not None:
                before[owner] = _count(data, sid)
            if len(before) == 2:
                break
        assert len(before) == 2, "the requests never reached both workers"
        assert len(set(before.values())) == 1
        # a curator's decision, made through whichever worker takes it
        decided_by, status, done = _ask(
            port, workers, "POST", "/curation/decide.json",
            body=f"initiative_id={iid}&solution_id={sid}&decision=accepted".encode(),
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, done
        assert decided_by in workers
        # each worker's next answer shows it
        after: dict[int, int] = {}
        for _ in range(200):
            owner, status, data = _ask(port, workers, "GET", listing)
            assert status == 200
            if owner is not None and owner not in after:
                after[owner] = _count(data, sid)
            if len(after) == 2:
                break
        assert len(after) == 2, "the requests never reached both workers"
        want = next(iter(before.values())) + 1
        assert after == {w: want for w in workers}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def test_a_run_failing_after_its_rows_says_so_and_the_next_run_finishes_it(
        store: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step after the rows that fails (here the sentence vectors) leaves the run
    ``failed`` with the step and the error, in the graph and (without the error) in the
    public copy; its rows are trusted by the next run, which does the later steps again."""
    from triedbefore.graph import vectors
    from triedbefore.ingest import pipeline

    def out_of_memory(graph: object, batch: int | None = None) -> dict[str, int]:
        raise MemoryError("the encoder could not allocate 2 GB")

    monkeypatch.setattr(pipeline.vectors, "update", out_of_memory)
    with pytest.raises(MemoryError):
        ingest(store, SAMPLE)
    monkeypatch.undo()
    run_props = "MATCH (r:IngestRun) RETURN r {.*} AS r"
    [failed] = [r["r"] for r in store.read(run_props)]
    assert failed["status"] == "failed" and failed["ended_at"]
    assert failed["failure"] == ("computing the sentence vectors: MemoryError: "
                                 "the encoder could not allocate 2 GB")
    assert failed["rows_written"] is True
    assert failed.get("resolved") is None and failed.get("public_in_step") is None
    [public] = [r["r"] for r in store.public_copy().read(run_props)]
    assert public["status"] == "failed"
    assert "failure" not in public and "rows_written" not in public
    runner = CliRunner()
    from triedbefore.web.cli import cli
    shown = runner.invoke(cli, ["--store", store.uri.raw, "stats"])
    assert f"{failed['id']} failed computing the sentence vectors: MemoryError" in shown.output

    again = ingest(store, SAMPLE)
    assert sum(again.written.values()) == 0  # the failed run's rows are trusted
    runs = {r["r"]["id"]: r["r"] for r in store.read(run_props)}
    done = runs[again.run_id]
    assert done["status"] == "completed" and done["rows_written"] is True
    assert done["resolved"] is True and done["public_in_step"] is True
    assert "failure" not in done
    assert store.public_copy().read(
        "MATCH (r:IngestRun {id: $id}) RETURN r.status AS s", {"id": again.run_id}) == \
        [{"s": "completed"}]
    in_step(store)
    if vectors.enabled():  # the step that failed was done by the next run
        missing = store.read("MATCH (s:Solution) WHERE s.embedding IS NULL RETURN count(s) AS n")
        assert missing == [{"n": 0}]
