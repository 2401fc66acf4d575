"""Is data loading ever the bottleneck? Decode + train transform images/s vs the model's consumption rate.

Generates realistic 1–4 MP JPEGs (smooth scenes with texture, ~0.3–1 MB each), then in one process:
loader images/s with 0, 1, 2 workers on the originals and on a resized cache (short side 256, as
`prepare_dataset_from_folders(resize=256)` writes), and LoRA training-step images/s of `tiny-random`
and `ViT-B-16` on this CPU. Prints the ratios (goal: loader >= 2x the model's rate).

    python benchmarks/data_speed.py [--n-images 48] [--batch 8]
"""
import argparse, statistics, tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from bioclip_lora_nb.data import CsvDataset, SeededSamples, make_loader
from bioclip_lora_nb.splits import prepare_dataset_from_folders
from bioclip_lora_nb.lora import LoraConfig, apply_lora_to_model, get_lora_parameters, load_base_model

SIZES = [(1280, 960), (1600, 1200), (2048, 1536), (2304, 1728)]  # 1.2, 1.9, 3.1, 4.0 MP


def photo(w, h, rng):
    "A photo-like image: a smooth colour field with fine texture (JPEG sizes like real photos)."
    small = rng.uniform(0, 255, (h // 64 + 2, w // 64 + 2, 3)).astype(np.uint8)
    im = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    im += rng.normal(0, 12, (h, w, 1))
    return Image.fromarray(im.clip(0, 255).astype(np.uint8))


def write_photos(dest:Path, n:int, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = dest/f"class_{i % 4}"; folder.mkdir(parents=True, exist_ok=True)
        photo(*SIZES[i % len(SIZES)], rng).save(folder/f"{i:04d}.jpg", quality=90)


def loader_rate(csv, transform, workers, batch, draft=None):
    ds = CsvDataset(csv, transform=transform, draft=draft)
    dl = make_loader(ds, batch_size=batch, workers=workers, drop_last=False)
    t = time.perf_counter(); n = sum(len(y) for _, y in dl)
    return n / (time.perf_counter() - t)


def seeding_cost(csv, transform, rounds=5) -> float:
    "Seeded / plain time to read every sample: what per-sample augmentation seeds (exact resume with workers) cost."
    ds = CsvDataset(csv, transform=transform)
    variants, times = {"plain": ds, "seeded": SeededSamples(ds, seed=0, epoch=0)}, {"plain": [], "seeded": []}
    for _ in range(rounds):  # alternating, so the machine's noise hits both alike
        for k, v in variants.items():
            t = time.perf_counter()
            for i in range(len(v)): v[i]
            times[k].append(time.perf_counter() - t)
    return statistics.median(times["seeded"]) / statistics.median(times["plain"])


def model_rate(name, batch, steps=3):
    torch.manual_seed(0)
    model, _, _, tok = load_base_model(name)
    apply_lora_to_model(model, LoraConfig()).train()
    opt = torch.optim.AdamW(get_lora_parameters(model), lr=1e-4)
    size = model.visual.image_size
    x, texts = torch.randn(batch, 3, *size), tok([f"class {i}" for i in range(batch)])
    def step():
        img, txt, s = model(x, texts)[:3]
        (s * img @ txt.T).logsumexp(1).mean().backward(); opt.step(); opt.zero_grad()
    step()
    t = time.perf_counter()
    for _ in range(steps): step()
    return batch * steps / (time.perf_counter() - t)


def main(n_images=48, batch=8):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_photos(d/"photos", n_images)
        mb = sum(p.stat().st_size for p in (d/"photos").rglob("*.jpg")) / n_images / 1e6
        orig = prepare_dataset_from_folders(d/"photos", d/"orig", val_fraction=0)
        cached = prepare_dataset_from_folders(d/"photos", d/"cached", val_fraction=0, resize=256)
        print(f"{n_images} JPEGs of 1.2–4.0 MP ({mb:.2f} MB each on average); {torch.get_num_threads()} torch threads")
        rows = []
        for name in ("tiny-random", "ViT-B-16"):
            _, train_tf, _, _ = load_base_model(name)
            size = train_tf.transforms[0].size[0]
            rate = model_rate(name, batch)
            for workers in (0, 1, 2):
                for label, prep, draft in (("original", orig, None), ("original+draft", orig, 2 * size),
                                           ("cache 256", cached, None)):
                    r = loader_rate(prep.train_csv, train_tf, workers, batch, draft)
                    rows.append(dict(model=name, model_img_s=round(rate, 1), images=label, workers=workers,
                                     loader_img_s=round(r, 1), loader_over_model=round(r / rate, 2)))
        df = pd.DataFrame(rows)
        print(df.to_string(index=False))
        print("\nloader speed-up over full-size decoding (x), ViT-B-16 transform:")
        piv = df[df.model == "ViT-B-16"].pivot_table(index="workers", columns="images", values="loader_img_s")
        print(piv.div(piv["original"], axis=0).round(2).to_string())
        print(f"\nper-sample augmentation seeds (cache 256, ViT-B-16 transform): seeded / plain {seeding_cost(cached.train_csv, train_tf):.3f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-images", type=int, default=48)
    p.add_argument("--batch", type=int, default=8)
    a = p.parse_args()
    main(a.n_images, a.batch)
