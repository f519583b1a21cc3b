"""The foundation verbs end to end: `optinc scenarios`, help, the installed console script, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

from optinc_pdk.paths import CIRCUITS_DIR
from optinc_pdk.spec.scenario import load_scenario

SCENARIOS = sorted(p.stem for p in CIRCUITS_DIR.glob("*.yml"))


def weight_mzis(widths: list[int], approximated: list[int]) -> tuple[int, int]:
    """(full, realised) MZIs from the paper's formulas (independent of optinc_pdk.core.area)."""
    full = realised = 0
    for n in range(len(widths) - 1):
        o, i = widths[n + 1], widths[n]
        k = min(o, i)
        svd = o * (o - 1) // 2 + i * (i - 1) // 2 + k
        full += svd
        realised += -(-max(o, i) // k) * (k * (k - 1) // 2 + k) if n + 1 in approximated else svd
    return full, realised


def test_fourteen_scenarios_ship():
    assert len(SCENARIOS) == 14  # the paper's thirteen and the one-cell demonstrator (docs/demo.md)


def test_help_lists_the_foundation_verbs(run_cli):
    code, out, err = run_cli(["--help"])
    assert code == 0, err
    for verb in ("scenarios", "area", "comm"):
        assert verb in out


def test_research_tools_are_one_lab_group_not_main_verbs(run_cli):
    """`optinc --help` lists the user's verbs; refine, revive and refit-output are `optinc lab` verbs."""
    import typer

    from optinc_pdk.cli.main import app

    verbs = typer.main.get_command(app).commands
    assert {"train", "evaluate", "construct", "import-weights", "lab"} <= set(verbs)
    assert {"refine", "revive", "refit-output"}.isdisjoint(verbs)
    assert set(verbs["lab"].commands) == {"refine", "revive", "refit-output"}
    code, out, err = run_cli(["--help"])
    assert code == 0 and "Research tools" in out, err
    code, out, err = run_cli(["lab", "--help"])
    assert code == 0 and "refit-output" in out, err


def test_scenarios_table_lists_every_scenario_with_mzi_counts(run_cli):
    code, out, err = run_cli(["scenarios"])
    assert code == 0, err
    for name in SCENARIOS:
        s = load_scenario(name)
        full, realised = weight_mzis(s.widths, s.approx_layers)
        line = next((ln for ln in out.splitlines() if f" {name} " in ln), None)
        assert line is not None, f"{name} missing (or cut) in:\n{out}"
        cells = [cell.strip() for cell in line.split("│")]
        assert str(full) in cells and str(realised) in cells, line


def test_scenarios_json(run_cli):
    code, out, err = run_cli(["scenarios", "--json"])
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    assert sorted(rows) == SCENARIOS
    for name, row in rows.items():
        s = load_scenario(name)
        assert (row["full_mzis"], row["approx_mzis"]) == weight_mzis(s.widths, s.approx_layers)
        assert row["optincs"] == (5 if name == "cascade16" else 1)
    assert rows["b8n4"]["dataset"] == 13**4 and rows["b16n4"]["dataset"] == 61**4


def test_unknown_verb_is_a_usage_error(run_cli):
    code, _, err = run_cli(["frobnicate"])
    assert code == 2 and "No such command" in err


# --- the installed console script ----------------------------------------------------------


def test_console_script_comm(run_optinc):
    code, out, err = run_optinc(["comm", "--servers", "4", "8", "16", "--json"])
    assert code == 0, err
    rows = json.loads(out)["servers"]
    assert [(r["servers"], r["ring_overhead"], r["optinc_overhead"]) for r in rows] == [
        (4, 0.5, 0.0), (8, 0.75, 0.0), (16, 0.875, 0.0),
    ]


def test_console_script_scenarios_piped_keeps_names_whole(run_optinc):
    code, out, err = run_optinc(["scenarios"])
    assert code == 0, err
    assert "…" not in out  # rich's truncation mark: nothing is cut when stdout is a pipe
    for name in SCENARIOS:
        assert f" {name} " in out


def test_console_script_bad_scenario_exits_2_with_one_line(run_optinc, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text((CIRCUITS_DIR / "b8n4.yml").read_text().replace("bits: 8", "bits: 10"))
    code, out, err = run_optinc(["area", str(bad)])
    assert code == 2 and out == ""
    assert err.strip() == (
        f"optinc: error: {bad}: bits: must be a multiple of 2M = 8 (M = widths[0] ONN inputs), got 10"
    )


def test_cli_imports_no_heavy_libraries():
    """Verbs import torch, gdsfactory, sax, jax... inside the command, so `optinc --help` stays fast."""
    heavy = ["torch", "gdsfactory", "sax", "jax", "scipy", "matplotlib", "klayout"]
    probe = (
        "import sys, optinc_pdk.cli.main; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
