"""Training with OptINC's quantised average against exact float all-reduce (issue 30, docs/ddp.md).

Run (4 gloo processes on CPU; N = 8 or 16 work the same way):

    .venv/bin/torchrun --nproc-per-node 4 benchmarks/ddp_compare.py --out docs/ddp_results.json \
        --plot docs/images/ddp_curves.png

Every seed trains the same small CNN from the same initial weights on the same batches, once per
arm: ``float`` (torch's all-reduce mean, timed), ``optinc`` (b16 exact floor average: the paper's
Table II scenario b16n4), ``optinc+errors`` (the same with injected errors, see ERRORS) and
``b8n4-network`` / ``b8n8-network`` (8-bit, through the shipped ONN's decisions; with 4 / 8
processes) or ``cascade16`` (8-bit exact floor average of 16 servers; with 16 processes).
The data are synthetic 8×8 "digits" generated from a fixed seed (no download; scikit-learn is
not installed here): ten random class prototypes, each sample shifted by up to one pixel, scaled
and noised. ``--task text`` trains a tiny byte-level transformer on the running Python's
standard-library sources instead (the stand-in for the paper's LLaMA-style model):

    .venv/bin/torchrun --nproc-per-node 4 benchmarks/ddp_compare.py --task text \
        --out docs/ddp_results_text.json --plot docs/images/ddp_curves_text.png

Rank 0 writes the JSON, prints the table and draws the curves.
"""

import argparse
import datetime
import json
import sys
import time

import torch
import torch.distributed as dist
from common import machine

from optinc_pdk.ddp import ErrorModel, OptincHookState, TimedAllreduceState, optinc_comm_hook, timed_allreduce_hook

# Stress test: 10^4 x Table II's only fully legible row (l4-8: 1024 LSB of 16 bits at 1 - 0.9999999).
ERRORS = ErrorModel(probability=1e-3, values=(1024,), ratios=(1.0,))


def arms(world: int) -> dict:
    """name → hook state factory (None: the float baseline)."""
    table = {
        "float": None,
        "optinc": lambda seed: OptincHookState(bits=16, seed=seed),
        "optinc+errors": lambda seed: OptincHookState(bits=16, errors=ERRORS, seed=seed),
    }
    if world in (4, 8):  # the shipped b8n4 / b8n8 ONN decides
        table[f"b8n{world}-network"] = lambda seed: OptincHookState(scenario=f"b8n{world}", mode="network", seed=seed)
    if world == 16:  # the cascade's target is the same floor average of 16 servers (eq. 8, 10)
        table["cascade16"] = lambda seed: OptincHookState(scenario="cascade16", seed=seed)
    return table


