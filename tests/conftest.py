"""Shared fixtures: run the ``optinc`` CLI in process or as the installed console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# pytest-xdist's workers run with COLUMNS=80 and LINES=24 in their environment; the CLI's console takes its
# width from COLUMNS when it is set (cli/output.py), and the tests read the tables at the non-terminal width
for _terminal_size in ("COLUMNS", "LINES"):
    os.environ.pop(_terminal_size, None)


@pytest.fixture
def run_cli(capsys):
    """Call ``optinc_pdk.cli.main.main(args)`` in process: returns (exit_code, stdout, stderr)."""
    from optinc_pdk.cli.main import main

    def run(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before this call
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _console_script() -> str:
    """The installed ``optinc`` entry point of the interpreter running the tests."""
    beside_python = Path(sys.executable).with_name("optinc")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("optinc")
    if found is None:
        pytest.fail("the `optinc` console script is not installed (pip install -e .)")
    return found


@pytest.fixture
def run_optinc(tmp_path):
    """Run the real ``optinc`` console script in a subprocess: returns (exit_code, stdout, stderr).

    Runs in ``tmp_path`` so relative paths cannot pick up files of the checkout by accident.
    """
    script = _console_script()
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}

    def run(args: list[str], timeout: float = 120) -> tuple[int, str, str]:
        done = subprocess.run(
            [script, *map(str, args)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=timeout
        )
        return done.returncode, done.stdout, done.stderr

    return run
