"""LoRA speed, random-init weights: ours vs PEFT vs full fine-tuning (default: ViT-B-16, fp32, CPU, batch 8).

Every variant is timed in this one process, round-robin (one run of each per round, median over
rounds), so the machine's noise hits all of them alike; the ratios are what to read. On CUDA it also
reports images/s and each variant's peak memory above what the models themselves hold.

    python benchmarks/lora_speed.py [--model ViT-B-16] [--batch 8] [--rounds 9]
    python benchmarks/lora_speed.py --model ViT-L-14 --batch 32 --device cuda --precision bf16   # BioCLIP 2's shapes
"""
import argparse, copy, random, statistics, time
from unittest import mock

import open_clip
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from bioclip_lora_nb import lora
from bioclip_lora_nb.lora import (LoraConfig, apply_lora_to_model, get_lora_parameters, merge_lora,
                                  randomize_lora_)


def clip_step(model, params, images, texts, loss_fn):
    "One training step: forward both towers (under `autocast`), CLIP loss, backward, AdamW step."
    opt = clip_step.opts.setdefault(id(model), torch.optim.AdamW(params, lr=1e-5))
    with autocast(): img, txt, scale = model(images, texts)[:3]
    loss_fn(img.float(), txt.float(), scale.float()).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
clip_step.opts = {}


class _Through(torch.autograd.Function):
    "Identity on `y` that puts `p` into the graph, so backward runs through the frozen towers without computing LoRA."
    @staticmethod
    def forward(ctx, y, p): return y.view_as(y)
    @staticmethod
    def backward(ctx, g): return g, None


def floor_step(model, params, images, texts, loss_fn):
    "`clip_step` of a LoRA model with LoRA's math (dropout, low-rank products) taken out: what backpropagating through the frozen towers costs."
    with mock.patch.object(lora.LoraLayer, "adapted_linear", lambda self, x, weight, bias, A, B: _Through.apply(F.linear(x, weight, bias), A)):
        clip_step(model, params, images, texts, loss_fn)


def plain_step(model, params, images, texts, loss_fn):
    "`clip_step` on the plain tensor ops of `00_lora` (`LoraLayer.fused = False`): what the fused op saves."
    lora.LoraLayer.fused = False
    try: clip_step(model, params, images, texts, loss_fn)
    finally: lora.LoraLayer.fused = True


def forward_only(model, images, texts):
    with torch.no_grad(), autocast(): model(images, texts)


def encode(model, images):
    with torch.inference_mode(), autocast(): model.encode_image(images)


def autocast():
    "bf16 autocast on the benchmark's device when `--precision bf16`, else nothing."
    return torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=PRECISION == "bf16")


def synchronize():
    if DEVICE.type == "cuda": torch.cuda.synchronize()


def timed(fn) -> tuple:
    "`(seconds, bytes)`: how long `fn` takes and, on CUDA, its peak memory above what was allocated before it (else 0)."
    cuda = DEVICE.type == "cuda"
    synchronize()
    if cuda: torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
    t = time.perf_counter(); fn(); synchronize(); dt = time.perf_counter() - t
    return dt, torch.cuda.max_memory_allocated() - before if cuda else 0


def round_robin(fns:dict, rounds:int, warmup:int=1) -> tuple:
    "`(seconds per round, peak bytes)` of each callable, timed one after another in a shuffled order, so no variant always follows the same one."
    for _ in range(warmup):
        for f in fns.values(): f()
    times, peak, order = {k: [] for k in fns}, dict.fromkeys(fns, 0), list(fns)
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        shuffle(order)
        for k in order:
            dt, mem = timed(fns[k])
            times[k].append(dt); peak[k] = max(peak[k], mem)
    return times, peak


def peft_model(base, rank):
    "PEFT's LoRA on the same attention layers, or None when PEFT (the `bench` extra) is not installed."
    try: import peft
    except ImportError:
        print("PEFT is not installed (pip install -e '.[bench]'): its variant is skipped")
        return None
    cfg = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=["attn"])
    return peft.get_peft_model(base, cfg)


DEVICE, PRECISION = torch.device("cpu"), "fp32"


