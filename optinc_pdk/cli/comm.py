"""`optinc comm`: Fig. 6 communication data and, with --model, the per-step latency breakdown (docs/ddp.md)."""

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
        gpu_tflops: float = typer.Option(60.0, help="GPU compute, TFLOP/s (Sec. IV: H100, 60)"),
        utilization: float = typer.Option(0.6, help="GPU utilisation (Sec. IV: 0.6)"),
        transceivers: int = typer.Option(8, help="full-duplex transceivers per server (Sec. IV: 8)"),
        gbps: float = typer.Option(800.0, help="Gb/s per transceiver (Sec. IV: 800)"),
        model: list[str] | None = typer.Option(
            None, "--model", help="latency breakdown (Fig. 7(b)) for resnet50-cifar and/or llama-8x384, under named "
            "assumption sets; the options below set the base assumptions (docs/ddp.md)"),
        link_share: float = typer.Option(1.0, help="replicas sharing one server's transceivers (8: 800 Gb/s per GPU)"),
        ring_bits: int = typer.Option(32, help="ring all-reduce's bits per gradient element on the wire"),
        optinc_bits: int = typer.Option(32, help="OptINC's bits per gradient element (Table II's scenario: 16)"),
        message_latency_us: float = typer.Option(0.0, help="latency per message and ring step, microseconds"),
        bucket_mb: float = typer.Option(25.0, help="gradient bucket size, MB of fp32 (DDP's default 25)"),
        overlap: float = typer.Option(0.0, help="fraction of the backward pass that hides communication, 0..1"),
        samples: float | None = typer.Option(None, help="samples (images/tokens) per replica per step; default per model"),
        sensitivity_plot: str | None = typer.Option(None, help="write the sensitivity plot (PNG) here"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Communication data normalised to the gradient size: ring all-reduce vs OptINC (Fig. 6); --model: latency."""
        from optinc_pdk.analysis.comm import comm_report
        from optinc_pdk.analysis.latency import LatencyAssumptions
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.errors import OptincError

        if more_servers and not servers:
            raise OptincError("comm: --servers: server counts follow the option, e.g. --servers 4 8 16")
        counts = [*(servers or [4, 8, 16]), *(more_servers or [])]
        if sensitivity_plot:
            from optinc_pdk.core.atomic import check_output_file

            check_output_file(sensitivity_plot, "--sensitivity-plot", [".png"])
        base = dict(gpu_tflops=gpu_tflops, utilization=utilization, transceivers=transceivers, gbps_per_transceiver=gbps,
                    link_share=link_share, ring_bits=ring_bits, optinc_bits=optinc_bits,
                    message_latency_s=message_latency_us * 1e-6, bucket_mb=bucket_mb, overlap=overlap)
        try:  # every option is checked, with or without --model
            report = comm_report(counts)
            for n in counts:
                LatencyAssumptions(servers=n, **base).check()
        except ValueError as error:
            raise OptincError(f"comm: {error}") from None
        if model:
            report["breakdown"] = _breakdowns(model, counts, base, samples)
        if sensitivity_plot:
            _plot(sensitivity_plot, base)  # the name was checked before any work
        if as_json:
            print_json(report)
            return
        if model:
            _print_breakdowns(report["breakdown"])
        console.print(table("Communication data per server, normalised to the gradient size (Fig. 6)",
                            ["servers", "ring all-reduce", "OptINC", "ring overhead", "OptINC overhead"],
                            [[r["servers"], f"{r['ring_data']:.3f}", f"{r['optinc_data']:.3f}",
                              f"{100 * r['ring_overhead']:.1f}%", f"{100 * r['optinc_overhead']:.1f}%"]
                             for r in report["servers"]]))
        if not model:
            console.print("per-step latency: --model resnet50-cifar or llama-8x384 (docs/ddp.md)")


def _breakdowns(models: list[str], counts: list[int], base: dict, samples: float | None) -> list[dict]:
    from dataclasses import replace

    from optinc_pdk.analysis.latency import (
        PAPER_REDUCTIONS,
        WORKLOADS,
        LatencyAssumptions,
        needed_link_gbps,
        needed_samples,
        scenario_table,
    )
    from optinc_pdk.errors import OptincError

    unknown = [m for m in models if m not in WORKLOADS]
    if unknown:
        raise OptincError(f"comm: --model: {unknown[0]!r} is not one of {', '.join(WORKLOADS)}")
    rows = []
    try:
        for name in models:
            work = WORKLOADS[name] if samples is None else replace(WORKLOADS[name], samples_per_step=samples)
            for servers in counts:
                assumptions = LatencyAssumptions(servers=servers, **base)
                for row in scenario_table(work, assumptions):
                    changed = LatencyAssumptions(**row["assumptions"])
                    row["samples_for_paper_claim"] = needed_samples(work, PAPER_REDUCTIONS[name], changed)
                    row["link_gbps_for_paper_claim"] = needed_link_gbps(work, PAPER_REDUCTIONS[name], changed)
                    row["paper_claim"] = PAPER_REDUCTIONS[name]
                    rows.append(row)
    except ValueError as error:
        raise OptincError(f"comm: {error}") from None
    return rows


def _print_breakdowns(rows: list[dict]) -> None:
    from optinc_pdk.cli.output import console, table

    for name in dict.fromkeys(r["workload"]["name"] for r in rows):
        mine = [r for r in rows if r["workload"]["name"] == name]
        work = mine[0]["workload"]
        console.print(f"[bold]{name}[/bold]: {work['note']}; {work['samples_per_step']:g} samples per replica per step")
        console.print(table(
            f"Latency per step, {name} (paper: {100 * mine[0]['paper_claim']:.0f}% reduction at 4 servers)",
            ["servers", "assumption set", "compute (ms)", "ring comm (ms)", "OptINC comm (ms)", "of which sync (ms)",
             "reduction", "samples/replica for the paper's claim", "or link (Gb/s/replica)"],
            [[r["assumptions"]["servers"], r["assumptions_name"], f"{1e3 * r['compute_s']:.3f}",
              f"{1e3 * r['ring']['exposed_comm_s']:.3f}", f"{1e3 * r['optinc']['exposed_comm_s']:.3f}",
              f"{1e3 * r['optinc']['sync_s']:.3f}", f"{100 * r['reduction']:.2f}%",
              _at_most(r["samples_for_paper_claim"]), _at_most(r["link_gbps_for_paper_claim"])] for r in mine]))
    console.print("comm columns are the exposed communication (after overlap); every assumption set changes the base "
                  "assumptions (the options) only in the fields its name says; docs/ddp.md")


def _at_most(value: float | None) -> str:
    return "never" if value is None else f"≤ {value:.3g}"


def _plot(path: str, base: dict) -> None:
    from optinc_pdk.analysis.latency import LatencyAssumptions
    from optinc_pdk.errors import OptincError
    from optinc_pdk.report.latency_plot import sensitivity_plot

    try:
        base_assumptions = LatencyAssumptions(**base)
        base_assumptions.check()
    except ValueError as error:
        raise OptincError(f"comm: {error}") from None
    sensitivity_plot(path, base_assumptions)
