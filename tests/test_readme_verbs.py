"""The README's verb table lists every verb `optinc --help` offers (issue 31: `compare` and `layout` were missing)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from optinc_pdk.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _table_verbs() -> set[str]:
    """Every verb named in the first cell of a row of the README's "Command line" table."""
    section = README.read_text().split("## Command line", 1)[1].split("\n## ", 1)[0]
    verbs = set()
    for cell in re.findall(r"^\| `optinc ([^`]+)` \|", section, flags=re.M):
        first, *rest = cell.split()
        verbs.add(first)
        if rest and "\\|" in rest[0]:  # `optinc lab refine\|revive\|refit-output …`: the sub-verbs too
            verbs.update(f"{first} {sub}" for sub in rest[0].split("\\|"))
    return verbs


def test_every_verb_of_the_cli_has_a_row_in_the_readme_table():
    command = typer.main.get_command(app)
    verbs = set(command.commands)
    verbs |= {f"lab {sub}" for sub in command.commands["lab"].commands}
    missing = sorted(verbs - _table_verbs())
    assert not missing, f"README.md's verb table lacks {missing}"
