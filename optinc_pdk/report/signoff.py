"""The signoff section of a build report."""

from __future__ import annotations


def drc_lines(drc: dict | None) -> list[str]:
    if not drc:
        return []
    if "skipped" in drc:
        return [f"Design rules: not checked: {drc['skipped']}.", ""]
    verdict = "clean" if drc["violations"] == 0 else f"**{drc['violations']} violations**"
    lines = [f"Design rules (the PDK's rules table, `optinc_pdk.pdk.rules`, on the written layout): {verdict} "
             f"({drc['seconds']:.1f} s). Markers: `{drc['lyrdb']}` (KLayout: Tools → Marker Browser → File → Open); "
             f"the same rules as a KLayout deck: `{drc['deck']}`.", "",
             "| rule | violations |", "| --- | ---: |"]
    lines += [f"| {name} | {count} |" for name, count in drc["per_rule"].items()]
    return lines + [""]


def pads_lines(report: dict) -> list[str]:
    """Heaters, pads needed against pads available, routing, the electrical nets and the verdict per die."""
    signoff = report.get("signoff")
    if not signoff:
        return []
    pads = signoff.get("pads") or {"mode": "perimeter"}
    if pads["mode"] == "bumps":
        return _bump_lines(report, signoff, pads)
    lines = [f"Heaters (one pad each, one shared ground; from the circuit description): {signoff['heaters']}, "
             f"so {signoff['pads_needed']} bond pads needed.", ""]
    electrical = report.get("electrical")
    if electrical:
        lines += [f"Electrical nets extracted from the written layout (`optinc_pdk.layout.nets`): "
                  f"{electrical['heaters_found']} of {electrical['heaters_expected']} heaters found, "
                  f"{electrical['own_pad']} on a bond pad of their own, {electrical['on_ground']} on the shared ground "
                  f"({electrical['ground_pads']} ground pad), {electrical['shorted_pads']} shorted pads: "
                  f"**{electrical['mismatches']} mismatches**.", ""]
    lines += ["| die | heaters | pads needed | pads available | routed | verdict |",
              "| --- | ---: | ---: | ---: | --- | --- |"]
    for die in signoff["dies"]:
        verdict = "tapeout-ready" if die["tapeout_ready"] else "not tapeout-ready: " + "; ".join(die["blockers"])
        lines.append(f"| {die['die'] or '(no die)'} | {die['heaters']} | {die['pads_needed']} | {die['pads_available']} "
                     f"| {'yes' if die['routed'] else 'no'} | {verdict} |")
    return lines + [""]


