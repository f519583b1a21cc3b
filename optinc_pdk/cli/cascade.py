"""`optinc cascade-errors`: how often eq. 9 (decimal part discarded in level 1) is wrong."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("cascade-errors")
    def cascade_errors(
        servers_per_optinc: int = typer.Option(4, help="servers per level-1 OptINC"),
        groups: int = typer.Option(4, help="level-1 OptINCs feeding level 2"),
        bits: int = typer.Option(8, help="gradient bits"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Exact count and size of eq. 9's errors over the whole input space (vs eq. 8 / eq. 10)."""
        from dataclasses import asdict

        from optinc_pdk.analysis.cascade_rounding import eq9_failures
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.errors import OptincError

        if servers_per_optinc < 1 or groups < 1 or bits < 2 or bits > 16:
            raise OptincError("cascade-errors: need servers-per-optinc >= 1, groups >= 1, 2 <= bits <= 16")
        results = [eq9_failures(servers_per_optinc, groups, bits, w) for w in ("server gradients", "group sums")]
        if as_json:
            print_json([{**asdict(r), "fraction": r.fraction,
                         "error_sizes": {str(k): v for k, v in r.error_sizes.items()}} for r in results])
            return
        console.print(table(
            f"Eq. 9 vs the exact average: {groups} x {servers_per_optinc}-server OptINCs, {bits}-bit gradients",
            ["input space", "inputs", "wrong with eq. 9", "fraction", "error sizes (exact - eq. 9: count)"],
            [[r.weighting, f"{r.total:.4e}", f"{r.wrong:.4e}", f"{100 * r.fraction:.3f}%",
              ", ".join(f"{k}: {v:.3e}" for k, v in r.error_sizes.items())] for r in results]))
        console.print("Keeping the decimal part in level 1 (eq. 10) makes the cascade exact: 0 errors.")
