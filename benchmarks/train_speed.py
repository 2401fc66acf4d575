"""Where a training step's time goes, what the class-text token cut saves, and what checkpointing saves.

1. Per-step time split into data (decode + transform of a batch), forward, backward and optimizer,
   for `tiny-random` and `ViT-B-16`, with the `fit` loss (CE over class prompts, text LoRA on).
2. Class-text encoding (forward + backward, as in a step with text LoRA) with all 77 tokens vs cut
   to the longest prompt, for 5, 100 and 1,000 BioCLIP-style taxonomic prompts (goal: >= 3x cheaper).
3. Peak memory (max RSS of a fresh process) of training steps with and without open_clip's gradient
   checkpointing.

    python benchmarks/train_speed.py [--batch 8] [--steps 3]
"""
import argparse, json, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

from bioclip_lora_nb.data import CsvDataset, make_demo_dataset, make_loader
from bioclip_lora_nb.splits import prepare_dataset_from_folders
from bioclip_lora_nb.lora import LoraConfig, apply_lora_to_model, get_lora_parameters, load_base_model
from bioclip_lora_nb.lora import encode_text_cut
from bioclip_lora_nb.losses import ce_loss, class_prompts


def timed(fn):
    t = time.perf_counter(); out = fn(); return time.perf_counter() - t, out


def step_split(name, batch, steps, data_dir):
    "Median seconds of data / forward / backward / optimizer over `steps` steps."
    torch.manual_seed(0)
    model, train_tf, _, tok = load_base_model(name)
    apply_lora_to_model(model, LoraConfig()).train()
    ds = CsvDataset(data_dir/"train_data.csv", train_tf, draft=2 * train_tf.transforms[0].size[0])
    class_tokens = tok(class_prompts(ds.classes))
    opt = torch.optim.AdamW(get_lora_parameters(model), lr=1e-4)
    it = iter(make_loader(ds, batch, workers=0))
    parts = {k: [] for k in ("data", "forward", "backward", "optimizer")}
    for i in range(steps + 1):
        t_data, (x, y) = timed(lambda: next(it))
        def fwd():
            img = model.encode_image(x, normalize=True)
            return ce_loss(img, encode_text_cut(model, class_tokens), y, model.logit_scale.exp())
        t_fwd, loss = timed(fwd)
        t_bwd, _ = timed(loss.backward)
        t_opt, _ = timed(lambda: (opt.step(), opt.zero_grad()))
        if i: [parts[k].append(v) for k, v in zip(parts, (t_data, t_fwd, t_bwd, t_opt))]  # step 0 warms up
    return {k: statistics.median(v) for k, v in parts.items()}


WORDS = ["Cardinal", "Turd", "Quercu", "Vulp", "Acer", "Panther", "Felis", "Canis", "Ros", "Pinu", "Erith", "Sylv"]

def taxon_prompts(n, seed=0):
    "n BioCLIP-style prompts: 'a photo of <7 ranks> with common name <two words>.'"
    rng = np.random.default_rng(seed)
    w = lambda suffix: rng.choice(WORDS) + suffix
    return [f"a photo of Animalia Chordata {w('ia')} {w('iformes')} {w('idae')} {w('us')} {w('ensis').lower()} "
            f"with common name {w('').lower()} {w('er').lower()}." for _ in range(n)]


def text_cost(model, tok, n, rounds, backward=True):
    "Seconds to encode n class prompts (forward + backward, or forward only), full 77 tokens vs cut."
    tokens = tok(taxon_prompts(n))
    def run(encode):
        if backward: encode(tokens).sum().backward()
        else:
            with torch.no_grad(): encode(tokens)
    full, cut = lambda: run(lambda t: model.encode_text(t, normalize=True)), lambda: run(lambda t: encode_text_cut(model, t))
    res = {}
    for label, f in (("full", full), ("cut", cut)):
        if n <= 100: f()  # warm up (the 1,000-class case is long enough on its own)
        res[label] = statistics.median(timed(f)[0] for _ in range(rounds))
    return res, int(tokens.argmax(-1).max()) + 1


