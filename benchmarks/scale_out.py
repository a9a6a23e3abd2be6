"""Scaling out on this machine: images/s streamed from files vs cached in memory, and training on one vs two
(logical) CPU devices. Prints two tables; figures in benchmarks/README.md.

    python benchmarks/scale_out.py [--images 6000]

1. Streamed vs cached: a generated folder of colour photos (112x112 JPEG, AffectNet-like), read at 48x48 grey
   (the workbook's models) and at 96x96 colour: batches of 128 produced per second, from the files
   (helpers.stream) and from arrays in memory (data.load, then stream.array_batches); then one training epoch
   of compact_cnn at 48x48 from each.
2. One vs two devices: compact_cnn trained on the demo faces under TensorFlow with the CPU shown as one or two
   logical devices (helpers.distribute.split_cpu), the same global batch; images/s of the second epoch. Each
   count runs in its own process (TensorFlow fixes its devices at start).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(root: Path, n: int) -> Path:
    import cv2
    rng = np.random.default_rng(0)
    bases = [cv2.imencode(".jpg", cv2.GaussianBlur(rng.integers(0, 256, (112, 112, 3), np.uint8), (9, 9), 0))[1]
             for _ in range(64)]
    for i in range(n):
        path = root / ("train" if i % 10 else "val") / f"{i % 7}" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bases[i % 64].tobytes())
    return root


def rate(batches) -> float:
    start, n = time.perf_counter(), 0
    for i in range(len(batches)):
        n += len(batches[i][0])
    return n / (time.perf_counter() - start)


def streamed_vs_cached(n: int) -> None:
    from helpers import data, models, stream, train
    from helpers.backend import configure_device
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "photos", n)
        print("| read as | streamed from files (img/s) | cached in memory (img/s) | load into memory first (s) |")
        print("|---|---|---|---|")
        for size, channels in ((48, 1), (96, 3)):
            source = stream.open(folder, size=size, channels=channels)
            start = time.perf_counter()
            ds = data.load(folder, size=size, channels=channels, cache=False, verbose=False)
            loading = time.perf_counter() - start
            x, y = ds.xy("train")
            print(f"| {size}x{size}x{channels} | {rate(source.batches('train', 128)):.0f} | "
                  f"{rate(stream.array_batches(x, y, 7, 128)):.0f} | {loading:.1f} |")
        device = configure_device(verbose=False)
        print(f"\n| compact_cnn, one epoch at 48x48x1 ({device['policy']}) | images/s |")
        print("|---|---|")
        for name, source in (("streamed", stream.open(folder)), ("cached", data.load(folder, cache=False,
                                                                                      verbose=False))):
            train.set_seeds(0)
            model = models.compact_cnn(source.image_shape if name == "streamed" else (48, 48, 1), 7)
            log = train.fit(model, source, Path(tmp) / name, epochs=2, patience=None,
                            jit_compile=device["jit_compile"], verbose=0)
            print(f"| {name} | {int((source.splits == 'train').sum()) / log['epoch_seconds'][-1]:.0f} |")


def one_run(devices: int) -> None:
    from helpers import demo, distribute, models, train
    from helpers.backend import configure_device
    distribute.split_cpu(2)
    device = configure_device(verbose=False)
    ds = demo.make_dataset()
    train.set_seeds(0)
    model = models.compact_cnn(ds.images.shape[1:], len(ds.classes))
    with tempfile.TemporaryDirectory() as tmp:
        log = train.fit(model, ds, tmp, epochs=2, batch_size=128 // devices, patience=None,
                        jit_compile=device["jit_compile"], devices=devices, verbose=0)
    print(json.dumps({"devices": devices, "images_per_s": int((ds.splits == "train").sum()) / log["epoch_seconds"][-1],
                      "policy": device["policy"]}))


def one_vs_two() -> None:
    print("\n| compact_cnn on the demo faces, global batch 128 | images/s (2nd epoch) |")
    print("|---|---|")
    for devices in (1, 2):
        out = subprocess.run([sys.executable, __file__, "--one-run", str(devices)], capture_output=True, text=True,
                             check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(f"| {devices} logical CPU device(s), {result['policy']} | {result['images_per_s']:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--one-run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        one_run(args.one_run)
    else:
        import platform
        print(f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
              f"{time.strftime('%Y-%m-%d')}\n")
        streamed_vs_cached(args.images)
        one_vs_two()