def _bump_lines(report: dict, signoff: dict, pads: dict) -> list[str]:
    """The flip-chip form: pads are bumps at a pitch, per die sites available, bumps needed and used."""
    lines = [f"Pads: flip-chip bumps at {pads['pitch_um']:g} µm pitch (`--pads bumps:{pads['pitch_um']:g}`, "
             "`optinc_pdk/layout/bumps.py`). Every heater has a signal bump and a ground bump of its own (heaters drawn "
             "end to end share their ground end's bump); the ground bumps are joined by the package's ground plane, "
             f"not on the die. Heaters: {signoff['heaters']}, bumps needed: {signoff['pads_needed']}.", ""]
    electrical = report.get("electrical")
    if electrical:
        lines += [f"Electrical nets extracted from the written layout (heater metal, via, RDL, bump; "
                  f"`optinc_pdk.layout.nets.check_bump_nets`): {electrical['heaters_found']} of "
                  f"{electrical['heaters_expected']} heaters found, {electrical['own_pad']} with a signal bump of their "
                  f"own, {electrical['on_ground']} with one end on a ground bump ({electrical['ground_pads']} ground "
                  f"bumps), {electrical['shorted_pads']} nets without exactly one bump: "
                  f"**{electrical['mismatches']} mismatches**.", ""]
    lines += ["| die | heaters | bumps needed | bump sites | bumps used | routed | verdict |",
              "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for die in signoff["dies"]:
        verdict = "tapeout-ready" if die["tapeout_ready"] else "not tapeout-ready: " + "; ".join(die["blockers"])
        lines.append(f"| {die['die']} | {die['heaters']} | {die['pads_needed']} | {die['pads_available']} | "
                     f"{die['pads_used']} | {'yes' if die['routed'] else 'no: ' + (die['why_not_routed'] or '')} | "
                     f"{verdict} |")
    return lines + [""]


def signoff_lines(report: dict) -> list[str]:
    """Markdown of the signoff section (empty when the build ran none of its checks)."""
    body = pads_lines(report) + drc_lines(report.get("drc")) + budget_lines(report.get("link_budget"))
    return ["## Signoff", "", *verdict_lines(report.get("signoff")), *body] if body else []


def verdict_lines(signoff: dict | None) -> list[str]:
    """Two answers first: can the layout be taped out (per die), and does the chip work as a system (link budget)."""
    if not signoff or not signoff.get("dies"):
        return []
    dies = signoff["dies"]
    ready = sum(d["tapeout_ready"] for d in dies)
    lines = [f"**Verdict.** Layout: {ready} of {len(dies)} dies tapeout-ready (pads, routing, DRC, connectivity; the "
             "table below gives each die's blockers)."]
    system = signoff.get("system")
    if system:
        lines[0] += (" System: works passively, " f"{system['laser_dbm_per_server']:.1f} dBm of laser per server."
                     if system["works_passively"] else f" System: **does not work passively**: {system['why_not']}.")
    return lines + [""]


def budget_lines(budget: dict | None) -> list[str]:
    """Crossings, path loss, gain chain and laser power (``analysis.link_budget``)."""
    if not budget:
        return []
    r, worst = budget["receiver"], budget["worst_route"]
    per = budget["per_element_db"]
    lines = ["Waveguide crossings (crossing cells) per stage: "
             + ", ".join(f"{k} {v}" for k, v in budget["crossings"].items())
             + f"; on the worst route: {worst['crossings']:.0f}.", "",
             f"Optical excess loss over the {budget['paths']} server-input → receiver pairs (worst route of each, from "
             f"the layout plan and the PDK cells): worst **{budget['worst_excess_db']:.1f} dB**, median "
             f"{budget['median_excess_db']:.1f} dB. The worst route: {worst['length_um'] / 1e3:.1f} mm of waveguide, "
             f"{worst['bends']:.0f} × 90° of bends, {worst['crossings']:.0f} crossings, {worst['splitters']:.0f} "
             f"splitter/combiner stages, {worst['couplers']:.0f} couplers, {worst['heaters']:.0f} heaters.", "",
             "Per element (dB; `budget.losses` in the scenario overrides): "
             + ", ".join(f"{k} {v:g}" for k, v in per.items()) + ".", "",
             "| stage exit | excess loss (dB) | designed gain chain (dB) | total from launch (dB) |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {row['stage']} | {row['excess_db']:.1f} | {row['design_db']:.1f} | {row['total_db']:.1f} |"
              for row in budget["along_worst_route"]]
    verdict = "works passively" if budget["passive_ok"] else "**cannot work passively**"
    lines += ["", f"Receiver: PAM4 at {r['symbol_rate_gbd']:g} GBd, BER {r['ber']:g} needs Q = {r['q']:.2f} "
              f"(SNR {r['snr_db']:.1f} dB per level step); with {r['noise_pa_per_rthz']:g} pA/√Hz and "
              f"{r['responsivity_a_per_w']:g} A/W the top level must reach **{r['sensitivity_dbm']:.1f} dBm**. "
              f"Receiver gain of the passive chain: {budget['receiver_gain']:.3g} ({budget['design_db']:.1f} dB).", "",
              f"Laser power per server: **{budget['laser_dbm_per_server']:.1f} dBm** against at most "
              f"{budget['max_launch_dbm']:g} dBm: the ONN {verdict}."]
    if budget["regeneration"]:
        lines += ["", "Gain needed along the worst route (regenerating to the launch power):", "",
                  "| after | before | gain (dB) | where |", "| --- | --- | ---: | --- |"]
        lines += [f"| {p['after']} | {p['before']} | {p['gain_db']:.1f} | {p['where']} |" for p in budget["regeneration"]]
    return lines + [""]


def plot_worst_route(budget: dict, path):
    """Loss along the worst route, stage by stage: excess, designed chain and their sum."""
    from optinc_pdk.report.plots import _pyplot, _save

    plt = _pyplot()
    rows = budget["along_worst_route"]
    stages = [r["stage"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key, label, color in (("excess_db", "excess (elements)", "#c0504d"), ("design_db", "designed gain chain", "#4f81bd"),
                              ("total_db", "total", "#000000")):
        ax.plot(stages, [r[key] for r in rows], marker="o", label=label, color=color)
    ax.set_ylabel("loss from a server's launch (dB)")
    ax.set_title(f"Worst route: {budget['worst_excess_db']:.0f} dB excess, laser {budget['laser_dbm_per_server']:.0f} dBm "
                 f"needed (max {budget['max_launch_dbm']:g})", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)
