"""What a command imports: help, validate and plan never load Hera, the Kubernetes client,
SQLAlchemy or FastAPI (each costs a noticeable part of a second at every start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOP = "examples/shop/execution.yaml"
HEAVY = ("hera", "kubernetes", "sqlalchemy", "fastapi")


def _imported_by(home: Path, *args: str, code: str | None = None) -> set[str]:
    """The heavy packages in sys.modules after running the command in a fresh interpreter."""
    run = code or (
        "from engine.cli import app\n"
        f"sys.argv = ['drover', *{args!r}]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
    )
    script = f"import sys\n{run}\nprint('HEAVY', *[m for m in {HEAVY!r} if m in sys.modules])\n"
    # No database: plan reads a project's earlier runs (through SQLAlchemy) only from one.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DROVER_HOME"] = str(home / "no-such-drover-home")
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1].split()
    assert last[0] == "HEAVY", done.stdout
    return set(last[1:])


@pytest.mark.parametrize(
    "args", [("--help",), ("validate", SHOP), ("plan", SHOP), ("validate", "--help")]
)
def test_light_commands_import_no_heavy_package(args: tuple[str, ...], tmp_path: Path) -> None:
    assert _imported_by(tmp_path, *args) == set()


def test_the_command_line_loads_the_spec_models_only_for_a_command_that_reads_a_spec(
    tmp_path: Path,
) -> None:
    # pydantic and the spec's models are a tenth of a second: --help, and drover run when its
    # local service reads the spec, never pay it.
    code = (
        "from engine.cli import app\n"
        "sys.argv = ['drover', '--help']\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "assert 'pydantic' not in sys.modules, 'pydantic'\n"
        "assert 'engine.spec' not in sys.modules, 'engine.spec'\n"
        "sys.argv = ['drover', 'validate', 'examples/shop/execution.yaml']\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "assert 'engine.spec' in sys.modules\n"
    )
    assert _imported_by(tmp_path, code=code) == set()


def test_compile_still_loads_the_compiler(tmp_path: Path) -> None:
    # The check above can see an import: compile needs Hera, and gets it when it runs.
    assert "hera" in _imported_by(tmp_path, "compile", SHOP, "-o", str(tmp_path / "out.yaml"))


def test_engine_package_names_load_on_first_use(tmp_path: Path) -> None:
    code = (
        "import engine, engine.pipelines\n"
        "assert 'hera' not in sys.modules\n"
        "from engine import compile_plan, load_execution, plan_execution\n"
        "from engine.compiler import compile_plan as direct\n"
        "assert compile_plan is direct\n"
        "assert engine.pipelines.compile_pipeline.__module__ == 'engine.pipelines.compiler'\n"
        "assert set(engine.__all__) <= set(dir(engine))\n"
        "try:\n"
        "    engine.no_such_name\n"
        "except AttributeError as error:\n"
        "    assert 'no_such_name' in str(error)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    assert "hera" in _imported_by(tmp_path, code=code)


def test_every_public_name_of_engine_resolves() -> None:
    import engine
    import engine.pipelines

    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    for name in engine.pipelines.__all__:
        assert getattr(engine.pipelines, name) is not None, name


def test_the_run_path_imports_neither_fastapi_nor_the_kubernetes_client(
    tmp_path: Path,
) -> None:
    # What ``drover run`` imports to start and follow a run on the local runner (before any
    # database exists): the service without the web app, the Argo backend only when configured.
    code = (
        "import engine.cli.run, api.service, api.runs.control, api.runs.views, api.database\n"
        "from api.settings import Settings\n"
        "from api.backends import build_backends\n"
        "assert set(build_backends(Settings())) == {'local'}\n"
        "assert 'alembic' not in sys.modules\n"
    )
    assert _imported_by(tmp_path, code=code) & {"fastapi", "kubernetes"} == set()


def test_argo_backend_names_load_on_first_use() -> None:
    import engine.backends.argo as argo
    from engine.backends.argo.backend import ArgoBackend

    assert argo.ArgoBackend is ArgoBackend
    for name in argo.__all__:
        assert getattr(argo, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_name"):
        argo.no_such_name  # noqa: B018
