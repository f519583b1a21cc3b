"""Prototype: repeat whole input regions around the wrong decisions, not only the wrong samples.

b8n8's last errors are not isolated: they fill bands of the upper partial sum (x_2 + 4 x_3 nearly
constant) for large x_1, where the LSB sawtooth is locally flattened. Repeating only the wrong samples
(`hard_example_repeats`) moved errors to their neighbours; this repeats every sample of each (x_2, x_3)
cell that holds at least MIN_WRONG wrong decisions, so the network has to fix the cell's whole staircase.

    PYTHONPATH=. python weights/in_progress/region_probe.py RECIPE.yml START.npz RUN_DIR EPOCHS PEAK REPEATS MIN_WRONG
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from optinc_pdk.datasets import exhaustive_dataset
from optinc_pdk.scenario import load_scenario_file
from optinc_pdk.training import trainer
from optinc_pdk.training.trainer import TrainRequest, train
from optinc_pdk.weights import load_for_scenario, save_npz


def main(recipe: str, start: str, run_dir: str, epochs: str, peak: str, repeats: str, min_wrong: str) -> None:
    scenario = load_scenario_file(Path(recipe))
    scenario = scenario.with_updates(training={**scenario.training.model_dump(), "hard_example_repeats": int(repeats)})
    numerators = exhaustive_dataset(scenario).numerators
    cell = numerators[:, 2].astype(np.int64) + 25 * numerators[:, 3]

    def regional_update(self, accepted_mask: np.ndarray) -> None:
        counts = np.bincount(cell[~accepted_mask], minlength=625)
        self.indices = np.flatnonzero(counts[cell] >= int(min_wrong)).astype(np.int64)
        print(f"region: {int((~accepted_mask).sum())} wrong, {int((counts >= int(min_wrong)).sum())} cells, "
              f"{len(self.indices)} samples repeated", flush=True)

    trainer.HardExamples.update = regional_update
    torch.set_num_threads(1)
    init = load_for_scenario(scenario, start)
    result = train(TrainRequest(scenario, init=init, continue_pretraining=True, epochs=int(epochs), lr=float(peak),
                                batch_size=16384, approx_epochs=0, eval_every=10, run_dir=Path(run_dir),
                                log=lambda line: print(line, flush=True)))
    save_npz(Path(run_dir) / "b8n8.npz", result.weights, result.weights.provenance)
    print(f"block-form accuracy {result.accuracy:.6f}")


if __name__ == "__main__":
    main(*sys.argv[1:8])
