"""One command that proves the GPU path, and records what it measured.

    python benchmarks/gpu_check.py --out DIR               # one CUDA GPU: under 8 minutes on an H100/H200
    python benchmarks/gpu_check.py --out DIR --cpu-smoke   # the same steps on tiny-random and the CPU: under 2 minutes

Steps, each timed, logged to DIR/<step>.log, and summarised in DIR/gpu_check.md (and .json):
1. `nbdev-test --flags gpu`: every notebook's tests plus the `#| gpu` cells (the fused LoRA op under CUDA
   bf16 autocast, `fit` on CUDA in bf16 with loader workers and pinned memory, a merged export from CUDA
   loading in stock open_clip). The smoke runs `00_lora`'s tests without the flag: the gpu cells need CUDA.
2. `benchmarks/lora_speed.py` on ViT-L-14, batch 32, bf16: images/s and peak memory of our LoRA, PEFT, full
   fine-tuning and forward-only.
3. `fit` on ViT-L-14 (random weights, BioCLIP 2's shapes) on synthetic photos, bf16, batch 32 and 64, with
   and without gradient checkpointing: images/s of the second epoch (warm) and `torch.cuda.max_memory_allocated`.
4. Evaluation throughput of the same model with its adapter merged: `image_features` (the data pipeline
   included) against bare `encode_image` on tensors already on the device.
A step that fails is recorded as failed and the next one runs: one window of GPU time yields every answer.
"""
import argparse, json, os, subprocess, sys, tempfile, time, traceback
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def run_cmd(cmd, log, timeout):
    "Run `cmd` in the repo root with its output in `log`; (ok, seconds, last lines)."
    t = time.perf_counter()
    with open(log, "w") as f:
        try: ok = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired: ok = False
    lines = Path(log).read_text().splitlines()
    return ok, time.perf_counter() - t, lines[-25:]


def step_tests(cfg, out):
    cmd = (["nbdev-test", "--file-re", "00_lora"] if cfg["smoke"] else
           ["nbdev-test", "--flags", "gpu", "--n-workers", "4", "--timing"])
    ok, secs, _ = run_cmd(cmd, out/"nbdev_test.log", timeout=cfg["test_timeout"])
    what = "00_lora tests (gpu cells need CUDA)" if cfg["smoke"] else "all notebooks + #| gpu cells"
    return [dict(step="1 nbdev-test", setting=what, result="passed" if ok else "FAILED (see nbdev_test.log)", seconds=secs)]


def step_lora_speed(cfg, out):
    cmd = [sys.executable, "benchmarks/lora_speed.py", "--model", cfg["model"], "--batch", str(cfg["batch"]),
           "--device", cfg["device"], "--precision", cfg["precision"], "--rounds", str(cfg["rounds"])]
    ok, secs, tail = run_cmd(cmd, out/"lora_speed.log", timeout=cfg["speed_timeout"])
    rows = [" ".join(l.split()) for l in tail if "img/s" in l or "/ " in l or "overhead" in l][-12:]
    return [dict(step="2 lora_speed", setting=" ".join(cmd[2:]), result=("ok" if ok else "FAILED") + "; " + " · ".join(r.strip() for r in rows),
                 seconds=secs)]


def demo_split(root, smoke):
    from bioclip_lora_nb.data import make_demo_dataset
    from bioclip_lora_nb.splits import prepare_dataset_from_folders
    n, per = (4, 30) if smoke else (8, 60)  # enough training images for 2+ steps at the largest batch
    return prepare_dataset_from_folders(make_demo_dataset(root/"demo", n_classes=n, per_class=per), root/"data", val_fraction=0.1)


def step_fit(cfg, out, data):
    from bioclip_lora_nb.train import fit
    rows = []
    for batch in cfg["fit_batches"]:
        for ckpt in (False, True):
            setting = f"{cfg['model']} {cfg['precision']} batch {batch}{', grad checkpointing' if ckpt else ''}"
            try:
                if cfg["cuda"]: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
                t = time.perf_counter()
                r = fit(model=cfg["model"], train_data=str(data.train_csv), epochs=2, batch_size=batch, warmup=1, lr=1e-4,
                        precision=cfg["precision"], device=cfg["device"], grad_checkpointing=ckpt, log_every_n_steps=1,
                        logs=str(out/"runs"), name=f"b{batch}{'_ckpt' if ckpt else ''}")
                steps = r.history[(r.history.epoch == 2) & r.history.images_s.notna()]  # step rows of the warm epoch
                peak = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cfg["cuda"] else ""
                rows.append(dict(step="3 fit", setting=setting, seconds=time.perf_counter() - t,
                                 result=f"{steps.images_s.iloc[-1]:.0f} images/s (epoch 2, {len(steps)} steps){peak}; "
                                        f"loss {r.history.loss.iloc[0]:.3f} → {r.history.loss.iloc[-1]:.3f}"))
                del r
            except Exception as e:
                rows.append(dict(step="3 fit", setting=setting, result=f"FAILED: {type(e).__name__}: {e}"[:300], seconds=0.0))
                traceback.print_exc()
    return rows


