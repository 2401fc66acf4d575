"""Thousands of classes: what a training step, the zero-shot head and prediction cost as the class count grows.

1. step:  a training step (ViT-B-32, random weights, LoRA in both towers, batch 16, the "ce" loss, CPU) with 10, 100,
          1,000 and 10,000 classes: every class encoded each step (the full softmax), and a sample of them
          (`classes_per_step` of 24 and 64, the sampled softmax). Each in a fresh process: median step time and peak memory (max RSS).
          Goal: sampled step(10,000) / step(10) <= 1.3, and peak memory within 1.3x as well.
2. accuracy: the demo set with more classes than the per-step limit (tiny-random): val top-1 of the full and the
          sampled loss, 3 seeds. Goal: the same within noise.
3. head:  the zero-shot head (class-text embeddings) for 10,000 classes: first build (time, peak memory), then the
          cached load. One template ("a photo of {}."): the 80 OpenAI templates would take 80x the build time here.
4. predict: 100 and 1,000 photos against 10,000 classes (the head cached), peak memory of each in a fresh process.
          Goal: equal within 10 %.

    python benchmarks/many_classes.py [--parts step,accuracy,head,predict] [--steps 3]
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve()


def child(args) -> dict:
    "Run one measurement in a fresh process (`--child JSON`), return its JSON line."
    out = subprocess.run([sys.executable, str(HERE), "--child", json.dumps(args)], capture_output=True, text=True, env=os.environ)
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_step(n_classes, limit, steps, batch=16, model_name="ViT-B-32"):
    import torch
    from bioclip_lora_nb.lora import LoraConfig, apply_lora_to_model, get_lora_parameters, load_base_model, encode_text_cut
    from bioclip_lora_nb.losses import ce_loss, sampled_ce_loss, step_classes
    sys.path.insert(0, str(HERE.parent))
    from train_speed import taxon_prompts
    torch.manual_seed(0)
    model, _, _, tok = load_base_model(model_name, device="cpu")
    apply_lora_to_model(model, LoraConfig()).train()
    tokens = tok(taxon_prompts(n_classes))
    opt = torch.optim.AdamW(get_lora_parameters(model), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    times = []
    for i in range(steps + 1):
        x, y = torch.randn(batch, 3, 224, 224, generator=g), torch.randint(0, n_classes, (batch,), generator=g)
        t = time.perf_counter()
        img = model.encode_image(x, normalize=True)
        classes, log_q = step_classes(y, n_classes, limit, key=(0, 0, i, 0))
        if classes is None: loss = ce_loss(img, encode_text_cut(model, tokens), y, model.logit_scale.exp())
        else: loss = sampled_ce_loss(img, encode_text_cut(model, tokens[classes]), y, classes, log_q, model.logit_scale.exp())
        loss.backward(); opt.step(); opt.zero_grad()
        if i: times.append(time.perf_counter() - t)  # step 0 warms up
    return dict(step_s=statistics.median(times), peak_mb=peak_mb())


def measure_head(n_classes, cache_dir):
    os.environ["BIOCLIP_LORA_CACHE"] = cache_dir
    from bioclip_lora_nb.lora import load_base_model
    from bioclip_lora_nb.eval import zero_shot_classifier
    sys.path.insert(0, str(HERE.parent))
    from train_speed import taxon_prompts
    model, _, _, tok = load_base_model("ViT-B-32", device="cpu")
    texts = [p.removeprefix("a photo of ").removesuffix(".") + f" {i}" for i, p in enumerate(taxon_prompts(n_classes))]
    t = time.perf_counter(); head = zero_shot_classifier(model.eval(), tok, texts, "a photo of {}."); dt = time.perf_counter() - t
    return dict(seconds=dt, peak_mb=peak_mb(), shape=list(head.shape))


def measure_predict(n_photos, n_classes, cache_dir, photo_dir):
    import warnings
    os.environ["BIOCLIP_LORA_CACHE"] = cache_dir
    from bioclip_lora_nb.lora import load_base_model
    from bioclip_lora_nb.predict import PredictionStream
    sys.path.insert(0, str(HERE.parent))
    from train_speed import taxon_prompts
    model = load_base_model("ViT-B-32", device="cpu")[0]
    texts = [p.removeprefix("a photo of ").removesuffix(".") + f" {i}" for i, p in enumerate(taxon_prompts(n_classes))]
    photos = sorted(Path(photo_dir).glob("*/*.jpg"))[:n_photos]
    t, rows = time.perf_counter(), 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in PredictionStream(model, photos, texts, k=5, label_kind="asis", templates="a photo of {}.", workers=0, progress=False):
            rows += len(frame)  # consumed as they come, as the CLI writes them
    return dict(seconds=time.perf_counter() - t, peak_mb=peak_mb(), rows=rows)


def accuracy(seeds, epochs, limit, n_classes=12):
    import warnings
    from bioclip_lora_nb.data import make_demo_dataset
    from bioclip_lora_nb.train import fit
    rows = []
    with tempfile.TemporaryDirectory() as d:
        os.environ["BIOCLIP_LORA_CACHE"] = str(Path(d)/"cache")
        photos = make_demo_dataset(Path(d)/"photos", n_classes=n_classes, per_class=20)
        for seed in range(seeds):
            for name, cps in (("full", None), (f"sampled ({limit} of {n_classes})", limit)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = fit(model="tiny-random", train_data=photos, epochs=epochs, batch_size=16, lr=5e-3, warmup=5, workers=0, seed=seed,
                            classes_per_step=cps, logs=Path(d)/"logs", name=f"{name.split()[0]}_{seed}")
                rows.append(dict(loss=name, seed=seed, val_top1=float(r.history.val_top1.dropna().iloc[-1])))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--parts", default="step,accuracy,head,predict")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--limits", default="24,64", help="classes_per_step values for the sampled steps")
    p.add_argument("--child")
    a = p.parse_args()
    if a.child:
        c = json.loads(a.child)
        fn = dict(step=measure_step, head=measure_head, predict=measure_predict)[c.pop("what")]
        print(json.dumps(fn(**c))); return
    parts = a.parts.split(",")
    print(f"torch threads: {__import__('torch').get_num_threads()}")
    if "step" in parts:
        print(f"\n## 1. Training step against class count (ViT-B-32, batch 16, LoRA in both towers, ce loss, CPU; median of {a.steps})\n")
        limits = [int(v) for v in a.limits.split(",")]
        print("| classes | full softmax: s/step | peak MB | " + " | ".join(f"sampled, {k} a step: s/step | peak MB" for k in limits) + " |")
        print("|---|---|---|" + "---|---|" * len(limits))
        base = {}
        for n in (10, 100, 1000, 10000):
            full = child(dict(what="step", n_classes=n, limit=None, steps=a.steps if n <= 100 else 1)) if n <= 1000 else None
            cells = [f"{full['step_s']:.2f} | {full['peak_mb']:.0f}" if full else "not run (a step would take minutes) | –"]
            for k in limits:
                samp = child(dict(what="step", n_classes=n, limit=k, steps=a.steps))
                b = base.setdefault(k, samp)
                cells.append(f"{samp['step_s']:.2f} (x{samp['step_s'] / b['step_s']:.2f}) | {samp['peak_mb']:.0f} (x{samp['peak_mb'] / b['peak_mb']:.2f})")
            print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)
    if "accuracy" in parts:
        print("\n## 2. Accuracy: full vs sampled softmax (tiny-random, demo set of 12 classes, 4 classes a step, 6 epochs)\n")
        import pandas as pd
        df = pd.DataFrame(accuracy(3, 6, 4))
        print(df.pivot(index="seed", columns="loss", values="val_top1").to_string())
        print(df.groupby("loss").val_top1.agg(["mean", "std"]).to_string(float_format=lambda v: f"{v:.3f}"))
    with tempfile.TemporaryDirectory() as d:
        if "head" in parts or "predict" in parts:
            first = child(dict(what="head", n_classes=10000, cache_dir=d))
            again = child(dict(what="head", n_classes=10000, cache_dir=d))
        if "head" in parts:
            print("\n## 3. Zero-shot head for 10,000 classes (ViT-B-32, one template, CPU)\n")
            print(f"first build: {first['seconds']:.1f} s, peak {first['peak_mb']:.0f} MB; cached load: {again['seconds']:.2f} s "
                  f"(x{first['seconds'] / again['seconds']:.0f} faster), peak {again['peak_mb']:.0f} MB; head {first['shape']}")
        if "predict" in parts:
            from bioclip_lora_nb.data import make_demo_dataset
            photos = make_demo_dataset(Path(d)/"photos", n_classes=10, per_class=100, size=64)
            small = child(dict(what="predict", n_photos=100, n_classes=10000, cache_dir=d, photo_dir=str(photos)))
            large = child(dict(what="predict", n_photos=1000, n_classes=10000, cache_dir=d, photo_dir=str(photos)))
            print("\n## 4. Prediction against 10,000 classes (ViT-B-32, head cached, streamed, CPU)\n")
            print(f"100 photos: {small['seconds']:.1f} s, peak {small['peak_mb']:.0f} MB; 1,000 photos: {large['seconds']:.1f} s, "
                  f"peak {large['peak_mb']:.0f} MB (x{large['peak_mb'] / small['peak_mb']:.3f})")


if __name__ == "__main__":
    main()
