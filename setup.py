"""Build steps beyond pyproject.toml: the explorer's front-end libraries go into the package.

``web/vendor.json`` lists, per npm package, the files the explorer serves under
``/vendor/`` and the package's licence file. A wheel carries them as
``triedbefore/web/vendor/<package>/…``, with the licence and a ``package.json`` holding
the package's name, version and licence; a source distribution carries them as
``node_modules/<package>/…`` so that a wheel built from it has them too. They are read
from ``node_modules`` (``npm ci``) and must be the versions ``package.json`` pins. An
editable install serves them from ``node_modules`` directly and copies nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

HERE = Path(__file__).resolve().parent
MANIFEST = Path("web") / "vendor.json"
NODE_MODULES = Path("node_modules")
#: Where the files go inside the built package (``triedbefore.web``'s ``vendor`` folder).
PACKAGED = Path("triedbefore") / "web" / "vendor"


@dataclass(frozen=True)
class FrontEndPackage:
    name: str
    meta: dict[str, str]  # name, version and licence, from the package's package.json
    files: list[Path]  # the licence file and the served files, relative to the package

    @property
    def folder(self) -> Path:
        return NODE_MODULES / self.name


def front_end() -> list[FrontEndPackage]:
    """The packages of the manifest, checked against ``node_modules`` and ``package.json``."""
    manifest = json.loads((HERE / MANIFEST).read_text("utf-8"))
    pinned: dict[str, str] = {}
    if (HERE / "package.json").is_file():
        pinned = json.loads((HERE / "package.json").read_text("utf-8")).get("dependencies", {})
    files = {name: [Path(entry["licence"]), *(Path(file) for file in entry["files"])]
             for name, entry in manifest.items()}
    missing = [str(NODE_MODULES / name / file) for name in files
               for file in [Path("package.json"), *files[name]]
               if not (HERE / NODE_MODULES / name / file).is_file()]
    if missing:
        what = (", ".join(missing) if (HERE / NODE_MODULES).is_dir()
                else f"there is no {NODE_MODULES} folder")
        raise FileError(
            f"the explorer's front-end libraries are missing ({what}): "
            f"run `npm ci` in {HERE} (Node.js 20+ with npm), then build again")
    packages = []
    for name in files:
        meta = json.loads((HERE / NODE_MODULES / name / "package.json").read_text("utf-8"))
        if name in pinned and meta.get("version") != pinned[name]:
            raise FileError(
                f"node_modules holds {name} {meta.get('version')} but package.json pins "
                f"{pinned[name]}: run `npm ci` in {HERE}, then build again")
        packages.append(FrontEndPackage(
            name, {key: meta[key] for key in ("name", "version", "license") if key in meta},
            files[name]))
    return packages


class BuildPyWithFrontEnd(build_py):
    """Copies the served front-end files, their licences and versions into the package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        packages = front_end()
        # Exactly the listed files: nothing left over from an earlier build of another list.
        shutil.rmtree(Path(self.build_lib) / PACKAGED, ignore_errors=True)
        for package in packages:
            target = Path(self.build_lib) / PACKAGED / package.name
            for file in package.files:
                self.mkpath(str((target / file).parent))
                self.copy_file(str(HERE / package.folder / file), str(target / file),
                               preserve_mode=False)
            self.mkpath(str(target))
            (target / "package.json").write_text(json.dumps(package.meta, indent=2) + "\n",
                                                 "utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:  # type: ignore[override]
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        for package in front_end():
            target = Path(self.build_lib) / PACKAGED / package.name
            outputs += [os.fspath(target / file)
                        for file in [Path("package.json"), *package.files]]
        return outputs


class SdistWithFrontEnd(sdist):
    """Adds the served front-end files, their package.json and licences to the sdist."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        extra = [Path("package.json")]
        for package in front_end():
            extra += [package.folder / file for file in [Path("package.json"), *package.files]]
        for path in extra:
            self.mkpath(str((Path(base_dir) / path).parent))
            self.copy_file(str(HERE / path), str(Path(base_dir) / path))


setup(cmdclass={"build_py": BuildPyWithFrontEnd, "sdist": SdistWithFrontEnd})