def _rss_mb(field):
    "VmRSS (current) or VmHWM (peak since the last reset) of this process, in MB."
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
    return int(line.split()[1]) / 1024


def peak_memory_child(name, batch, checkpointing):
    "Runs in a fresh process: peak RSS (MB) during two training steps, and RSS with the model loaded."
    torch.manual_seed(0)
    model, _, _, tok = load_base_model(name)
    apply_lora_to_model(model, LoraConfig()).train()
    model.set_grad_checkpointing(checkpointing)
    before = _rss_mb("VmRSS:")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS (Linux)
    x, tokens = torch.randn(batch, 3, *model.visual.image_size), tok(taxon_prompts(5))
    opt = torch.optim.AdamW(get_lora_parameters(model), lr=1e-4)
    for _ in range(2):
        loss = ce_loss(model.encode_image(x, normalize=True), encode_text_cut(model, tokens), torch.arange(batch) % 5,
                       model.logit_scale.exp())
        loss.backward(); opt.step(); opt.zero_grad()
    print(json.dumps(dict(after_load_mb=before, peak_mb=_rss_mb("VmHWM:"))))


def peak_memory(name, batch, checkpointing):
    out = subprocess.run([sys.executable, __file__, "--memory-child", name, str(batch), str(int(checkpointing))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(batch=8, steps=3, sections=(1, 2, 3)):
    print(f"CPU, fp32, {torch.get_num_threads()} threads, batch {batch}, LoRA r=8 on q,k,v of both towers\n")
    if 1 in sections: step_section(batch, steps)
    if 2 in sections: text_section()
    if 3 in sections: memory_section(batch)


def step_section(batch, steps):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        prepare_dataset_from_folders(make_demo_dataset(d/"demo", n_classes=5, per_class=40, size=320), d/"data")
        print("1. step time split (median s):")
        for name in ("tiny-random", "ViT-B-16"):
            parts = step_split(name, batch, steps, d/"data")
            total = sum(parts.values())
            print(f"  {name:12s} " + "  ".join(f"{k} {v:.3f} ({v / total:.0%})" for k, v in parts.items()) +
                  f"  = {total:.3f} s, {batch / total:.1f} img/s")


def text_section():
    print("\n2. class-text encoding (ViT-B-16 text tower, taxon + common name prompts):")
    torch.manual_seed(0)
    model, _, _, tok = load_base_model("ViT-B-16")
    apply_lora_to_model(model, LoraConfig()).train()
    # 1,000 prompts x 77 tokens with a backward pass need more than 24 GB: forward only there (frozen text / eval)
    for n, rounds, backward in ((5, 5, True), (100, 2, True), (1000, 1, False)):
        res, L = text_cost(model, tok, n, rounds, backward)
        print(f"  {n:5d} classes, {'forward + backward' if backward else 'forward only'}: 77 tokens {res['full']:.3f} s, "
              f"cut to {L} tokens {res['cut']:.3f} s -> {res['full'] / res['cut']:.2f}x cheaper")


def memory_section(batch):
    print(f"\n3. peak memory (peak RSS of a fresh process during two steps; batch {batch}):")
    for name in ("tiny-random", "ViT-B-16"):
        for ckpt in (False, True):
            m = peak_memory(name, batch, ckpt)
            print(f"  {name:12s} checkpointing {'on ' if ckpt else 'off'}: peak {m['peak_mb']:.0f} MB "
                  f"({m['peak_mb'] - m['after_load_mb']:.0f} MB above the loaded model)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        peak_memory_child(sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4]))); sys.exit()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--sections", default="1,2,3", help="which parts to run, e.g. 2,3")
    a = p.parse_args()
    main(a.batch, a.steps, tuple(int(s) for s in a.sections.split(",")))
