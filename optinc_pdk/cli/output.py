"""Shared CLI output helpers: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped, redirected or captured output has no terminal width; rich would then squeeze tables into
# 80 columns and cut scenario names and MZI counts with "…". Give it room (COLUMNS still wins).
_NON_TERMINAL_WIDTH = 200
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else _NON_TERMINAL_WIDTH)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, show_lines=False)
    for index, column in enumerate(columns):
        out.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        out.add_row(*[str(cell) for cell in row])
    return out
