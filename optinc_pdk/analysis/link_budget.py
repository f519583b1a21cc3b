"""Link budget of one OptINC: path losses, the passive gain chain, the laser power a server needs.

* **Path loss** (``analysis.loss``): the excess loss of the worst route from every server input to every
  receiver, from the layout plan and the PDK cells; the worst and the median over those pairs, and the
  worst route stage by stage (the report's plot).
* **Gain chain** (``circuit.gains``): the designed field per PAM4 level unit after the averager, after each
  layer and at a receiver, α_0, α_1 … α_L, α_L/√N. It holds the splitting and combining of the trees, the
  attenuator settings and each layer's 1/s_l scale; the receiver gain is its inverse.
* **Receiver**: PAM4 decided on the power of the top level P, with four equally spaced levels, so one step
  is P/3. A thermal-noise-limited receiver (noise current density i_n, bandwidth B = symbol rate/2,
  σ = i_n·√B, responsivity R) decides a step at the target BER when R·(P/3) ≥ 2·Q·σ, with
  BER = (3/4)·erfc(Q/√2) (Gray-coded PAM4, errors to the neighbouring level only): the sensitivity is
  P_sens = 6·Q·σ/R and the electrical SNR of a step is Q².
* **Laser power per server** = P_sens + design loss (20·log10 of the receiver gain) + worst excess loss,
  compared with the most a server may launch. When it is more, the ONN cannot work passively: walking the
  worst route, the signal is regenerated (O-E-O in a nonlinear unit, or an optical amplifier there) at the
  last unit before it would fall below P_sens, and the report lists where and by how many dB.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.special import erfcinv

from optinc_pdk.analysis.loss import COUNTS, LossModel, Routes
from optinc_pdk.circuit.cascade import LEVEL2, CascadeDescription
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import Composite
from optinc_pdk.layout.plan import Plan
from optinc_pdk.spec.budget import BudgetSpec, LinkReceiver


def q_factor(ber: float) -> float:
    """Q (step / 2σ) that gives ``ber`` for Gray-coded PAM4: BER = (3/4)·erfc(Q/√2)."""
    return float(math.sqrt(2.0) * erfcinv(4.0 * ber / 3.0))


def sensitivity_dbm(receiver: LinkReceiver) -> tuple[float, float, float]:
    """(top-level power needed at the receiver in dBm, Q, noise σ in A)."""
    sigma = receiver.noise_pa_per_rthz * 1e-12 * math.sqrt(receiver.symbol_rate_gbd * 1e9 / 2)
    q = q_factor(receiver.ber)
    watts = 6 * q * sigma / receiver.responsivity_a_per_w
    return 10 * math.log10(watts * 1e3), q, sigma


def _db(field_gain: float) -> float:
    """Power loss (dB) of a field gain."""
    return -20 * math.log10(field_gain)


def gain_chain(description: CircuitDescription | CascadeDescription) -> list[dict]:
    """Designed field per level unit at each stage exit, and its power loss in dB from a server's launch.

    A cascade's stages are whole OptINCs: each level-1 OptINC ends at level 1's output gain, level 2 at its
    own (built for the field level 1 delivers), and the broadcast splits that over every server.
    """
    if isinstance(description, CascadeDescription):
        first, second = description.level1.layers[-1].output_gain, description.level2.layers[-1].output_gain
        cores = description.top.children[: description.per_optinc]
        points = [(core.name, first) for core in cores] + [(LEVEL2, second)]
        points.append((description.top.children[-1].name, second / math.sqrt(description.servers)))
    else:
        points = [("averager", description.averager_gain)]
        points += [(layer.name, layer.output_gain) for layer in description.layers]
        points.append(("broadcast", description.layers[-1].output_gain * description.broadcast_gain))
    return [{"stage": name, "field_gain": gain, "design_db": _db(gain)} for name, gain in points]


def _regenerating_stages(description: CircuitDescription | CascadeDescription) -> set[str]:
    """Top-level stages that end in a nonlinear unit (where O-E-O regeneration can sit); none in a cascade,
    whose top-level stages are whole OptINCs (their inner units are not resolved here)."""
    if isinstance(description, CascadeDescription):
        return set()
    return {layer.name for layer in description.layers if layer.hidden}


def worst_route_by_stage(model: LossModel, top: Composite, start: int, end: int) -> list[dict]:
    """Cumulative excess loss and counts at each top-level stage exit along the worst route start → end."""
    routes = [model.routes(child) for child in top.children]
    paths = model.planner.plan(top).wires.signal_paths
    child, ch = top.outputs[end].tolist()  # traced backwards from the receiver
    trail = []
    while True:
        arrive = _arrivals(model, top, routes, paths, child, start)
        total = arrive.loss[0] + routes[child].loss[:, ch]
        k = int(np.argmax(total))
        trail.append((top.children[child].name, child, ch, k))
        incoming = np.flatnonzero((top.links[:, 2] == child) & (top.links[:, 3] == k))
        if incoming.size == 0:
            break
        child, ch = top.links[incoming[0], :2].tolist()
    rows = []
    for name, child, ch, _ in reversed(trail):
        out = _arrivals(model, top, routes, paths, child, start).then(_column(routes[child], ch))
        rows.append({"stage": name, "excess_db": float(out.loss[0, 0]),
                     **{key: float(v) for key, v in zip(COUNTS, out.counts[0, 0])}})
    return rows


def _column(routes: Routes, ch: int) -> Routes:
    return Routes(routes.loss[:, ch:ch + 1], routes.counts[:, ch:ch + 1])


def _arrivals(model: LossModel, top: Composite, routes: list[Routes], paths: np.ndarray, target: int,
              start: int) -> Routes:
    """Worst routes from top input ``start`` to every west port of child ``target``."""
    arrive = [Routes.none(1, child.n_in) for child in top.children]
    for c_in, (child, ch) in enumerate(top.inputs.tolist()):
        if c_in == start:
            wire = model.wire(paths, c_in)
            arrive[child].loss[0, ch], arrive[child].counts[0, ch] = wire @ model.db, wire
    for c in range(target):
        out = arrive[c].then(routes[c]) if top.children[c].n_in else Routes.none(1, top.children[c].n_out)
        for k in np.flatnonzero(top.links[:, 0] == c).tolist():
            _, src_ch, dst, dst_ch = top.links[k].tolist()
            wire = model.wire(paths, top.n_in + k)
            arrive[dst].loss[0, dst_ch] = out.loss[0, src_ch] + wire @ model.db
            arrive[dst].counts[0, dst_ch] = out.counts[0, src_ch] + wire
    return arrive[target]


def stage_crossings(plan: Plan, planner, top: Composite) -> dict[str, int]:
    """Crossings drawn inside each top-level stage (every instance counted), and in the top's own routing."""
    from optinc_pdk.layout.write import total_crossings

    out = {child.name: total_crossings(planner.plan(child)) for child in top.children}
    out["between stages"] = plan.wires.crossings if plan.wires is not None else 0
    return out


