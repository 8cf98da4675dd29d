"""The distribution installs one import namespace, with its data files and the front-end
libraries the explorer serves under /vendor/."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
MANIFEST = json.loads((ROOT / "web" / "vendor.json").read_text("utf-8"))
#: Every file /vendor/ serves, as ``<package>/<path>`` (the same names as in node_modules).
SERVED = sorted(f"{package}/{file}" for package, entry in MANIFEST.items()
                for file in entry["files"])
PACKAGED = "triedbefore/web/vendor/"


def _version(package: str) -> str:
    return json.loads((NODE_MODULES / package / "package.json").read_text("utf-8"))["version"]


def _build_wheel(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = _build_wheel(ROOT, out)
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("triedbefore-*.whl"))


def test_wheel_ships_only_the_triedbefore_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"triedbefore", next(t for t in tops if t.endswith(".dist-info"))}
    for needed in ("triedbefore/graph/store.py", "triedbefore/web/cli.py",
                   "triedbefore/ontology/triedbefore.ttl", "triedbefore/ontology/shapes.ttl",
                   "triedbefore/ingest/sample/initiatives.csv",
                   "triedbefore/ingest/demo/bundle/sites.csv",
                   "triedbefore/ingest/demo/bundle/evaluations.csv",
                   "triedbefore/ingest/geography/postcode_outcodes.csv",
                   "triedbefore/ingest/geography/nhs_regions.csv",
                   "triedbefore/web/templates/solution.html", "triedbefore/web/static/site.css",
                   "triedbefore/web/vendor.json"):
        assert needed in names, needed
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "triedbefore = triedbefore.web.cli:main" in entry


def _assert_carries_the_front_end(wheel: Path) -> None:
    """The wheel holds exactly the served files, each package's licence and version."""
    archive = zipfile.ZipFile(wheel)
    vendored = {n[len(PACKAGED):] for n in archive.namelist() if n.startswith(PACKAGED)}
    expected = set(SERVED)
    for package, entry in MANIFEST.items():
        expected |= {f"{package}/{entry['licence']}", f"{package}/package.json"}
    assert vendored == expected
    for name in SERVED:
        assert archive.read(PACKAGED + name) == (NODE_MODULES / name).read_bytes(), name
    for package, entry in MANIFEST.items():
        licence = archive.read(f"{PACKAGED}{package}/{entry['licence']}")
        assert licence == (NODE_MODULES / package / entry["licence"]).read_bytes()
        assert b"Copyright" in licence
        meta = json.loads(archive.read(f"{PACKAGED}{package}/package.json"))
        assert meta["name"] == package and meta["version"] == _version(package)
        assert meta["license"]


def test_wheel_carries_the_pinned_front_end_with_licences(wheel: Path) -> None:
    assert {"cytoscape/dist/cytoscape.min.js", "leaflet/dist/leaflet.js",
            "leaflet/dist/leaflet.css"} <= set(SERVED)
    pinned = json.loads((ROOT / "package.json").read_text("utf-8"))["dependencies"]
    assert {package: _version(package) for package in MANIFEST} == \
        {package: pinned[package] for package in MANIFEST}
    _assert_carries_the_front_end(wheel)


def test_wheel_built_from_the_sdist_carries_the_front_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sdist = tmp_path / proc.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    (source,) = (tmp_path / "src").iterdir()
    proc = _build_wheel(source, tmp_path / "dist")
    assert proc.returncode == 0, proc.stderr
    _assert_carries_the_front_end(next((tmp_path / "dist").glob("triedbefore-*.whl")))


#: Run by the fresh environment's Python: the installed explorer's answers for /vendor/.
FETCH = """
import hashlib, json, sys
import triedbefore.web.graphview as graphview
from triedbefore.web.app import create_app

app = create_app({"TESTING": True, "SECRET_KEY": "t"})
client = app.test_client()
report = {"module": graphview.__file__, "root": None,
          "allow_list": sorted(graphview.VENDOR_FILES), "files": {}, "refused": {}}
with app.test_request_context():
    report["root"] = graphview.vendor_root()
    urls = {name: graphview.vendor_url(name) for name in graphview.VENDOR_FILES}
for name, url in urls.items():
    res = client.get(url)
    report["files"][name] = {"url": url, "status": res.status_code, "type": res.mimetype,
                             "max_age": res.cache_control.max_age,
                             "sha256": hashlib.sha256(res.data).hexdigest()}
for name in sys.argv[1:]:
    report["refused"][name] = client.get("/vendor/" + name).status_code
print(json.dumps(report))
"""


