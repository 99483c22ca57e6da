"""Distributed training example: a compact convolutional network over event frames, plain torch DDP.

On the CPU, two processes, on the synthetic N-MNIST demo dataset (made on first use):

    torchrun --nproc_per_node=2 scripts/train_ddp.py --epochs 6

On GPUs (one process per GPU; NCCL is chosen when CUDA is available), e.g. two nodes of 8:

    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
        scripts/train_ddp.py --data https://data.example.org/nmnist/ --workers 6 --batch-size 64

Every rank reads the same number of batches (the epoch plan pads the remainder), so the epoch ends
on all ranks together. ``--checkpoint FILE`` saves the model, the optimiser and the stream's
state after every ``--checkpoint-every`` batches; rerunning the same command resumes mid-epoch
from it, without reading the samples already trained on.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from streams import EventStream


class FrameNet(nn.Module):
    """A per-frame convolutional encoder shared over time, averaged over the valid frames, then a classifier."""

    def __init__(self, classes: int, sensor: tuple[int, int, int], width: int = 16, features: int = 128):
        super().__init__()
        W, H, P = sensor
        self.encoder = nn.Sequential(
            nn.Conv2d(P, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * (H // 4) * (W // 4), features),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(features, classes)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, steps = frames.shape[:2]
        encoded = self.encoder(torch.log1p(frames.flatten(0, 1))).view(batch, steps, -1)
        valid = (torch.arange(steps, device=frames.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = (encoded * valid).sum(1) / lengths.clamp(min=1)[:, None]
        return self.classifier(pooled)


def demo_dataset(folder: Path) -> Path:
    """The synthetic N-MNIST demo, converted with the real dataset's code path."""
    from shardgen import convert
    from shardgen.synthetic import write_synthetic_nmnist

    shards = folder / "shards"
    if not (shards / "index.json").exists():
        raw = write_synthetic_nmnist(folder / "raw", train_per_class=24, test_per_class=6, events_per_sample=3000)
        convert("nmnist", raw, shards, max_samples=23, verify=False, progress=False)  # uneven shards
    return shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="shard directory or URL (default: the synthetic demo)")
    parser.add_argument("--demo-dir", type=Path, default=Path("demo_ddp"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--checkpoint-every", type=int, default=5, help="batches between checkpoints")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(args.seed)

    data = args.data
    if data is None:
        if rank == 0:
            demo_dataset(args.demo_dir)
        dist.barrier()
        data = str(args.demo_dir / "shards")

    stream = EventStream(data, split="train", shuffle=True, seed=args.seed, remainder="pad")
    loader = (
        stream.frames(args.frames)
        .batch(args.batch_size)
        .loader(num_workers=args.workers, persistent_workers=args.workers > 0, pin_memory=cuda)
    )
    model = DistributedDataParallel(
        FrameNet(len(stream.classes), stream.sensor_size).to(device), device_ids=[device.index] if cuda else None
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr)

    first_epoch, resumed = 0, False
    if args.checkpoint is not None and args.checkpoint.exists():
        saved = torch.load(args.checkpoint, map_location=device, weights_only=False)
        model.module.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        # Rank 0's state resumes every rank, even with another number of ranks or workers.
        stream.load_state_dict(saved["stream"])
        first_epoch, resumed = saved["stream"]["epoch"], True
        if rank == 0:
            left = sum(end - start for start, end in saved["stream"]["remaining"] or [[0, 0]])
            print(f"resuming epoch {first_epoch} with {left} samples left")

    for epoch in range(first_epoch, args.epochs):
        if not (resumed and epoch == first_epoch):  # a resumed epoch keeps the loaded progress
            stream.set_epoch(epoch)
        started = time.perf_counter()
        totals = torch.zeros(3, device=device)  # loss sum, correct, samples
        batches = 0
        model.train()
        for batch in loader:
            frames, labels, lengths = batch["frames"].to(device), batch["label"].to(device), batch["lengths"].to(device)
            logits = model(frames, lengths)
            loss = F.cross_entropy(logits, labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            totals += torch.stack(
                [loss.detach() * len(labels), (logits.argmax(1) == labels).sum(), torch.tensor(len(labels), device=device)]
            )
            batches += 1
            if args.checkpoint is not None and rank == 0 and batches % args.checkpoint_every == 0:
                state = {"model": model.module.state_dict(), "optimiser": optimiser.state_dict(), "stream": stream.state_dict()}
                torch.save(state, args.checkpoint.with_suffix(".tmp"))
                os.replace(args.checkpoint.with_suffix(".tmp"), args.checkpoint)
        dist.all_reduce(totals)
        counts = torch.tensor([batches], device=device)
        gathered = [torch.zeros_like(counts) for _ in range(world)]
        dist.all_gather(gathered, counts)
        if rank == 0:
            loss_mean, accuracy = (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()
            print(
                f"epoch {epoch}: loss {loss_mean:.3f}, train accuracy {accuracy:.2f}, "
                f"batches per rank {[int(c) for c in gathered]}, {time.perf_counter() - started:.1f} s",
                flush=True,
            )

    if rank == 0:
        test = EventStream(data, split="test", rank=0, world_size=1).frames(args.frames).batch(64)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for batch in test:
                logits = model.module(batch["frames"].to(device), batch["lengths"].to(device))
                correct += (logits.argmax(1).cpu() == batch["label"]).sum().item()
                total += len(batch["label"])
        print(f"test accuracy {correct / total:.2f} on {total} samples")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
