#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Train a small real Llama on TinyStories for qvk's K-quant comparison.

The one real model in /work/shared/models (stories260K: dim 64, hidden 172)
has no row that is a whole 256-element K-quant super-block, so Q4_K/Q6_K
cannot be compared on it. This script trains a Llama-architecture model
whose every matrix has an input width that is a multiple of 256, on CPU,
deterministically, in a bounded time, and writes it as a llama2.c
checkpoint (qvk reads those; `qvk quantize --format f32` turns it into a
GGUF that llama.cpp runs). It is a test fixture, never shipped.

    /usr/bin/python3 tools/train/train_llama.py [--out DIR] [--steps N]
                                                [--qvk build/qvk]

Needs PyTorch (Debian: apt-get install python3-torch, 1.13) and a built
qvk (its tokenizer gives the token ids). Writes under DIR (default
build/train): model.bin (llama2.c checkpoint), train.txt / heldout.txt
(the split), heldout.ids (held-out token ids, one line), train.log.

Model: dim 256, hidden 512, 2 layers, 8 heads over 4 kv heads (GQA x2),
vocab 512 (tok512.bin, stories260K's tokenizer), seq_len 256; RMSNorm eps
1e-5, RoPE theta 10000 on interleaved pairs (x[2i], x[2i+1]) of each head,
SwiGLU w2(silu(w1 x) * w3 x), classifier shared with the embedding: the
forward pass of llama2.c's run.c, which is what qvk's llama2.c loader
implements.

Data: the training text is tinystories-calib.txt followed by
tinystories-eval.txt up to the first blank line at or after its last
100 000 bytes; the rest of tinystories-eval.txt (about 100 KB) is held
out for perplexity. Training windows are random 255-token slices of the
training stream, each preceded by BOS (as qvk and the comparison script
score windows: BOS, then the text).

Fixed seeds, CPU, float32, torch.use_deterministic_algorithms: the same
command gives the same checkpoint on the same machine and thread count
(--threads, default 2).
"""
import argparse
import math
import os
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ = 256, 512, 2, 8, 4, 512, 256
HELD_OUT_BYTES = 100_000
BOS = 1


def split_text(models):
    with open(os.path.join(models, "tinystories-calib.txt"), "rb") as f:
        calib = f.read()
    with open(os.path.join(models, "tinystories-eval.txt"), "rb") as f:
        ev = f.read()
    cut = ev.find(b"\n\n", len(ev) - HELD_OUT_BYTES)
    if cut < 0:
        sys.exit("train: no blank line in the last 100 KB of tinystories-eval.txt")
    cut += 2
    return calib + b"\n\n" + ev[:cut], ev[cut:]


def tokenize(qvk, tok, path):
    """Token ids of a text file through qvk's own tokenizer (no BOS)."""
    out = subprocess.run([qvk, "tokenize", "-m", tok, "-f", path],
                         check=True, capture_output=True, text=True).stdout
    ids = [int(t) for t in out.split()]
    if not ids or max(ids) >= VOCAB or min(ids) < 0:
        sys.exit("train: qvk tokenize gave ids outside the vocabulary")
    return ids


def rope_tables(head, seq):
    # llama2.c: freq_i = 1 / 10000^(2i/head), angle = pos * freq_i
    freq = 1.0 / (10000.0 ** (torch.arange(0, head, 2, dtype=torch.float32) / head))
    ang = torch.outer(torch.arange(seq, dtype=torch.float32), freq)  # [seq][head/2]
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):
    # x [B][T][H][head]: rotate the interleaved pairs (x[2i], x[2i+1])
    xr, xi = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((xr * c - xi * s, xr * s + xi * c), dim=-1).flatten(-2)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


class Llama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        hd = DIM // HEADS
        kv = KV_HEADS * hd
        P = torch.nn.Parameter
        std = 0.02
        self.emb = P(torch.randn(VOCAB, DIM) * std)
        self.rms_att = P(torch.ones(LAYERS, DIM))
        self.wq = P(torch.randn(LAYERS, DIM, DIM) * std)
        self.wk = P(torch.randn(LAYERS, kv, DIM) * std)
        self.wv = P(torch.randn(LAYERS, kv, DIM) * std)
        # residual projections scaled down by depth, as llama2.c's model.py
        rs = std / math.sqrt(2 * LAYERS)
        self.wo = P(torch.randn(LAYERS, DIM, DIM) * rs)
        self.rms_ffn = P(torch.ones(LAYERS, DIM))
        self.w1 = P(torch.randn(LAYERS, HIDDEN, DIM) * std)
        self.w2 = P(torch.randn(LAYERS, DIM, HIDDEN) * rs)
        self.w3 = P(torch.randn(LAYERS, HIDDEN, DIM) * std)
        self.rms_final = P(torch.ones(DIM))
        cos, sin = rope_tables(hd, SEQ)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids):
        B, T = ids.shape
        hd = DIM // HEADS
        x = self.emb[ids]  # [B][T][DIM]
        mask = torch.full((T, T), float("-inf")).triu(1)
        cos, sin = self.cos[:T], self.sin[:T]
        for l in range(LAYERS):
            h = rmsnorm(x, self.rms_att[l])
            q = (h @ self.wq[l].T).view(B, T, HEADS, hd)
            k = (h @ self.wk[l].T).view(B, T, KV_HEADS, hd)
            v = (h @ self.wv[l].T).view(B, T, KV_HEADS, hd)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            rep = HEADS // KV_HEADS  # query head h reads kv head h / rep
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B][H][T][hd]
            a = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            o = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, DIM)
            x = x + o @ self.wo[l].T
            h = rmsnorm(x, self.rms_ffn[l])
            x = x + (F.silu(h @ self.w1[l].T) * (h @ self.w3[l].T)) @ self.w2[l].T
        return rmsnorm(x, self.rms_final) @ self.emb.T  # [B][T][VOCAB]