def test_installed_wheel_serves_the_front_end(wheel: Path, tmp_path: Path) -> None:
    """``pip install`` of the wheel into a new environment, then the explorer's /vendor/."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--disable-pip-version-check", "--quiet", str(wheel)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    site = Path(subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    assert (site / "triedbefore" / "web" / "vendor" / "leaflet" / "dist" / "leaflet.js").is_file()
    # The dependencies (Flask, the store clients…) come from this environment's
    # site-packages, after the new one's own: its triedbefore is the installed wheel, not
    # the source tree (that environment's .pth files, an editable install's among them,
    # are not read).
    here = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (site / "zz_dependencies.pth").write_text("".join(f"{p}\n" for p in here))
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["TRIEDBEFORE_DATA_DIR"] = str(tmp_path / "data")
    refused = ["leaflet/package.json", "leaflet/LICENSE", "cytoscape/dist/cytoscape.cjs.js",
               "../vendor.json"]
    try:
        proc = subprocess.run([str(python), "-I", "-c", FETCH, *refused], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)
    finally:  # the explorer started the embedded server of its data folder: stop it
        subprocess.run([str(python), "-I", "-c", "from triedbefore.web.cli import main; main()",
                        "db", "stop"], cwd=work, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])

    assert Path(report["module"]).resolve().is_relative_to(site.resolve())
    assert report["allow_list"] == SERVED
    for name in SERVED:
        answer = report["files"][name]
        package = name.split("/", 1)[0]
        assert answer["url"] == f"/vendor/{name}?v={_version(package)}", name
        assert answer["status"] == 200, name
        assert answer["sha256"] == hashlib.sha256((NODE_MODULES / name).read_bytes()).hexdigest()
        assert answer["max_age"] == 365 * 24 * 3600, name
    assert "javascript" in report["files"]["leaflet/dist/leaflet.js"]["type"]
    assert "javascript" in report["files"]["cytoscape/dist/cytoscape.min.js"]["type"]
    assert report["files"]["leaflet/dist/leaflet.css"]["type"] == "text/css"
    assert report["files"]["leaflet/dist/images/marker-icon.png"]["type"] == "image/png"
    assert report["refused"] == dict.fromkeys(refused, 404)
    assert Path(report["root"]).resolve() == (site / "triedbefore" / "web" / "vendor").resolve()


def _source_tree(dest: Path, front_end: bool) -> Path:
    """A copy of the project's sources, with the served npm files or without node_modules."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "setup.py", "README.md", "package.json"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("ontology", "graph", "ingest", "web"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    if front_end:
        for package, entry in MANIFEST.items():
            for file in ["package.json", entry["licence"], *entry["files"]]:
                (dest / "node_modules" / package / file).parent.mkdir(parents=True,
                                                                       exist_ok=True)
                shutil.copy2(NODE_MODULES / package / file, dest / "node_modules" / package / file)
    return dest


@pytest.mark.parametrize("case", ["pinned", "no node_modules", "file missing", "other version"])
def test_build_needs_the_pinned_front_end(tmp_path: Path, case: str) -> None:
    source = _source_tree(tmp_path / "src", front_end=case != "no node_modules")
    if case == "file missing":
        (source / "node_modules" / "leaflet" / "dist" / "leaflet.js").unlink()
    if case == "other version":
        meta_path = source / "node_modules" / "leaflet" / "package.json"
        meta = json.loads(meta_path.read_text("utf-8"))
        meta["version"] = "0.0.1"
        meta_path.write_text(json.dumps(meta))
    proc = _build_wheel(source, tmp_path / "dist")
    wheels = list((tmp_path / "dist").glob("*.whl"))
    if case == "pinned":
        assert proc.returncode == 0, proc.stderr
        _assert_carries_the_front_end(wheels[0])
        return
    assert proc.returncode != 0 and not wheels
    output = proc.stdout + proc.stderr
    assert "run `npm ci`" in output
    if case == "no node_modules":
        assert "there is no node_modules folder" in output
    elif case == "file missing":
        assert "missing (node_modules/leaflet/dist/leaflet.js)" in output
    else:
        assert f"leaflet 0.0.1 but package.json pins {_version('leaflet')}" in output
