"""The signoff section of a build report."""

from __future__ import annotations


def drc_lines(drc: dict | None) -> list[str]:
    if not drc:
        return []
    verdict = "clean" if drc["violations"] == 0 else f"**{drc['violations']} violations**"
    lines = [f"Design rules (the PDK's rules table, `optinc_pdk.pdk.rules`, on the written layout): {verdict} "
             f"({drc['seconds']:.1f} s). Markers: `{drc['lyrdb']}` (KLayout: Tools → Marker Browser → File → Open); "
             f"the same rules as a KLayout deck: `{drc['deck']}`.", "",
             "| rule | violations |", "| --- | ---: |"]
    lines += [f"| {name} | {count} |" for name, count in drc["per_rule"].items()]
    return lines + [""]


def signoff_lines(report: dict) -> list[str]:
    """Markdown of the signoff section (empty when the build ran none of its checks)."""
    body = drc_lines(report.get("drc"))
    return ["## Signoff", "", *body] if body else []