def main(model_name="ViT-B-16", batch=8, rounds=9, rank=8, device="cpu", precision="fp32"):
    global DEVICE, PRECISION
    DEVICE, PRECISION = torch.device(device), precision
    torch.manual_seed(0)
    base = open_clip.create_model(model_name, device=DEVICE)  # fp32 weights; bf16 is autocast's math
    size = base.visual.image_size
    images = torch.randn(batch, 3, *size, device=DEVICE)
    texts = torch.randint(1, 49407, (batch, 77), device=DEVICE)
    loss_fn = ClipLoss()
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"{model_name} {precision} on {where}, batch {batch}, {size[0]} px, r={rank}, {rounds} rounds")

    ours = apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank, targets=("q", "k", "v")))
    ours_plain = apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank, targets=("q", "k", "v")))
    ours_p0 = apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank, dropout=0.0))
    ours_floor = apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank))
    ours_out = apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank, targets=("q", "k", "v", "out")))
    peft_m = peft_model(copy.deepcopy(base), rank)
    full = copy.deepcopy(base)
    for m in (ours, ours_plain, ours_p0, ours_floor, ours_out, peft_m, full):
        if m is not None: m.train()
    variants = {
        "ours q,k,v": lambda: clip_step(ours, get_lora_parameters(ours), images, texts, loss_fn),
        "ours q,k,v, plain ops": lambda: plain_step(ours_plain, get_lora_parameters(ours_plain), images, texts, loss_fn),
        "ours q,k,v, dropout 0": lambda: clip_step(ours_p0, get_lora_parameters(ours_p0), images, texts, loss_fn),
        "floor: ours without LoRA math": lambda: floor_step(ours_floor, get_lora_parameters(ours_floor), images, texts, loss_fn),
        "ours q,k,v,out": lambda: clip_step(ours_out, get_lora_parameters(ours_out), images, texts, loss_fn),
        "PEFT attn (in_proj+out_proj)": lambda: clip_step(peft_m, [p for p in peft_m.parameters() if p.requires_grad],
                                                          images, texts, loss_fn),
        "full fine-tuning": lambda: clip_step(full, list(full.parameters()), images, texts, loss_fn),
        "forward only (base, no grad)": lambda: forward_only(full, images, texts),
    }
    if peft_m is None: del variants["PEFT attn (in_proj+out_proj)"]
    step, peak = round_robin(variants, rounds)
    del peft_m, full, ours_p0, ours_floor, ours_plain
    fastest, step = {k: min(v) for k, v in step.items()}, {k: statistics.median(v) for k, v in step.items()}
    fwd = step["forward only (base, no grad)"]
    print("\ntraining step (median s, fastest round in brackets):")
    for k, v in step.items():
        mem = f"   {peak[k] / 2**30:5.2f} GiB peak above the models" if DEVICE.type == "cuda" else ""
        print(f"  {k:32s} {v:7.3f} s ({fastest[k]:.3f})   {v / fwd:5.2f}x forward-only   {batch / v:7.1f} img/s{mem}")
    if "PEFT attn (in_proj+out_proj)" in step:
        r_peft = step["ours q,k,v,out"] / step["PEFT attn (in_proj+out_proj)"]
        r_peft_qkv = step["ours q,k,v"] / step["PEFT attn (in_proj+out_proj)"]
        print(f"  ours q,k,v / PEFT                     {r_peft_qkv:.3f}   (target <= 0.80)")
        print(f"  ours / PEFT (same layers: q,k,v,out)  {r_peft:.3f}")
    print(f"  ours q,k,v / forward-only             {step['ours q,k,v'] / fwd:.3f}   (target <= 2.1)")
    print(f"  ours / full fine-tuning               {step['ours q,k,v'] / step['full fine-tuning']:.3f}")
    print(f"  LoRA math's share of our step         {1 - step['floor: ours without LoRA math'] / step['ours q,k,v']:+.1%}")
    print(f"  fused op / plain ops                  {step['ours q,k,v'] / step['ours q,k,v, plain ops']:.3f}")

    for m in (base, ours): m.eval()
    randomize_lora_(ours)
    merged = merge_lora(randomize_lora_(apply_lora_to_model(copy.deepcopy(base), LoraConfig(rank=rank))))
    merged.eval()
    enc = round_robin({"base": lambda: encode(base, images), "unmerged": lambda: encode(ours, images),
                       "merged": lambda: encode(merged, images)}, rounds * 2)[0]
    enc = {k: statistics.median(v) for k, v in enc.items()}
    print("\nencode_image throughput (images/s):")
    for k, v in enc.items(): print(f"  {k:10s} {batch / v:7.2f}")
    print(f"  merged / base     {enc['base'] / enc['merged']:.3f}   (target >= 0.99)")
    print(f"  unmerged overhead {enc['unmerged'] / enc['base'] - 1:+.1%}   (target <= 3 %)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-16")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast, as `fit` runs on GPUs")
    a = p.parse_args()
    main(a.model, a.batch, a.rounds, a.rank, a.device, a.precision)
