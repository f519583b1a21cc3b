"""Error models of a fabricated OptINC, applied to the circuit description (docs/yield.md).

A chip sample is one draw of every error of every mesh and attenuator MZI of a description:

* phase offset: fabrication leaves every phase shifter a static offset σ_offset·z (path length and
  width variations); a calibrated chip has measured it and programs the design minus it,
* phase error: every θ, φ and mesh output phase gets + σ_phase·z (z standard normal): what is left
  after calibration (drift, measurement error), on top of
* phase quantisation: the programmed phase is the design phase rounded to a DAC grid of 2π/2^bits,
* thermal crosstalk: a heater also shifts its neighbours (adjacent MZIs, or adjacent output phase
  shifters, of the same mesh column) by ``crosstalk`` (``crosstalk_output``) × its own programmed
  phase; :mod:`optinc_pdk.simulate.thermal` computes both from the layout's heater distances,
* coupler splitting-ratio error: each of an MZI's two couplers sends κ = 0.5 + σ_split·z of the
  power across (clipped to [0, 1]); each 1x2 MMI of the splitter and combiner trees (averager, bias
  light, broadcast) splits r + σ_split_tree·z instead of its design ratio r,
* excess loss ``loss_db`` per MZI (both arms) and arm imbalance: |σ_imbalance·z| dB more loss on one
  internal arm (the sign of z picks which),
* detector noise at the receiver: + σ_detector·z on every received level (level units, after the
  receiver gain; drawn per input, receiver and digit by :mod:`optinc_pdk.simulate.yield_`).

Reproducibility and sharding: chip i draws from ``SeedSequence(seed, spawn_key=(i,))`` (numpy's
i-th spawned child of ``SeedSequence(seed)``), so a chip's errors depend on (seed, i) alone, never on
which process or batch simulates it. Its first child draws the element errors as standard normals
(scaled by the σ's here, so a σ sweep reuses the same z: common random numbers); its second child
draws the detector noise. The imperfect MZIs compose through the project's one mesh → matrix code
(:func:`optinc_pdk.decompose.transfer.mesh_transfer` with ``mzi_matrices``) and one MZI formula
(:func:`optinc_pdk.core.mzi.mzi_transfer_general`, equal to the pinned one at zero error).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import AttenuatorColumn, MeshBlock, TreeArray
from optinc_pdk.circuit.quantise import phase_levels
from optinc_pdk.core.mzi import TWO_PI, attenuator_value, mzi_transfer, mzi_transfer_general, wrap_phase
from optinc_pdk.decompose.transfer import column_groups, mesh_transfer
from optinc_pdk.errors import OptincError

# "": none; "phases": the phase offsets are measured and programmed out; "attenuators" and "all" also re-solve
# the attenuators' (and the meshes') phases for the chip's measured couplers and arms (docs/yield.md, Calibration)
CALIBRATIONS = ("", "phases", "attenuators", "all")
MAX_DAC_BITS = 24  # beyond this the DAC step (4e-7 rad) is far below any phase error worth modelling
PHASE_KINDS = ("tunable", "fixed")  # heaters (the default), or fixed waveguide delays (issue 28's --phases fixed)

# A fixed delay cannot be re-programmed, so its fabrication spread stays: a width mismatch σ_w between an
# MZI's two arms over a section of length L shifts the phase by (2π/λ)·(∂n_eff/∂w)·σ_w·L. Assumptions, stated
# so they can be replaced by a foundry's variability data: 1550 nm; ∂n_eff/∂w ≈ 2e-3 per nm for a
# 500 × 220 nm Si strip's TE0 mode (order of magnitude of published SOI sensitivity analyses); 0.5 nm
# width mismatch between neighbouring arms.
FIXED_WAVELENGTH_UM = 1.55
FIXED_DNEFF_DW_PER_NM = 2.0e-3
FIXED_ARM_WIDTH_MISMATCH_NM = 0.5


def fixed_phase_sigma(section_length_um: float, wavelength_um: float = FIXED_WAVELENGTH_UM,
                      dneff_dw_per_nm: float = FIXED_DNEFF_DW_PER_NM,
                      width_mismatch_nm: float = FIXED_ARM_WIDTH_MISMATCH_NM) -> float:
    """σ of a fixed delay section's phase (rad) from the arms' width mismatch (see the constants above)."""
    return 2 * math.pi / wavelength_um * dneff_dw_per_nm * width_mismatch_nm * section_length_um


@dataclass(frozen=True)
class ErrorModel:
    """The parameters of every error model (0 switches a model off); units in the field comments."""

    sigma_phase: float = 0.0  # rad, Gaussian σ on every phase shifter (what calibration leaves: drift, measurement)
    dac_bits: int = 0  # phase DAC resolution over 2π; 0: continuous phases
    sigma_split: float = 0.0  # σ of each coupler's power coupling ratio (0.01 = 1 % of the power)
    loss_db: float = 0.0  # excess loss of every MZI, dB
    sigma_imbalance_db: float = 0.0  # σ of the loss difference between an MZI's two internal arms, dB
    crosstalk: float = 0.0  # phase a mesh MZI's heater adds to each neighbouring MZI's, per rad of its own phase
    sigma_detector: float = 0.0  # σ of the receiver noise, in PAM4 levels
    calibrate: str = ""  # "phases", "attenuators" or "all": what was measured after fabrication and programmed out
    sigma_offset: float = 0.0  # rad, static fabrication offset of every phase shifter, before calibration
    phases: str = "tunable"  # "fixed": waveguide delays, nothing to calibrate; dac_bits is then the delay's step
    crosstalk_output: float | None = None  # the same between adjacent mesh output phase shifters (None: = crosstalk)
    sigma_split_tree: float = 0.0  # σ of the power ratio of every 1x2 MMI in the splitter and combiner trees

    def __post_init__(self) -> None:
        checks = {
            "--sigma-phase": (self.sigma_phase, 0.0, math.pi),
            "--dac-bits": (self.dac_bits, 0, MAX_DAC_BITS),
            "--sigma-split": (self.sigma_split, 0.0, 0.5),
            "--sigma-split-tree": (self.sigma_split_tree, 0.0, 0.5),
            "--loss-db": (self.loss_db, 0.0, 30.0),
            "--sigma-imbalance-db": (self.sigma_imbalance_db, 0.0, 30.0),
            # below 1/2: two neighbours' heat never outweighs a heater's own (calibration's iteration converges)
            "--crosstalk": (self.crosstalk, -0.49, 0.49),
            "--crosstalk (output phase shifters)": (self.output_crosstalk, -0.49, 0.49),
            "--sigma-detector": (self.sigma_detector, 0.0, 10.0),
            "--sigma-offset": (self.sigma_offset, 0.0, 100.0),
        }
        for option, (value, low, high) in checks.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
                raise OptincError(f"{option}: {value!r} outside {low}..{high}")
        if self.phases not in PHASE_KINDS:
            raise OptincError(f"--phases: {self.phases!r} is not one of {', '.join(PHASE_KINDS)}")
        if self.phases == "fixed" and self.calibrate:
            raise OptincError("--calibrate: a fixed-phase chip has no heaters to re-program (give --phases tunable)")
        if self.calibrate not in CALIBRATIONS:
            raise OptincError(f"--calibrate: {self.calibrate!r} is not one of {', '.join(c for c in CALIBRATIONS if c)}")
        if int(self.dac_bits) != self.dac_bits:
            raise OptincError(f"--dac-bits: {self.dac_bits!r} is not a whole number")

    @property
    def output_crosstalk(self) -> float:
        return self.crosstalk if self.crosstalk_output is None else self.crosstalk_output

    def with_sigma_phase(self, sigma: float) -> ErrorModel:
        return replace(self, sigma_phase=float(sigma))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def dac_step(self) -> float:
        """Phase step of the DAC in rad (0 for continuous phases)."""
        return TWO_PI / 2**self.dac_bits if self.dac_bits else 0.0


def chip_seed(seed: int, chip: int) -> np.random.SeedSequence:
    """Chip ``chip``'s seed: the ``chip``-th child that ``SeedSequence(seed).spawn`` would give."""
    return np.random.SeedSequence(seed, spawn_key=(chip,))