def write_llama2c(m, path):
    """llama2.c checkpoint: 7 int32 header, fp32 weights in run.c's order."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("7i", DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ))
        for t in (m.emb, m.rms_att, m.wq, m.wk, m.wv, m.wo, m.rms_ffn,
                  m.w1, m.w2, m.w3, m.rms_final, m.cos, m.sin):
            f.write(t.detach().contiguous().to(torch.float32).numpy().tobytes())
    os.replace(tmp, path)


def main():
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(src, "build", "train"))
    ap.add_argument("--models", default=os.environ.get(
        "QVK_MODELS", os.path.join(src, "..", "shared", "models")))
    ap.add_argument("--qvk", default=os.path.join(src, "build", "qvk"))
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--eval-windows", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)
    os.makedirs(a.out, exist_ok=True)
    tok = os.path.join(a.models, "tok512.bin")

    train_txt, held_txt = split_text(a.models)
    paths = {}
    for name, text in (("train", train_txt), ("heldout", held_txt)):
        paths[name] = os.path.join(a.out, name + ".txt")
        with open(paths[name], "wb") as f:
            f.write(text)
    train_ids = torch.tensor(tokenize(a.qvk, tok, paths["train"]), dtype=torch.long)
    held_ids = tokenize(a.qvk, tok, paths["heldout"])
    with open(os.path.join(a.out, "heldout.ids"), "w") as f:
        f.write(" ".join(map(str, held_ids)) + "\n")

    log = open(os.path.join(a.out, "train.log"), "w")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")

    m = Llama()
    n_par = sum(p.numel() for p in m.parameters())
    say(f"train: {len(train_txt)} bytes = {len(train_ids)} tokens, held out "
        f"{len(held_txt)} bytes = {len(held_ids)} tokens; {n_par} parameters; "
        f"{a.steps} steps of {a.batch} x {SEQ}")
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, betas=(0.9, 0.95),
                            weight_decay=0.1)
    g = torch.Generator().manual_seed(a.seed)
    warm = max(1, a.steps // 20)
    t0 = time.time()
    ema = None
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warm) * \
            (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        start = torch.randint(0, len(train_ids) - SEQ, (a.batch,), generator=g)
        win = torch.stack([train_ids[s:s + SEQ] for s in start.tolist()])  # [B][SEQ]
        inp = torch.cat([torch.full((a.batch, 1), BOS), win[:, :-1]], dim=1)
        loss = F.cross_entropy(m(inp).view(-1, VOCAB), win.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.9 * ema + 0.1 * loss.item()
        if step % 20 == 0 or step == a.steps - 1:
            say(f"step {step:4d}  loss {loss.item():.4f}  (avg {ema:.4f})  "
                f"lr {lr:.2e}  {time.time() - t0:.0f} s")

    # Held-out loss in PyTorch over the first --eval-windows windows the
    # comparison scores (BOS + 255 tokens, consecutive): a check that the
    # checkpoint qvk and llama.cpp read is the model trained here.
    m.eval()
    nll, n = 0.0, 0
    with torch.no_grad():
        ids = torch.tensor(held_ids, dtype=torch.long)
        for k in range(min(a.eval_windows, len(ids) // (SEQ - 1))):
            w = ids[k * (SEQ - 1):(k + 1) * (SEQ - 1)]
            inp = torch.cat([torch.tensor([BOS]), w[:-1]])[None]
            nll += F.cross_entropy(m(inp)[0], w, reduction="sum").item()
            n += len(w)
    say(f"done: {a.steps} steps in {time.time() - t0:.0f} s; final train loss "
        f"(avg of the last steps) {ema:.4f}; held-out loss {nll / n:.4f} = "
        f"perplexity {math.exp(nll / n):.4f} over {n} tokens (PyTorch)")
    write_llama2c(m, os.path.join(a.out, "model.bin"))
    say(f"wrote {os.path.join(a.out, 'model.bin')}")


if __name__ == "__main__":
    main()
