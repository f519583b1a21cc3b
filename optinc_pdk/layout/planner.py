"""Turn a circuit description into layout plans, one per distinct geometry (see ``plan.py``)."""

from __future__ import annotations

from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.compose import plan_composite
from optinc_pdk.layout.leaves import plan_attenuators, plan_mesh, plan_nonlinear, plan_source, plan_trees
from optinc_pdk.layout.plan import Plan, digest
from optinc_pdk.layout.router import RouterRules
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry


class Planner:
    """Plans blocks for one device geometry, sharing a plan between blocks of equal geometry."""

    def __init__(self, geometry: DeviceGeometry | None = None, packed_west: bool = False,
                 fixed: FixedPhaseSpec | None = None) -> None:
        self.geometry = geometry or DeviceGeometry()
        #: a fixed-phase build (``--phases fixed``): phases drawn as delay sections of the quantised levels
        self.fixed = fixed
        #: signals that a composite's west edge sends past its first column enter packed at the mode
        #: pitch (not spread as their destination expects): a bias stage is then as tall as its
        #: combiners, not combiners plus bias generation (the die floorplan uses it; see floorplan.py)
        self.packed_west = packed_west
        self.rules = RouterRules.from_geometry(self.geometry)
        self.plans: dict[str, Plan] = {}
        self.columns: dict[str, Plan] = {}  # mesh columns, shared across meshes
        self.topologies: dict[str, tuple] = {}  # mesh topology → its column patterns and plan key
        #: plan key → the key it would have without layer names: equal shapes, equal geometry (a cascade's
        #: five OptINCs differ only in their layers' names; the floorplan cuts them onto dies once)
        self.shapes: dict[str, str] = {}

    def shape(self, plan: Plan) -> str:
        """``plan``'s key without the layer names inside it (its own key where it holds no layer)."""
        return self.shapes.get(plan.key, plan.key)

    def plan(self, block: Block) -> Plan:
        g = self.geometry
        if isinstance(block, Composite):
            kids = [self.plan(child) for child in block.children]
            # a layer's cell carries its index, so two layers never share one cell
            named = block.name if block.role == "layer" else ""
            rest = (block.inputs, block.links, block.outputs, *(("packed",) if self.packed_west else ()))
            key = digest("composite", block.role, named, block.n_in, block.n_out, tuple(k.key for k in kids), *rest)
            if key not in self.plans:
                self.plans[key] = plan_composite(block, kids, key, g, self.rules, self.packed_west)
                shapes = tuple(self.shape(k) for k in kids)
                if named or shapes != tuple(k.key for k in kids):
                    self.shapes[key] = digest("composite", block.role, "", block.n_in, block.n_out, shapes, *rest)
            return self.plans[key]
        if isinstance(block, MeshBlock):
            key, build = plan_mesh(block, g, self.columns, self.topologies, self.fixed)
        elif isinstance(block, AttenuatorColumn):
            key, build = plan_attenuators(block, g, self.fixed)
        elif isinstance(block, TreeArray):
            key, build = plan_trees(block, g)
        elif isinstance(block, Source):
            key, build = plan_source(block, g)
        elif isinstance(block, NonlinearArray):
            key, build = plan_nonlinear(block, g)
        else:
            raise OptincError(f"{block.name}: no layout for blocks of kind {block.kind!r}")
        if key not in self.plans:
            self.plans[key] = build()
        return self.plans[key]


def plan_layout(top: Block, geometry: DeviceGeometry | None = None, fixed: FixedPhaseSpec | None = None) -> Plan:
    """The plan of a whole description (its top block); ``fixed``: phases as delay sections (``--phases fixed``)."""
    return Planner(geometry, fixed=fixed).plan(top)