def element_generator(seed: int, chip: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(chip_seed(seed, chip).spawn(2)[0]))


def detector_generator(seed: int, chip: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(chip_seed(seed, chip).spawn(2)[1]))


def _neighbour_index(column: np.ndarray, top: np.ndarray, n_modes: int, spacing: int) -> np.ndarray:
    """(K, 2): index of the MZI ``spacing`` modes above / below in the same column, −1 where none."""
    slots = np.full((int(column.max(initial=-1)) + 1, n_modes + 2 * spacing), -1, dtype=np.int64)
    slots[column, top + spacing] = np.arange(column.size)
    return np.stack([slots[column, top], slots[column, top + 2 * spacing]], axis=-1)


def _neighbour_sum(values: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Σ of each heater's neighbours' values; ``values`` (..., K) may carry a chip axis."""
    padded = np.concatenate([values, np.zeros(values.shape[:-1] + (1,))], axis=-1)  # index −1 reads the 0
    return padded[..., neighbours].sum(axis=-1)


@dataclass(frozen=True, eq=False)
class LeafSites:
    """One mesh or attenuator column: its design phases in propagation order and where its errors sit."""

    block: MeshBlock | AttenuatorColumn
    theta: np.ndarray  # (K,) design θ, propagation order
    phi: np.ndarray
    output: np.ndarray  # (n,) design output phases of a mesh; (0,) for an attenuator column
    top_mode: np.ndarray
    column: np.ndarray
    neighbours: np.ndarray  # (K, 2) heaters that feel this one (−1: none); all −1 for attenuators
    output_neighbours: np.ndarray  # (n, 2)
    mzi_offset: int  # first of this leaf's MZIs in the chip's MZI error arrays
    output_offset: int

    @property
    def n_mzis(self) -> int:
        return int(self.theta.size)


def mesh_sites(block: MeshBlock, mzi_offset: int, output_offset: int) -> LeafSites:
    if block.phases.any_lower:  # the imperfect MZI and its calibration are written for upper-arm heaters
        raise OptincError(f"{block.name}: heaters on lower arms (a --min-power description): the yield models "
                          "upper-arm heaters only")
    # the order mesh_matrix uses (stable by column): an equivalent propagation order, columns adjacent
    order = np.argsort(block.column, kind="stable")
    top, column = block.top_mode[order], block.column[order]
    modes = np.arange(block.n_modes)
    return LeafSites(block, block.theta[order], block.phi[order], np.asarray(block.output_phase), top, column,
                     _neighbour_index(column, top, block.n_modes, 2),
                     _neighbour_index(np.zeros_like(modes), modes, block.n_modes, 1), mzi_offset, output_offset)


def _attenuator_sites(block: AttenuatorColumn, mzi_offset: int, output_offset: int) -> LeafSites:
    k = block.n_mzis
    none = np.full((k, 2), -1, dtype=np.int64)
    return LeafSites(block, np.asarray(block.theta), np.asarray(block.phi), np.zeros(0), np.asarray(block.mode),
                     np.zeros(k, dtype=np.int64), none, np.zeros((0, 2), dtype=np.int64), mzi_offset, output_offset)


class ErrorSites:
    """Every phase shifter and coupler of a description, numbered once: where each chip's draws go.

    A chip's standard normals are one vector [θ (K) | φ (K) | κ_in (K) | κ_out (K) | arm imbalance (K)
    | output phases (O) | θ offsets (K) | φ offsets (K) | output offsets (O) | tree ratios (E)] over the
    K MZIs and O output phase shifters of all meshes and attenuator columns and the E 2-port elements of
    all splitter and combiner trees, in the description's walk order (what was added later comes last, so
    adding it left every earlier chip's other draws as they were).
    """

    ROWS = 5  # per-MZI draws: θ, φ, two couplers, arm imbalance

    def __init__(self, description: CircuitDescription) -> None:
        self.leaves: list[LeafSites] = []
        self.trees: list[tuple[TreeArray, int]] = []  # each tree array and its first element in the tree draws
        mzis = outputs = elements = 0
        for block in description.walk():
            if isinstance(block, TreeArray):
                self.trees.append((block, elements))
                elements += block.n_elements
                continue
            if isinstance(block, MeshBlock):
                self.leaves.append(mesh_sites(block, mzis, outputs))
                outputs += block.n_modes
            elif isinstance(block, AttenuatorColumn):
                self.leaves.append(_attenuator_sites(block, mzis, outputs))
            else:
                continue
            mzis += self.leaves[-1].n_mzis
        self.n_mzis, self.n_outputs, self.n_tree_elements = mzis, outputs, elements

    @property
    def draws_per_chip(self) -> int:
        return (self.ROWS + 2) * self.n_mzis + 2 * self.n_outputs + self.n_tree_elements

    def draw(self, seed: int, chips: np.ndarray) -> np.ndarray:
        """(C, draws_per_chip) standard normals of the given chip indices (each from its own seed)."""
        return np.stack([element_generator(seed, int(chip)).standard_normal(self.draws_per_chip) for chip in chips])

    def leaf_matrices(self, model: ErrorModel, normals: np.ndarray) -> dict[str, np.ndarray]:
        """Block name → (C, n_out, n_in) matrices of every mesh and attenuator column of C sampled chips."""
        k, o, chips = self.n_mzis, self.n_outputs, normals.shape[0]
        rows = normals[:, : self.ROWS * k].reshape(chips, self.ROWS, k)
        outputs = normals[:, self.ROWS * k : self.ROWS * k + o]
        offsets = normals[:, self.ROWS * k + o : (self.ROWS + 2) * k + o].reshape(chips, 2, k)
        output_offsets = normals[:, (self.ROWS + 2) * k + o : (self.ROWS + 2) * k + 2 * o]
        matrices = {leaf.block.name: _leaf_matrix(leaf, model, rows, outputs, offsets, output_offsets) for leaf in self.leaves}
        if model.sigma_split_tree:  # else the trees stay ideal (compile_block's own matrices)
            ratios = normals[:, (self.ROWS + 2) * k + 2 * o :]
            matrices |= {block.name: _tree_matrices(block, model, ratios[:, first : first + block.n_elements])
                         for block, first in self.trees}
        return matrices


def _tree_matrices(block: TreeArray, model: ErrorModel, normals: np.ndarray) -> np.ndarray:
    """(C, n_out, n_in) matrices of a tree array whose every 2-port element splits (combines) off its design ratio.

    Each element passes √r to its upper branch and √(1 − r) to its lower one, r = design ratio + σ·z clipped
    to [0, 1] (the rule of :func:`optinc_pdk.core.topology.tree_leaf_amplitudes`, which r = design gives).
    """
    plan, chips = block.plan, normals.shape[0]
    z = normals.reshape(chips, block.n_trees, plan.n_elements)
    amplitudes = np.ones((chips, block.n_trees, block.n_leaves))
    for element, (first, count, upper) in enumerate(zip(plan.first.tolist(), plan.count.tolist(), plan.upper_count.tolist())):
        ratio = np.clip(upper / count + model.sigma_split_tree * z[:, :, element], 0.0, 1.0)[..., None]
        amplitudes[:, :, first : first + upper] *= np.sqrt(ratio)
        amplitudes[:, :, first + upper : first + count] *= np.sqrt(1.0 - ratio)
    matrices = np.zeros((chips, block.n_out, block.n_in), dtype=np.complex128)
    trees, leaves = np.repeat(np.arange(block.n_trees), block.n_leaves), block.leaf_channels.ravel()
    rows, cols = (leaves, trees) if block.splitting else (trees, leaves)  # a combiner is the splitter reversed
    matrices[:, rows, cols] = amplitudes.reshape(chips, -1)
    return matrices


def programmed_phase(design: np.ndarray, model: ErrorModel) -> np.ndarray:
    """The phase the DAC can set: the design phase rounded to the DAC grid (unchanged without a DAC)."""
    if not model.dac_bits:
        return design
    return phase_levels(design, 2**model.dac_bits) * model.dac_step  # the grid a fixed build draws, too


def _crosstalk_compensated(target: np.ndarray, neighbours: np.ndarray, crosstalk: float,
                           iterations: int = 100) -> np.ndarray:
    """Heater phases p ≥ 0 with p + crosstalk·Σ_neighbours p ≡ target (mod 2π), by fixed-point iteration.

    A heater adds phase in one direction only (p ≥ 0). Each step keeps every heater on the 2π branch it
    is on, so a heater near 0 ≡ 2π settles a little above 2π rather than flipping between the two (a
    flip moves its neighbours by 2π·crosstalk, which could flip it back). Converges because each heater
    feels at most two neighbours and 2·|crosstalk| < 1 (the models' range).
    """
    heater = wanted = wrap_phase(target)
    for _ in range(iterations):
        free = wanted - crosstalk * _neighbour_sum(heater, neighbours)
        updated = free + TWO_PI * np.rint((heater - free) / TWO_PI)
        updated = np.where(updated < 0.0, updated + TWO_PI, updated)
        if np.allclose(updated, heater, rtol=0.0, atol=1e-13):
            break
        heater = updated
    return updated


def _actual_phase(design: np.ndarray, neighbours: np.ndarray, model: ErrorModel, normals: np.ndarray,
                  offset_normals: np.ndarray, crosstalk: float) -> np.ndarray:
    """(C, K) phases a sampled chip realises: programmed + crosstalk from the neighbours + offset + random error.

    A calibrated chip knows its offsets and its heaters' crosstalk: it programs the phases that, with their
    neighbours' heat, give design − offset (rounded by its DAC), so only the rounding and σ_phase remain; an
    uncalibrated one programs the design and keeps the offset and the crosstalk.
    """
    offset = model.sigma_offset * offset_normals
    target = design - offset if model.calibrate else design
    if model.calibrate and crosstalk:
        target = _crosstalk_compensated(target, neighbours, crosstalk)
    programmed = programmed_phase(target, model)
    shifted = programmed + crosstalk * _neighbour_sum(programmed, neighbours) if crosstalk else programmed
    return shifted + offset + model.sigma_phase * normals


def _leaf_matrix(leaf: LeafSites, model: ErrorModel, rows: np.ndarray, outputs: np.ndarray, offsets: np.ndarray,
                 output_offsets: np.ndarray) -> np.ndarray:
    mzis = slice(leaf.mzi_offset, leaf.mzi_offset + leaf.n_mzis)
    part, offset = rows[:, :, mzis], offsets[:, :, mzis]  # (C, 5, K), (C, 2, K)
    split_in = np.clip(0.5 + model.sigma_split * part[:, 2], 0.0, 1.0)
    split_out = np.clip(0.5 + model.sigma_split * part[:, 3], 0.0, 1.0)
    imbalance = model.sigma_imbalance_db * part[:, 4]  # > 0: the upper arm loses more
    arm_upper = 10.0 ** (-(model.loss_db + np.maximum(imbalance, 0.0)) / 20.0)
    arm_lower = 10.0 ** (-(model.loss_db + np.maximum(-imbalance, 0.0)) / 20.0)
    design = (leaf.theta, leaf.phi, leaf.output)
    if model.calibrate == "all" or (model.calibrate == "attenuators" and isinstance(leaf.block, AttenuatorColumn)):
        # the chip's couplers and arms are measured after fabrication: its phases are solved for them
        design = calibrated_phases(leaf, split_in, split_out, arm_upper, arm_lower)
    theta = _actual_phase(design[0], leaf.neighbours, model, part[:, 0], offset[:, 0], model.crosstalk)
    phi = _actual_phase(design[1], leaf.neighbours, model, part[:, 1], offset[:, 1], model.crosstalk)
    transfers = mzi_transfer_general(theta, phi, split_in, split_out, arm_upper, arm_lower)
    block = leaf.block
    if isinstance(block, MeshBlock):
        n = block.n_modes
        screen = slice(leaf.output_offset, leaf.output_offset + n)
        output = _actual_phase(design[2], leaf.output_neighbours, model, outputs[:, screen], output_offsets[:, screen],
                               model.output_crosstalk)
        return mesh_transfer(n, theta, phi, leaf.top_mode, leaf.column, output, mzi_matrices=transfers)
    chips = rows.shape[0]
    matrix = np.zeros((chips, block.n_out, block.n_in), dtype=np.complex128)
    through = np.arange(min(block.n_in, block.n_out))
    matrix[:, through, through] = 1.0
    matrix[:, block.mode, block.mode] = transfers[..., 0, 0]  # used upper-in → upper-out (T₀₀)
    return matrix


# -- calibration: phases re-solved for a chip's known couplers and arms ------------------------------

def _internal_phase_for(magnitude: np.ndarray, split_in, split_out, arm_upper, arm_lower, near: np.ndarray) -> np.ndarray:
    """θ' with |√(1−κ₁)√(1−κ₂)·a_u·e^{iθ'} − √κ₁√κ₂·a_l| = magnitude (the nearest reachable value), on θ's side of π.

    |A·e^{iθ'} − B|² = A² + B² − 2AB·cos θ', so cos θ' follows in closed form; an imperfect MZI reaches
    only |A − B| … A + B, and a value outside is clipped to the nearest end (its best approximation).
    """
    a = np.sqrt((1.0 - split_in) * (1.0 - split_out)) * arm_upper
    b = np.sqrt(split_in * split_out) * arm_lower
    product = 2.0 * a * b
    cosine = np.divide(a**2 + b**2 - magnitude**2, product, out=np.ones_like(product), where=product > 0)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    return np.where(np.mod(near, TWO_PI) > np.pi, TWO_PI - angle, angle)


def calibrated_phases(leaf: LeafSites, split_in, split_out, arm_upper, arm_lower):
    """(θ, φ, output phases), each with a chip axis, that make this chip's imperfect MZIs realise the design.

    Attenuators: T₀₀ = e^{iφ'}(A·e^{iθ'} − B) = d is solved exactly where |d| is reachable; below the
    chip's floor |A − B| the real part is met exactly and the rest is put in quadrature (+i), which
    the ReLU and the coherent receiver do not read (the designs' matrices are real). Meshes
    (error-corrected programming in the style of Bandyopadhyay et al. 2021): in light's order, θ'
    gives each MZI the design's power splitting (exact for lossless couplers of any ratio within
    reach); the phases the imperfect MZI adds on its two outputs are carried forward as a phase
    front P (realised so far = diag(e^{iP})·design so far), absorbed by the next MZIs' φ and finally
    by the output phase screen (ψ' = ψ − P).
    """
    if isinstance(leaf.block, AttenuatorColumn):
        target = _reachable_in_phase(attenuator_value(leaf.theta, leaf.phi), split_in, split_out, arm_upper, arm_lower)
        theta = _internal_phase_for(np.abs(target), split_in, split_out, arm_upper, arm_lower, leaf.theta)
        reached = mzi_transfer_general(theta, 0.0, split_in, split_out, arm_upper, arm_lower)[..., 0, 0]
        return theta, wrap_phase(np.angle(target) - np.angle(reached)), leaf.output
    chips = split_in.shape[0]
    front = np.zeros((chips, leaf.block.n_modes))
    theta = np.empty((chips, leaf.n_mzis))
    phi = np.empty((chips, leaf.n_mzis))
    for group in column_groups(leaf.column):
        top = leaf.top_mode[group]
        errors = (split_in[:, group], split_out[:, group], arm_upper[:, group], arm_lower[:, group])
        design = leaf.theta[group]
        theta[:, group] = _internal_phase_for(np.sin(0.5 * design), *errors, design)
        chi, q_upper, q_lower = _output_phases(mzi_transfer_general(theta[:, group], 0.0, *errors),
                                               mzi_transfer(design, 0.0))
        upper, lower = front[:, top], front[:, top + 1]
        phi[:, group] = wrap_phase(leaf.phi[group] - upper + lower - chi)
        front[:, top], front[:, top + 1] = q_upper + lower, q_lower + lower
    return theta, phi, wrap_phase(leaf.output - front)


def _reachable_in_phase(target: np.ndarray, split_in, split_out, arm_upper, arm_lower) -> np.ndarray:
    """``target`` where an imperfect attenuator reaches it; else its real part plus the quadrature that reaches the floor."""
    floor = np.abs(np.sqrt((1.0 - split_in) * (1.0 - split_out)) * arm_upper - np.sqrt(split_in * split_out) * arm_lower)
    quadrature = np.sqrt(np.maximum(floor**2 - target.real**2, 0.0))
    return np.where(np.abs(target) >= floor, target, target.real + 1j * quadrature)


def _output_phases(actual: np.ndarray, ideal: np.ndarray):
    """(χ, Q₀, Q₁) with actual ≈ diag(e^{iQ₀}, e^{iQ₁})·ideal·diag(e^{iχ}, 1), magnitude-weighted.

    From the entry products p_jk = actual_jk·conj(ideal_jk): e^{iχ} ∝ p₀₀·conj(p₀₁) + p₁₀·conj(p₁₁); in the
    bar or cross state that sum vanishes and χ is free (it trades with Q), so 0 is taken.
    """
    p = actual * np.conj(ideal)
    rotation = p[..., 0, 0] * np.conj(p[..., 0, 1]) + p[..., 1, 0] * np.conj(p[..., 1, 1])
    chi = np.where(np.abs(rotation) > 1e-12, np.angle(rotation), 0.0)
    turn = np.exp(-1j * chi)
    return chi, np.angle(p[..., 0, 1] + p[..., 0, 0] * turn), np.angle(p[..., 1, 1] + p[..., 1, 0] * turn)
