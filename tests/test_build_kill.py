"""Kill `optinc build` at random moments: the folder holds nothing, the previous or the new complete build.

A tiny scenario (no verification, no PNG, OASIS only) is built into one folder: first completely with
seed 1; then a build with seed 2 is stopped with SIGKILL, SIGTERM or SIGINT at a random moment after
its staging folder appeared (several fixed seeds for the moments), and a last one runs to the end.
After every stop the folder is checked: the same files as a complete build, all from one build
(deterministic text files equal to those of the complete build of the seed its report names), and
SIGTERM/SIGINT leave no temporary file, staging folder or lock (one line on stderr, exit 143/130). What a
SIGKILL leaves beside the folder is gone after the next run. Meanwhile a second build into the same
folder is refused in one line naming the first one's pid.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from optinc_pdk.flows import staging

TINY = {"name": "tiny", "bits": 4, "servers": 3, "widths": [2, 6, 5, 2], "approx_layers": [1, 3]}
STOPS = [(signal.SIGKILL, 11), (signal.SIGTERM, 12), (signal.SIGKILL, 13), (signal.SIGTERM, 14), (signal.SIGINT, 15)]
DETERMINISTIC = ("circuit.json", "summary.json", "phases.json")  # text derived from the weights alone


def _snapshot(out: Path) -> dict:
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    report = json.loads((out / "report.json").read_text())
    digests = {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
               for name in files if name in DETERMINISTIC or name.startswith("netlists/")}
    return {"files": files, "seed": report["weights"]["random_seed"], "digests": digests}


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if any(mark in p.name for mark in ("optinc-tmp-", staging.STAGING_MARK, staging.ASIDE_MARK,
                                                     staging.LOCK_MARK)))


@pytest.fixture
def started():
    """Every build process the test starts; any still running at the end (a failed test) is killed."""
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_killed_builds_leave_one_complete_build(tmp_path, started):
    (tmp_path / "tiny.yml").write_text(yaml.safe_dump(TINY))
    script, out = str(Path(sys.executable).with_name("optinc")), tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}

    def start(seed: int) -> subprocess.Popen:
        args = [script, "build", "tiny.yml", "--random-weights", str(seed), "--no-verify", "--no-png", "--format", "oas",
                "-o", "out"]
        started.append(subprocess.Popen(args, cwd=tmp_path, env=env, text=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE))
        return started[-1]

    def staged(process: subprocess.Popen) -> float:
        """Seconds until this build's staging folder appears (or the process ends): it holds the lock and
        has cleaned up after the runs before it."""
        begin = time.monotonic()
        while process.poll() is None and not list(tmp_path.glob(f".out{staging.STAGING_MARK}{process.pid}-*")):
            time.sleep(0.02)
        return time.monotonic() - begin

    first = start(1)
    began = time.monotonic()
    staged(first)
    staged_at = time.monotonic()
    assert first.wait(timeout=300) == 0, first.stderr.read()
    writing = time.monotonic() - staged_at  # how long the staged part of a build takes
    assert time.monotonic() - began < 300
    complete = {1: _snapshot(out)}
    assert _leftovers(tmp_path) == []
    observed = []
    for index, (sig, seed) in enumerate(STOPS):
        process = start(2)
        staged(process)
        if index == 1 and process.poll() is None:  # a second build into the same folder meanwhile
            rival = start(3)
            _, err = rival.communicate(timeout=300)
            assert rival.returncode == 2 and f"pid {process.pid}" in err and len(err.strip().splitlines()) == 1, err
        time.sleep(random.Random(seed).uniform(0, 1.1 * writing))
        process.send_signal(sig)
        _, err = process.communicate(timeout=300)
        if process.returncode == 0 or (process.returncode == -sig and sig != signal.SIGKILL):
            # finished before the signal, or it came after the command returned (the CLI's handlers are gone)
            assert _snapshot(out)["seed"] == 2, err
        elif sig == signal.SIGKILL:
            assert process.returncode == -signal.SIGKILL
        else:
            assert process.returncode == (143 if sig == signal.SIGTERM else 130), err
            assert err.strip().splitlines()[-1] == ("optinc: terminated" if sig == signal.SIGTERM
                                                    else "optinc: interrupted"), err
            assert "Traceback" not in err, err
        if sig != signal.SIGKILL:
            assert _leftovers(tmp_path) == [], (sig, _leftovers(tmp_path))
        assert not list(out.rglob(".*optinc-tmp-*"))  # never inside the build folder: it is swapped in whole
        observed.append(_snapshot(out))
    last = start(2)
    assert last.wait(timeout=300) == 0, last.stderr.read()
    complete[2] = _snapshot(out)
    assert _leftovers(tmp_path) == [], "a killed run's leftovers survived the next run"
    assert complete[2]["digests"] != complete[1]["digests"]
    for snapshot in observed:
        assert snapshot == complete[snapshot["seed"]]

