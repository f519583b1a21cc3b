"""Outputs land complete at exactly the asked name or are refused in one line; builds swap in whole, under a lock.

Regression tests for: an extension-less ``--output`` that left a 0-byte file and a hidden
``.NAME.*.tmp.npy``; per-file (not per-build) atomicity; no lock between two builds; temporary files
of killed runs that nothing removed; tracebacks for outputs onto a folder, under a file or in a
read-only folder; Ctrl-C exiting 130 silently. The SIGKILL/SIGTERM test is tests/test_build_kill.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from optinc_pdk.core import atomic
from optinc_pdk.errors import OptincError
from optinc_pdk.flows import staging

TINY = {"name": "tiny", "bits": 4, "servers": 3, "widths": [2, 6, 5, 2], "approx_layers": [1, 3]}
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def _one_line(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tiny_yml(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(TINY))
    return path


# --- the one writer ---------------------------------------------------------------------------------

def test_a_writer_that_appends_an_extension_is_caught_and_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="appended an extension"), atomic.atomic_path(tmp_path / "decoded") as tmp:
        np.save(tmp, np.arange(3))  # numpy writes TMP.npy, not TMP
    assert list(tmp_path.iterdir()) == []


def test_numpy_through_a_handle_writes_exactly_the_asked_name(tmp_path):
    with atomic.atomic_path(tmp_path / "decoded") as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["decoded"]
    assert np.load(tmp_path / "decoded").tolist() == [0, 1, 2]


def test_failed_or_interrupted_writes_remove_their_temporary_file(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    for error in (ValueError, KeyboardInterrupt):
        with pytest.raises(error), atomic.atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise error
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"


def test_os_errors_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    with pytest.raises(OptincError, match="is a folder"):
        atomic.write_text_atomic(tmp_path / "folder", "x")
    with pytest.raises(OptincError, match="cannot write"):
        atomic.write_text_atomic(tmp_path / "file" / "x.txt", "x")


def test_temporary_files_of_dead_writers_go_with_the_next_write(tmp_path):
    dead = tmp_path / f".w.npz{atomic.TEMP_MARK}{_dead_pid()}-0badf00d.npz"
    alive = tmp_path / f".w.npz{atomic.TEMP_MARK}{os.getppid()}-0badf00d.npz"
    dead.write_text("partial")
    alive.write_text("someone is writing this")
    atomic.write_text_atomic(tmp_path / "other.txt", "x")
    assert not dead.exists() and alive.exists()


def test_weights_must_be_npz():
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.core.weights import save_npz
    from optinc_pdk.spec.scenario import scenario_from_dict

    s = scenario_from_dict(TINY)
    with pytest.raises(OptincError, match="must end in .npz"):
        save_npz("weights", random_weights(s, 1), {})


# --- every verb: a bad output is one line before any work --------------------------------------------

def test_allreduce_without_npy_extension_is_refused_before_work(run_cli, tiny_yml, tmp_path):
    gradients = tmp_path / "g.npy"
    np.save(gradients, np.zeros((3, 4), dtype=np.uint8))
    code, _, err = run_cli(["allreduce", tiny_yml, "--random-weights", "1", "--input", gradients,
                            "--output", tmp_path / "decoded"])
    _one_line(code, err, "--output", "must end in .npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npy", "tiny.yml"]
    code, _, err = run_cli(["allreduce", tiny_yml, "--random-weights", "1", "--input", gradients,
                            "--output", tmp_path / "decoded.npy"])
    assert code == 0, err
    assert np.load(tmp_path / "decoded.npy").shape == (3, 4)
    assert not _hidden(tmp_path)


@pytest.mark.parametrize("place", ["folder", "under_file", "no_extension"])
def test_file_outputs_of_every_verb_are_one_line(run_cli, tiny_yml, tmp_path, place):
    (tmp_path / "a_folder.npz").mkdir()
    (tmp_path / "a_file").write_text("")
    target = {"folder": tmp_path / "a_folder.npz", "under_file": tmp_path / "a_file" / "x.npz",
              "no_extension": tmp_path / "weights"}[place]
    np.save(tmp_path / "m.npy", np.eye(4))
    gradients = tmp_path / "g.npy"
    np.save(gradients, np.zeros((3, 4), dtype=np.uint8))
    runs = {
        "import-weights": ["import-weights", tmp_path / "missing.pt", tiny_yml, "-o", target],
        "construct": ["construct", tiny_yml, "-o", target],
        "train": ["train", tiny_yml, "-o", target],
        "lab refine": ["lab", "refine", tiny_yml, "--weights", tmp_path / "missing.npz", "-o", target],
        "lab revive": ["lab", "revive", tiny_yml, "--weights", tmp_path / "missing.npz", "-o", target],
        "lab refit-output": ["lab", "refit-output", tiny_yml, "--weights", tmp_path / "missing.npz", "-o", target],
        "allreduce": ["allreduce", tiny_yml, "--random-weights", "1", "--input", gradients,
                      "--output", target.with_suffix(".npy") if place != "no_extension" else target],
    }
    if place != "no_extension":  # a prefix (decompose) and a CSV take any name
        runs["decompose"] = ["decompose", tmp_path / "m.npy", "-o", target.with_suffix("")]
        runs["compare"] = ["compare", "b8n4", "--no-footprint", "--csv", target]
        runs["compare --plot"] = ["compare", "b8n4", "--no-footprint", "--plot", target]
    if place == "folder":
        (tmp_path / "a_folder.npy").mkdir()
        (tmp_path / "a_folder.json").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for verb, args in runs.items():
        code, _, err = run_cli(args)
        line = _one_line(code, err, "--")
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, (verb, line)


def test_folder_outputs_are_one_line(run_cli, tiny_yml, tmp_path):
    (tmp_path / "a_file").write_text("")
    for out in (tmp_path / "a_file", tmp_path / "a_file" / "sub"):
        for args in (["describe", tiny_yml, "--random-weights", "1", "--out", out],
                     ["layout", tiny_yml, "--random-weights", "1", "--no-png", "-o", out],
                     ["build", tiny_yml, "--random-weights", "1", "--no-png", "-o", out]):
            code, _, err = run_cli(args)
            _one_line(code, err, str(tmp_path / "a_file"))


def _lock_folder(folder) -> None:
    """Make ``folder`` unwritable: chmod for a user; root ignores modes, so an immutable folder for root."""
    if not AS_ROOT:
        folder.chmod(0o555)
        return
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"root ignores folder modes and chattr +i failed here: {done.stderr.strip()}")


def _unlock_folder(folder) -> None:
    if AS_ROOT:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def test_read_only_folder_is_one_line(run_cli, tiny_yml, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    np.save(tmp_path / "m.npy", np.eye(4))
    _lock_folder(locked)
    try:
        for args in (["decompose", tmp_path / "m.npy", "-o", locked / "m"],
                     ["import-weights", tmp_path / "x.pt", tiny_yml, "-o", locked / "w.npz"],
                     ["describe", tiny_yml, "--random-weights", "1", "--out", locked / "d"],
                     ["build", tiny_yml, "--random-weights", "1", "-o", locked / "b"]):
            code, _, err = run_cli(args)
            _one_line(code, err, str(locked))
        assert list(locked.iterdir()) == []
    finally:
        _unlock_folder(locked)


# --- builds: whole-folder swap, lock, leftovers -----------------------------------------------------

def test_a_failed_build_leaves_the_previous_one_untouched(tmp_path):
    target = tmp_path / "out"
    with staging.staged_folder(target) as folder:
        (folder / "report.json").write_text("old")
    with pytest.raises(KeyboardInterrupt), staging.staged_folder(target) as folder:
        (folder / "report.json").write_text("half")
        (folder / "new.gds").write_text("")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == [staging.MARKER, "report.json"]
    assert (target / "report.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with staging.staged_folder(target) as folder:
        (folder / "report.json").write_text("new")
    assert (target / "report.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_without_renameat2_keeps_one_complete_build(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    for text in ("one", "two"):
        with staging.staged_folder(target) as folder:
            (folder / "report.json").write_text(text)
    assert (target / "report.json").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_build_into_the_same_folder_is_refused_and_a_stale_lock_recovered(tmp_path):
    target = tmp_path / "out"
    with staging.staged_folder(target), pytest.raises(OptincError, match=f"pid {os.getpid()}"):
        staging.staged_folder(target).__enter__()
    lock = staging.lock_path(target)
    lock.write_text(f"{_dead_pid()}\n")  # a SIGKILLed build's lock file
    with staging.staged_folder(target) as folder:
        (folder / "report.json").write_text("{}")
    assert not lock.exists()


def test_leftovers_of_killed_builds_are_cleaned_or_restored(tmp_path):
    target, dead = tmp_path / "out", _dead_pid()
    left = tmp_path / f".out{staging.STAGING_MARK}{dead}-abcd"
    left.mkdir()
    (left / "half.gds").write_text("")
    aside = tmp_path / f".out{staging.ASIDE_MARK}{dead}-abcd"  # killed between the two renames
    aside.mkdir()
    (aside / "report.json").write_text("previous")
    (aside / staging.MARKER).write_text("")
    staging.recover_leftovers(target)
    assert (target / "report.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_build_never_replaces_foreign_files_or_the_working_folder(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("")
    with pytest.raises(OptincError, match="not an optinc build"):
        staging.check_target(mine)
    monkeypatch.chdir(mine)
    with pytest.raises(OptincError, match="working folder"):
        staging.check_target(mine)
    assert (mine / "thesis.tex").exists()


def test_a_build_reports_the_final_paths_not_the_staging_folder(tiny_yml, tmp_path):
    from optinc_pdk.flows.build import BuildRequest, build
    from optinc_pdk.spec.scenario import load_scenario

    out = tmp_path / "out"
    for seed in (1, 2):
        result = build(BuildRequest(scenario=load_scenario(str(tiny_yml)), out_dir=out, random_seed=seed, png=False,
                                    verify=False, formats=("oas",)))
    assert result.out_dir == out and result.report["weights"]["random_seed"] == 2
    for name in ("report.json", "report.md", "tiny.footprint.json"):
        assert staging.STAGING_MARK not in (out / name).read_text(), name
    # inside the build's files, paths are relative to the build folder (no machine folder in them)
    assert json.loads((out / "report.json").read_text())["layout"]["paths"]["oas"] == "tiny.oas"
    assert str(tmp_path) not in (out / "report.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.yml"]
    assert _hidden(out) == [staging.MARKER]


# --- signals in the CLI ------------------------------------------------------------------------------

def test_ctrl_c_is_one_line_and_130(run_cli, monkeypatch):
    import optinc_pdk.spec.scenario as scenario

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scenario, "load_scenario", interrupted)
    code, _, err = run_cli(["area", "b8n4"])
    assert code == 130 and err.strip() == "optinc: interrupted"


def test_sigterm_is_one_line_and_143(run_cli, monkeypatch):
    import signal

    import optinc_pdk.spec.scenario as scenario

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr(scenario, "load_scenario", terminated)
    code, _, err = run_cli(["area", "b8n4"])
    assert code == 143 and err.strip() == "optinc: terminated"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize("first", ["layout", "describe"])
def test_a_build_may_replace_what_layout_or_describe_wrote(run_cli, tiny_yml, tmp_path, first):
    out = tmp_path / "out"
    extra = ["--no-png", "--format", "oas"] if first == "layout" else []
    code, _, err = run_cli([first, tiny_yml, "--random-weights", "1", "-o", out, *extra])
    assert code == 0, err
    assert staging.is_build_folder(out)
    code, _, err = run_cli(["build", tiny_yml, "--random-weights", "1", "--no-verify", "--no-png", "--format", "oas",
                            "-o", out])
    assert code == 0, err
    assert (out / "report.json").is_file()
