"""The wheel claims one top-level name, `lineage`, and runs from its installed layout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + [str(ROOT), "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("lineage-*.whl")
    return built


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"lineage"}
    for shipped in (
        "lineage/loaders/events.py",
        "lineage/api/app.py",
        "lineage/api/static/graphiql/graphiql.min.js",
        "lineage/schema/ddl.sql",
        "lineage/schema/event.schema.json",
        "lineage/examples/events.ndjson",
    ):
        assert shipped in names


def test_the_installed_layout_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import sys, lineage.loaders.files, lineage.api.app, lineage.schema\n"
        "assert lineage.loaders.files.__file__.startswith(sys.argv[1]), lineage.__file__\n"
        "from lineage.entry import main\n"
        "sys.argv = ['lineage', 'demo']\n"
        "raise SystemExit(main())\n"
    )
    # From an empty directory, with the unpacked wheel first on the path: the source tree's
    # folders are not importable, so this runs exactly what the wheel ships.
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=work,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "code-pretrain@v1" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
