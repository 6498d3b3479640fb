from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ``drover run`` hands executions to a local service that outlives it (engine.cli.local_service);
# each test's DROVER_HOME would keep one running for minutes. Tests run in the command's own
# process unless they set it themselves (tests/run/test_local_service.py, test_run_interrupt.py).
os.environ["DROVER_LOCAL_SERVICE"] = "off"
# pytest-xdist's workers start with COLUMNS=80 in their environment; the CLI's output under test
# is piped output, which no width should shape, as in a plain session.
os.environ.pop("COLUMNS", None)
_OWN_BASETEMP = pytest.StashKey[Path]()
_IMAGES_STATE = pytest.StashKey[Path]()
_images_preparation: Any = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Give this session a temporary folder no other pytest session touches.

    Embedded PostgreSQL servers run as another user (we are often root) and live in ``tmp_path``
    folders; their library opens every parent for traversal. pytest's default folders share one
    parent, ``$TMP/pytest-of-<user>``, which every session starting on the machine (another
    checkout's tests, a project's pytest that a Drover run starts) resets to 0700
    (``_pytest/tmpdir.py``: ``TempPathFactory.getbasetemp``), locking running servers out of their
    own data directories. An explicit ``--basetemp`` is used as given.
    """
    if getattr(config.option, "tx", None) and not hasattr(config, "workerinput"):
        # The controller of a pytest-xdist run prepares Docker for the image tests' worker.
        config.stash[_IMAGES_STATE] = _images().offer_state_file()
    if config.option.basetemp:
        return
    basetemp = Path(tempfile.mkdtemp(prefix="drover-tests-")) / "basetemp"
    config.option.basetemp = str(basetemp)
    config.stash[_OWN_BASETEMP] = basetemp


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Start Docker's engine and the image build once, for the worker that will need them
    (tests/images/preparation.py)."""
    global _images_preparation
    if _images_preparation is None:
        _images_preparation = _images().start_for(ids) or False


def _images() -> Any:
    """tests/images/preparation.py, imported as pytest's prepend mode imports the modules of
    tests/images for its own conftest."""
    images = str(ROOT / "tests" / "images")
    if images not in sys.path:
        sys.path.insert(0, images)
    import preparation

    return preparation


@pytest.hookimpl(trylast=True)  # after session-scoped fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Keep the folder of a failed session for inspection; remove that of a passed one."""
    if _images_preparation:
        _images_preparation.cancel()
    state = session.config.stash.get(_IMAGES_STATE, None)
    if state is not None:
        shutil.rmtree(state.parent, ignore_errors=True)
    basetemp = session.config.stash.get(_OWN_BASETEMP, None)
    if basetemp is not None and exitstatus == 0:
        shutil.rmtree(basetemp.parent, ignore_errors=True)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def shop_execution_path() -> Path:
    return ROOT / "examples" / "shop" / "execution.yaml"
