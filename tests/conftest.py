from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ``drover run`` hands executions to a local service that outlives it (engine.cli.local_service);
# each test's DROVER_HOME would keep one running for minutes. Tests run in the command's own
# process unless they set it themselves (tests/run/test_local_service.py, test_run_interrupt.py).
os.environ["DROVER_LOCAL_SERVICE"] = "off"
_OWN_BASETEMP = pytest.StashKey[Path]()


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
    if config.option.basetemp:
        return
    basetemp = Path(tempfile.mkdtemp(prefix="drover-tests-")) / "basetemp"
    config.option.basetemp = str(basetemp)
    config.stash[_OWN_BASETEMP] = basetemp


@pytest.hookimpl(trylast=True)  # after session-scoped fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Keep the folder of a failed session for inspection; remove that of a passed one."""
    basetemp = session.config.stash.get(_OWN_BASETEMP, None)
    if basetemp is not None and exitstatus == 0:
        shutil.rmtree(basetemp.parent, ignore_errors=True)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def shop_execution_path() -> Path:
    return ROOT / "examples" / "shop" / "execution.yaml"
