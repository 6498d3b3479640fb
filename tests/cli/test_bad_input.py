"""Invalid input exits 2 before anything starts, and the message says what to do instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "execution.yaml"


def drover(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        env={**os.environ, "DROVER_HOME": str(home), "COLUMNS": "200", **env},
    )  # fmt: skip


def test_an_unknown_runtime_exits_2_naming_the_choices(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = drover("run", str(SHOP), "--runtime", "bogus", home=home)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'sandbox'" in done.stderr and "'process'" in done.stderr
    assert not home.exists()  # no Postgres, no run, no workflow


def test_an_unknown_runtime_from_the_environment_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = drover("run", str(SHOP), home=home, DROVER_LOCAL_RUNTIME="bogus")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "DROVER_LOCAL_RUNTIME='bogus'" in done.stderr and "sandbox, process" in done.stderr
    assert "Traceback" not in done.stderr
    assert not home.exists()


def test_the_sandbox_without_bubblewrap_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bin_dir = tmp_path / "bin"  # a PATH with this Python but without bwrap
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    done = drover("run", str(SHOP), "--runtime", "sandbox", home=home, PATH=str(bin_dir))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bubblewrap" in done.stderr
    assert not home.exists()


def test_discover_on_a_missing_folder_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / ("a-folder-name-long-enough-to-wrap-at-eighty-columns-" * 2)
    done = drover(
        "discover", "--runner", "pytest", str(missing), home=tmp_path / "home", COLUMNS=""
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{missing}: no such directory" in done.stderr  # whole, on one line, in a pipe
    assert "Traceback" not in done.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    done = drover("discover", "--runner", "pytest", str(a_file), home=tmp_path / "home")
    assert done.returncode == 2 and f"{a_file}: not a directory" in done.stderr