def regeneration(along: list[dict], units: set[str], launch_dbm: float, needed_dbm: float) -> list[dict]:
    """Where the worst route needs gain to stay at or above ``needed_dbm`` when a server launches ``launch_dbm``.

    Walking the stages: when a stage exit would fall below, the signal is regenerated to the launch power at
    the last nonlinear unit before it (the exit of a stage in ``units``) if that adds power; what is still
    missing needs optical gain inside the stage. Each point: after which stage, before which, how many dB.
    """
    budget = launch_dbm - needed_dbm
    points, base, previous = [], 0.0, None
    for stage in along:
        total = stage["total_db"]
        if total - base > budget and previous is not None and previous[0] in units and previous[1] > base:
            points.append({"after": previous[0], "before": stage["stage"], "gain_db": previous[1] - base,
                           "where": "nonlinear unit (O-E-O or amplifier)"})
            base = previous[1]
        if total - base > budget:
            points.append({"after": previous[0] if previous else "server", "before": stage["stage"],
                           "gain_db": total - base - budget, "where": "optical gain inside the stage"})
            base = total - budget
        previous = (stage["stage"], total)
    return points


def link_budget(description: CircuitDescription | CascadeDescription, spec: BudgetSpec) -> dict:
    """The whole budget of one OptINC as a JSON-ready dict (see the module docstring)."""
    start_time = time.perf_counter()
    model = LossModel(description.scenario.device, spec.losses)
    top = description.top
    routes = model.routes(top)
    reachable = np.isfinite(routes.loss)
    start, end = np.unravel_index(np.argmax(np.where(reachable, routes.loss, -np.inf)), routes.loss.shape)
    along = worst_route_by_stage(model, top, int(start), int(end))
    chain = {row["stage"]: row for row in gain_chain(description)}
    for row in along:
        row["design_db"] = chain[row["stage"]]["design_db"] if row["stage"] in chain else 0.0
        row["total_db"] = row["design_db"] + row["excess_db"]
    sens, q, sigma = sensitivity_dbm(spec.receiver)
    design_db = 20 * math.log10(description.receiver_gain)
    worst = float(routes.loss[start, end])
    laser = sens + design_db + worst
    plan = model.planner.plan(top)
    return {
        "per_element_db": spec.losses.model_dump(),
        "per_element_sources": {name: field.description for name, field in type(spec.losses).model_fields.items()},
        "paths": int(reachable.sum()),
        "worst_excess_db": worst, "median_excess_db": float(np.median(routes.loss[reachable])),
        "worst_route": {"input_channel": int(start), "output_channel": int(end),
                        **{key: float(v) for key, v in zip(COUNTS, routes.counts[start, end])}},
        "crossings": stage_crossings(plan, model.planner, top),
        "along_worst_route": along,
        "gain_chain": list(chain.values()), "receiver_gain": description.receiver_gain, "design_db": design_db,
        "receiver": {**spec.receiver.model_dump(), "q": q, "snr_db": 20 * math.log10(q), "noise_a": sigma,
                     "sensitivity_dbm": sens},
        "laser_dbm_per_server": laser, "max_launch_dbm": spec.receiver.max_launch_dbm,
        "passive_ok": laser <= spec.receiver.max_launch_dbm,
        "regeneration": regeneration(along, _regenerating_stages(description), spec.receiver.max_launch_dbm, sens),
        "seconds": time.perf_counter() - start_time,
    }


def receiver_noise_levels(budget: dict) -> dict:
    """The receiver noise of the budget's worst route in PAM4 level steps (the yield's ``sigma_detector``).

    Every server launches its most (``max_launch_dbm``), regenerated where the budget says; the top level
    then reaches the receiver at ``received_dbm``, and the thermal noise σ against one level step R·P/3 is
    3σ/(R·P): 1/(2Q) when the top level arrives exactly at the sensitivity.
    """
    receiver = budget["receiver"]
    regenerated_db = sum(point["gain_db"] for point in budget["regeneration"])
    received_dbm = budget["max_launch_dbm"] - budget["along_worst_route"][-1]["total_db"] + regenerated_db
    watts = 10 ** (received_dbm / 10) * 1e-3
    return {"received_dbm": received_dbm, "regenerated_db": regenerated_db,
            "sigma_levels": 3 * receiver["noise_a"] / (receiver["responsivity_a_per_w"] * watts)}

