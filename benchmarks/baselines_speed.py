"""Was a fine-tune needed? What the frozen-feature baselines cost next to LoRA, on the same data.

In one process, on the synthetic demo set (or your folder), with the same model:
1. the base model's image features of the train and val splits, computed once (then cached);
2. SimpleShot and the linear probe (C by cross-validation) on those cached features;
3. one LoRA epoch (`fit`, fp32 on CPU) on the same training split.
Prints each time and its ratio to the LoRA epoch.

    python benchmarks/baselines_speed.py [--model ViT-B-16] [--per-class 40] [--batch 16]
"""
import argparse, os, tempfile, time
from pathlib import Path

import torch

from bioclip_lora_nb.data import CsvDataset, make_demo_dataset
from bioclip_lora_nb.splits import prepare_dataset_from_folders
from bioclip_lora_nb.eval import image_features, linear_probe_scores, simpleshot_scores
from bioclip_lora_nb.lora import eval_transform, load_base_model
from bioclip_lora_nb.train import fit


def timed(fn):
    t = time.perf_counter(); out = fn(); return time.perf_counter() - t, out


def main(model_name, per_class, batch, classes):
    tmp = Path(tempfile.mkdtemp())
    os.environ["BIOCLIP_LORA_CACHE"] = str(tmp/"cache")
    prep = prepare_dataset_from_folders(make_demo_dataset(tmp/"demo", n_classes=classes, per_class=per_class), tmp/"data")
    model = load_base_model(model_name)[0].eval()
    ds = {s: CsvDataset(p, eval_transform(model)) for s, p in (("train", prep.train_csv), ("val", prep.val_csv))}
    ds["val"] = CsvDataset(prep.val_csv, eval_transform(model), classes=ds["train"].classes)
    feats = lambda: {s: image_features(model, d, batch, workers=2, progress=False) for s, d in ds.items()}
    t_feat, f = timed(feats)
    t_cached, _ = timed(feats)
    y = torch.as_tensor(ds["train"].targets)
    t_ss, _ = timed(lambda: simpleshot_scores(f["train"], y, f["val"], classes))
    t_lp, _ = timed(lambda: linear_probe_scores(f["train"], y, f["val"], classes))
    t_lora, _ = timed(lambda: fit(model=model_name, train_data=str(prep.train_csv), val_data=str(prep.val_csv), epochs=1,
                                  batch_size=batch, warmup=1, logs=str(tmp/"runs"), name="one_epoch"))
    n_train, n_val = len(ds["train"]), len(ds["val"])
    print(f"{model_name}, {classes} classes, {n_train} train / {n_val} val images, batch {batch}, {torch.get_num_threads()} threads")
    rows = [("image features of both splits, first time", t_feat), ("the same, from the cache", t_cached),
            ("SimpleShot on cached features", t_ss), ("linear probe (C by 5-fold CV) on cached features", t_lp),
            ("one LoRA epoch (fit, with its val pass)", t_lora)]
    for name, t in rows: print(f"| {name} | {t:.3f} s | {t / t_lora:.4f} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-16"); p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--batch", type=int, default=16); p.add_argument("--classes", type=int, default=5)
    a = p.parse_args()
    main(a.model, a.per_class, a.batch, a.classes)
