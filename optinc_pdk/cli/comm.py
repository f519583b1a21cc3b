"""`optinc comm`: Fig. 6 communication data and a per-step latency estimate."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("comm")
    def comm_cmd(
        servers: list[int] | None = typer.Option(
            None, "--servers", help="server counts: --servers 4 8 16 (or repeated); default 4 8 16"
        ),
        # click options take one value each; the counts after the first of `--servers 4 8 16` arrive here
        more_servers: list[int] | None = typer.Argument(None, hidden=True, metavar="[SERVERS]..."),
        gradient_params: float = typer.Option(25.6e6, help="gradient elements per step (default: ResNet-50)"),
        gradient_bits: int = typer.Option(8, help="bits per transmitted gradient element"),
        flops_per_step: float = typer.Option(3 * 4.1e9 * 128, help="FLOPs per training step per server"),
        gpu_tflops: float = typer.Option(60.0, help="GPU compute, TFLOP/s (Sec. IV: H100, 60)"),
        utilization: float = typer.Option(0.6, help="GPU utilisation (Sec. IV: 0.6)"),
        transceivers: int = typer.Option(8, help="full-duplex transceivers per server (Sec. IV: 8)"),
        gbps: float = typer.Option(800.0, help="Gb/s per transceiver (Sec. IV: 800)"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Communication data normalised to the gradient size: ring all-reduce vs OptINC (Fig. 6)."""
        from optinc_pdk.analysis.comm import HardwareParams, comm_report
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.errors import OptincError

        if more_servers and not servers:
            raise OptincError("comm: --servers: server counts follow the option, e.g. --servers 4 8 16")
        counts = [*(servers or [4, 8, 16]), *(more_servers or [])]
        try:
            hw = HardwareParams(gradient_params, gradient_bits, flops_per_step, gpu_tflops, utilization, transceivers, gbps)
            report = comm_report(counts, hw)
        except ValueError as error:
            raise OptincError(f"comm: {error}") from None
        if as_json:
            print_json(report)
            return
        console.print(table("Communication data per server, normalised to the gradient size (Fig. 6)",
                            ["servers", "ring all-reduce", "OptINC", "ring overhead", "OptINC overhead"],
                            [[r["servers"], f"{r['ring_data']:.3f}", f"{r['optinc_data']:.3f}",
                              f"{100 * r['ring_overhead']:.1f}%", f"{100 * r['optinc_overhead']:.1f}%"]
                             for r in report["servers"]]))
        console.print(table("Latency per training step (compute then communicate)",
                            ["servers", "compute (ms)", "ring comm (ms)", "OptINC comm (ms)", "OptINC / ring", "reduction"],
                            [[r["servers"], f"{1e3 * r['latency']['compute_s']:.2f}",
                              f"{1e3 * r['latency']['ring_comm_s']:.2f}", f"{1e3 * r['latency']['optinc_comm_s']:.2f}",
                              f"{r['latency']['optinc_normalised']:.3f}", f"{100 * r['latency']['reduction']:.1f}%"]
                             for r in report["servers"]]))