def synthetic_digits(samples: int, seed: int = 1234) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic 8×8 images of 10 classes: prototype, rolled by −1..1 px, scaled, plus noise."""
    g = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(10, 8, 8, generator=g) < 0.35).float()
    labels = torch.randint(0, 10, (samples,), generator=g)
    shifts = torch.randint(-1, 2, (samples, 2), generator=g)
    images = torch.stack([torch.roll(prototypes[c], tuple(s.tolist()), dims=(0, 1)) for c, s in zip(labels, shifts)])
    images = images * (0.6 + 0.8 * torch.rand(samples, 1, 1, generator=g)) + 0.5 * torch.randn(samples, 8, 8, generator=g)
    return images[:, None], labels


def small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


class CharModel(torch.nn.Module):
    """A tiny causal transformer over bytes (the stand-in for the paper's LLaMA-style model)."""

    def __init__(self, length: int, d: int = 64, layers: int = 2, heads: int = 4):
        super().__init__()
        self.embed = torch.nn.Embedding(256, d)
        self.position = torch.nn.Parameter(0.02 * torch.randn(length, d))
        layer = torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = torch.nn.Linear(d, 256)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        return self.out(self.blocks(self.embed(x) + self.position[:t], mask=self.mask[:t, :t], is_causal=True))


TEXT_LENGTH = 64


def stdlib_text(limit: int = 600_000) -> tuple[torch.Tensor, torch.Tensor]:
    """The running Python's standard library sources (*.py at its top level, sorted by name), as
    bytes, cut into windows of TEXT_LENGTH + 1 at stride 32: inputs and next-byte targets."""
    import sysconfig
    from pathlib import Path

    text = bytearray()
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text += path.read_bytes()
        if len(text) >= limit:
            break
    data = torch.tensor(list(text[:limit]), dtype=torch.long)
    windows = data.unfold(0, TEXT_LENGTH + 1, 32)
    return windows[:, :-1], windows[:, 1:]


TASKS = {  # name: (model, data, default optimiser, default steps)
    "digits": (small_cnn, lambda: synthetic_digits(6000), lambda p, lr: torch.optim.SGD(p, lr=lr or 0.05, momentum=0.9), 600),
    "text": (lambda: CharModel(TEXT_LENGTH), stdlib_text, lambda p, lr: torch.optim.AdamW(p, lr=lr or 3e-3), 200),
}


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class logits (B, C) and next-byte logits (B, T, 256) alike."""
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def train_arm(name, factory, seed, data, args) -> dict:
    """One arm, one seed: the same init and batches for every arm of this seed."""
    (train_x, train_y), (test_x, test_y) = data
    make_model, _, make_optimiser, _ = TASKS[args.task]
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(seed)
    model = torch.nn.parallel.DistributedDataParallel(make_model())
    state = TimedAllreduceState() if factory is None else factory(seed)
    model.register_comm_hook(state, timed_allreduce_hook if factory is None else optinc_comm_hook)
    optimiser = make_optimiser(model.parameters(), args.lr)
    order = torch.Generator().manual_seed(seed)
    curve, step_s = [], 0.0
    for step in range(1, args.steps + 1):
        batch = torch.randint(0, len(train_y), (world, args.batch), generator=order)[rank]
        start = time.perf_counter()
        optimiser.zero_grad()
        loss_of(model(train_x[batch]), train_y[batch]).backward()
        optimiser.step()
        step_s += time.perf_counter() - start
        if step % args.eval_every == 0 or step == args.steps:
            curve.append({"step": step, **evaluate(model.module, test_x, test_y)})
    return {"arm": name, "seed": seed, "curve": curve, "step_ms": 1e3 * step_s / args.steps,
            "hook_ms": 1e3 * state.stats["hook_s"] / args.steps,
            "sync_ms": 1e3 * state.stats.get("sync_s", 0.0) / args.steps,
            "elements_per_step": state.stats["elements"] / args.steps, "injected": state.stats.get("injected", 0)}


@torch.no_grad()
def evaluate(model, x, y) -> dict:
    logits = model(x)
    return {"loss": float(loss_of(logits, y)), "accuracy": float((logits.argmax(-1) == y).float().mean())}


def summarise(runs: list[dict]) -> list[dict]:
    """Per arm: final accuracy/loss mean ± std over seeds, the paired difference to the float arm of the
    same seed (same init, same batches), mean times per step."""
    rows = []
    base = {r["seed"]: r["curve"][-1] for r in runs if r["arm"] == "float"}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        mine = [r for r in runs if r["arm"] == arm]
        delta = torch.tensor([[r["curve"][-1][k] - base[r["seed"]][k] for k in ("accuracy", "loss")] for r in mine],
                             dtype=torch.float64)
        delta_std = delta.std(0) if len(mine) > 1 else torch.zeros(2, dtype=torch.float64)
        final = torch.tensor([[r["curve"][-1]["accuracy"], r["curve"][-1]["loss"]] for r in mine], dtype=torch.float64)
        times = torch.tensor([[r["step_ms"], r["hook_ms"], r["sync_ms"]] for r in mine], dtype=torch.float64).mean(0)
        spread = final.std(0) if len(mine) > 1 else torch.zeros(2, dtype=torch.float64)
        rows.append({"arm": arm, "seeds": len(mine), "accuracy": float(final[:, 0].mean()), "accuracy_std": float(spread[0]),
                     "delta": float(delta[:, 0].mean()),
                     "delta_std": float(delta_std[0]), "loss_delta": float(delta[:, 1].mean()),
                     "loss_delta_std": float(delta_std[1]), "loss": float(final[:, 1].mean()), "loss_std": float(spread[1]), "step_ms": float(times[0]),
                     "hook_ms": float(times[1]), "sync_ms": float(times[2]),
                     "injected_per_run": sum(r["injected"] for r in mine) / len(mine)})
    return rows


def markdown(rows: list[dict]) -> str:
    base = next(r for r in rows if r["arm"] == "float")
    lines = ["| arm | seeds | final test accuracy | paired Δ vs float | final test loss | paired Δ loss | step (ms) | hook (ms/step) | of which min/max sync | "
             "hook vs float all-reduce | injected errors per run |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        sync = f"{r['sync_ms']:.2f} ({100 * r['sync_ms'] / r['hook_ms']:.0f}%)" if r["sync_ms"] else "–"
        lines.append(f"| {r['arm']} | {r['seeds']} | {100 * r['accuracy']:.2f} ± {100 * r['accuracy_std']:.2f}% | "
                     f"{100 * r['delta']:+.2f} ± {100 * r['delta_std']:.2f} pp | {r['loss']:.4f} ± {r['loss_std']:.4f} | "
                     f"{r['loss_delta']:+.4f} ± {r['loss_delta_std']:.4f} | {r['step_ms']:.2f} | {r['hook_ms']:.2f} | {sync} | "
                     f"{r['hook_ms'] / base['hook_ms']:.2f}× | {r['injected_per_run']:.0f} |")
    return "\n".join(lines)


def plot(runs: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for arm in dict.fromkeys(r["arm"] for r in runs):
        mine = [r for r in runs if r["arm"] == arm]
        steps = [p["step"] for p in mine[0]["curve"]]
        for axis, key in zip(axes, ("accuracy", "loss")):
            values = torch.tensor([[p[key] for p in r["curve"]] for r in mine], dtype=torch.float64)
            mean, low, high = values.mean(0), values.min(0).values, values.max(0).values
            axis.plot(steps, mean, label=arm)
            axis.fill_between(steps, low, high, alpha=0.2)
            axis.set_xlabel("step")
            axis.set_ylabel(f"test {key}")
    axes[0].legend()
    fig.suptitle(f"{len(mine)} seeds each (line: mean, band: min..max), {dist.get_world_size()} gloo processes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=None, help="default: 5 (digits), 3 (text)")
    parser.add_argument("--task", choices=sorted(TASKS), default="digits",
                        help="digits: small CNN on synthetic 8x8 digits; text: tiny byte-level transformer on the stdlib's sources")
    parser.add_argument("--steps", type=int, default=None, help="default: 600 (digits), 200 (text)")
    parser.add_argument("--batch", type=int, default=32, help="samples per process per step")
    parser.add_argument("--lr", type=float, default=None, help="default: SGD 0.05 (digits), AdamW 3e-3 (text)")
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--out", default="ddp_results.json")
    parser.add_argument("--plot", default="ddp_curves.png")
    args = parser.parse_args()
    torch.set_num_threads(1)  # N processes share the cores
    dist.init_process_group("gloo")
    began, machine_line = time.perf_counter(), machine()  # the load average before the run
    args.steps = args.steps or TASKS[args.task][3]
    args.seeds = args.seeds or (5 if args.task == "digits" else 3)
    x, y = TASKS[args.task][1]()
    split = len(y) * 5 // 6 if args.task == "digits" else len(y) - 256  # text: the last 256 windows test
    gap = 2 if args.task == "text" else 0  # text windows overlap by half: none shared with the test
    data = ((x[:split - gap], y[:split - gap]), (x[split:], y[split:]))
    runs = [train_arm(name, factory, seed, data, args) for seed in range(args.seeds)
            for name, factory in arms(dist.get_world_size()).items()]
    if dist.get_rank() == 0:
        rows = summarise(runs)
        meta = {"command": f"torchrun --nproc-per-node {dist.get_world_size()} benchmarks/ddp_compare.py {' '.join(sys.argv[1:])}",
                "args": vars(args), "errors": vars(ERRORS) | {}, "machine": f"{machine_line}; torch {torch.__version__}", "date": datetime.datetime.now(datetime.UTC).isoformat(
                    timespec="minutes"), "wall_s": time.perf_counter() - began}
        with open(args.out, "w") as handle:
            json.dump({"meta": meta, "summary": rows, "runs": runs}, handle, indent=1)
        plot(runs, args.plot)
        print(markdown(rows))
        print(f"wall time {meta['wall_s']:.0f} s; {meta['machine']}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
