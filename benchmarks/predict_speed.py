"""Does the data pipeline keep up? `predict` against bare `encode_image` on the same photos, in one process.

Writes N synthetic 640x480 JPEG photos, then times, round-robin:
- bare: `model.encode_image` on the photos already decoded and transformed (tensors in memory), batch B;
- predict: `bioclip_lora_nb.eval.predict` on the files (decode + transform in W loader workers, top-5 softmax), batch B.
Prints medians and predict / bare throughput (goal: >= 0.9).

    python benchmarks/predict_speed.py [--model ViT-B-16] [--n 96] [--batch 32] [--workers 2] [--rounds 3]
"""
import argparse, statistics, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bioclip_lora_nb.data import load_image
from bioclip_lora_nb.predict import predict
from bioclip_lora_nb.lora import eval_transform, load_base_model


def photos(dest, n, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)  # smooth, photo-like content, not noise
        Image.fromarray(small).resize((640, 480), Image.BICUBIC).save(dest/f"{i:04d}.jpg", quality=90)
    return sorted(dest.glob("*.jpg"))


@torch.inference_mode()
def main(model_name, n, batch, workers, rounds):
    paths = photos(Path(tempfile.mkdtemp()), n)
    model = load_base_model(model_name, device="cpu")[0].eval()
    tf = eval_transform(model)
    x = torch.stack([tf(load_image(p)) for p in paths])
    classes = [f"class {i}" for i in range(5)]
    bare = lambda: [model.encode_image(x[i:i + batch], normalize=True) for i in range(0, n, batch)]
    pred = lambda: predict(model, paths, classes, k=5, templates="a photo of {}.", batch_size=batch, workers=workers, progress=False)
    times = {"bare encode_image": [], "predict": []}
    for _ in range(rounds):
        for name, fn in (("bare encode_image", bare), ("predict", pred)):
            t = time.perf_counter(); fn(); times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{model_name}, {n} photos 640x480, batch {batch}, {workers} workers, {torch.get_num_threads()} threads, {rounds} rounds")
    for k, v in med.items(): print(f"| {k} | {v:.2f} s | {n / v:.1f} images/s |")
    print(f"predict / bare throughput: {med['bare encode_image'] / med['predict']:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-16"); p.add_argument("--n", type=int, default=96)
    p.add_argument("--batch", type=int, default=32); p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    main(a.model, a.n, a.batch, a.workers, a.rounds)
