"""Long-tailed data: which loss and sampler should be the default? Evidence for `TrainConfig.prior_tau` and `sampler`.

    python benchmarks/longtail.py [--seeds 3] [--epochs 4]

A synthetic long tail (the demo's coloured shapes, 8 classes, training images falling 100:1 from 200 to 2)
and a validation split drawn the same way from other images (a long tail too, at least 5 images a class).
`tiny-random`, the same epochs, learning rate and seeds for every setting; each run is evaluated with its
training prompt. Reports top-1 (dominated by the common classes), balanced accuracy (every class alike) and
the `few` group's accuracy (classes under 20 training images), mean ± std over the seeds. A balanced split
is run too: there the balanced loss adds exactly nothing (its prior is uniform), so it equals plain CE.
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

import pandas as pd

os.environ.setdefault("BIOCLIP_LORA_CACHE", tempfile.mkdtemp())
from bioclip_lora_nb.data import make_demo_dataset
from bioclip_lora_nb.splits import prepare_dataset_from_folders
from bioclip_lora_nb.eval import evaluate_run
from bioclip_lora_nb.train import fit

SETTINGS = {"plain CE, uniform": dict(prior_tau=0.0, sampler="uniform"), "balanced softmax (tau 1)": dict(prior_tau=1.0, sampler="uniform"),
            "plain CE, sqrt sampler": dict(prior_tau=0.0, sampler="sqrt"), "plain CE, balanced sampler": dict(prior_tau=0.0, sampler="balanced"),
            "tau 1, sqrt sampler": dict(prior_tau=1.0, sampler="sqrt")}

def split(root:Path, train_counts:list, val_counts:list, seed:int) -> tuple:
    "Train and val CSVs from two synthetic photo folders of the same classes (other images, other seeds)."
    train = prepare_dataset_from_folders(make_demo_dataset(root/"train_photos", len(train_counts), train_counts, seed=seed), root/"train", val_fraction=0)
    val = prepare_dataset_from_folders(make_demo_dataset(root/"val_photos", len(val_counts), val_counts, seed=seed + 100), root/"val", val_fraction=0)
    return str(train.train_csv), str(val.train_csv)

def run(name:str, root:Path, train_csv:str, val_csv:str, seed:int, epochs:int, **settings) -> dict:
    r = fit(model="tiny-random", train_data=train_csv, val_data=val_csv, epochs=epochs, batch_size=16, lr=5e-3, warmup=5, workers=0, seed=seed,
            logs=str(root/"logs"), name=f"{name}-s{seed}".replace(" ", "_").replace(",", ""), **settings)
    s = evaluate_run(r, strengths=(1.0,), baselines=False, templates="a photo of {}.", workers=0, progress=False, out=False).summary()
    lora = next(row for row in s["table"] if row["model"] == "LoRA x1")
    few = next((g["top1"] for g in s["groups"]["LoRA x1"] if g["group"] == "few"), float("nan"))
    return dict(setting=name, seed=seed, top1=lora["top1"], balanced=lora["balanced"], few=few)

if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--seeds", type=int, default=3); p.add_argument("--epochs", type=int, default=4)
    a = p.parse_args()
    root, t0 = Path(tempfile.mkdtemp()), time.time()
    tail = [round(200 * 0.01 ** (i / 7)) for i in range(8)]  # 200 … 2: 100:1
    data = {"long-tailed": split(root/"tail", tail, [max(5, round(n / 4)) for n in tail], seed=0),
            "balanced": split(root/"flat", [50] * 8, [10] * 8, seed=0)}
    rows = []
    for kind, (train_csv, val_csv) in data.items():
        for name, settings in (SETTINGS.items() if kind == "long-tailed" else list(SETTINGS.items())[:2]):
            for seed in range(a.seeds):
                rows.append(dict(data=kind, **run(f"{kind} {name}", root, train_csv, val_csv, seed, a.epochs, **settings)))
                print(rows[-1], file=sys.stderr)
    df = pd.DataFrame(rows)
    cell = lambda v: f"{v.mean() * 100:.1f} ± {v.std() * 100:.1f}"
    table = df.groupby(["data", "setting"], sort=False)[["top1", "balanced", "few"]].agg(cell).reset_index()
    print(f"training images per class {tail}; {a.seeds} seeds, {a.epochs} epochs, tiny-random; {time.time() - t0:.0f} s")
    print("| data | setting | top-1 | balanced accuracy | few group |\n|---|---|---|---|---|")
    for r in table.itertuples(): print(f"| {r.data} | {r.setting} | {r.top1} | {r.balanced} | {r.few} |")