@torch.inference_mode()
def step_eval(cfg, out, data):
    from bioclip_lora_nb.data import CsvDataset
    from bioclip_lora_nb.eval import image_features
    from bioclip_lora_nb.lora import LoraConfig, apply_lora_to_model, eval_transform, load_base_model, merge_lora, randomize_lora_
    model = merge_lora(randomize_lora_(apply_lora_to_model(load_base_model(cfg["model"], device=cfg["device"])[0], LoraConfig()))).eval()
    ds = CsvDataset(data.train_csv, eval_transform(model))
    sync = torch.cuda.synchronize if cfg["cuda"] else (lambda: None)
    rows = []
    for batch in cfg["eval_batches"]:
        image_features(model, ds, batch, workers=cfg["workers"], progress=False, cache=False)  # warm up
        sync(); t = time.perf_counter()
        image_features(model, ds, batch, workers=cfg["workers"], progress=False, cache=False); sync()
        pipeline = len(ds) / (time.perf_counter() - t)
        x = torch.randn(batch, 3, *ds[0][0].shape[-2:], device=cfg["device"])
        n = max(1, len(ds) // batch)
        sync(); t = time.perf_counter()
        for _ in range(n): model.encode_image(x, normalize=True)
        sync(); bare = n * batch / (time.perf_counter() - t)
        rows.append(dict(step="4 evaluate (merged)", setting=f"{cfg['model']} fp32 batch {batch}, {cfg['workers']} workers",
                         result=f"image_features {pipeline:.0f} images/s, bare encode_image {bare:.0f} images/s "
                                f"({pipeline / bare:.2f}x)", seconds=0.0))
    return rows


def main(out, smoke):
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available() and not smoke
    if not cuda and not smoke: raise SystemExit("gpu_check: no CUDA device here. Use --cpu-smoke to try the script on the CPU.")
    cfg = dict(smoke=smoke, cuda=cuda, device="cuda" if cuda else "cpu", precision="bf16" if cuda else "fp32",
               model="tiny-random" if smoke else "ViT-L-14", batch=4 if smoke else 32, rounds=1 if smoke else 5,
               fit_batches=(8, 16) if smoke else (32, 64), eval_batches=(16,) if smoke else (64, 256),
               workers=0 if smoke else min(8, os.cpu_count() or 1), test_timeout=300 if smoke else 330,
               speed_timeout=120 if smoke else 240)
    os.environ.setdefault("BIOCLIP_LORA_CACHE", str(out/"cache"))
    device = torch.cuda.get_device_name() if cuda else "CPU (smoke)"
    t0, rows = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as d:
        data = demo_split(Path(d), smoke)
        for step in (step_tests, step_lora_speed, lambda c, o: step_fit(c, o, data), lambda c, o: step_eval(c, o, data)):
            try: rows += step(cfg, out)
            except Exception as e: rows.append(dict(step="?", setting="", result=f"FAILED: {type(e).__name__}: {e}"[:300], seconds=0.0))
            print(rows[-1], flush=True)
    total = time.perf_counter() - t0
    md = [f"# GPU check: {device}", "", f"torch {torch.__version__}, {total:.0f} s in all.", "",
          "| step | setting | result | s |", "|---|---|---|---|"]
    md += [f"| {r['step']} | {r['setting']} | {r['result'].replace('|', '/')} | {r['seconds']:.0f} |" for r in rows]
    (out/"gpu_check.md").write_text("\n".join(md) + "\n")
    (out/"gpu_check.json").write_text(json.dumps(dict(device=device, total_s=total, rows=rows), indent=1))
    print("\n".join(md))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for gpu_check.md, gpu_check.json and the logs")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny-random on the CPU: checks the script itself")
    a = p.parse_args()
    rows = main(a.out, a.cpu_smoke)
    sys.exit(1 if any("FAILED" in r["result"] for r in rows) else 0)
