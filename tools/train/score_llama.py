#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Perplexity and KL of GGUF files as llama.cpp computes them.

    score_llama.py ORACLE IDS_FILE WINDOWS REF.gguf [NAME=FILE.gguf ...]

For each file, llama.cpp (tools/oracle's llama-oracle, the prebuilt
libllama) computes the logits of the same WINDOWS consecutive windows of
the held-out ids (IDS_FILE: ids on one line), each window BOS followed by
255 ids, the cache cleared between windows; the log-likelihood of every id
of the window (the first predicted from BOS) gives the perplexity, and the
mean KL(REF || file) over the same positions compares each file with
REF's (the float model's) distributions. Prints one line per file:
NAME ppl KL top1 positions.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

BOS, CTX = 1, 256


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def window_logits(oracle, model, ids, tmp):
    out = os.path.join(tmp, "logits.f32")
    subprocess.run([oracle, "logits", model, out] + [str(i) for i in ids],
                   check=True, stdout=subprocess.DEVNULL)
    z = np.fromfile(out, dtype=np.float32)
    if z.size % len(ids) or not np.isfinite(z).all():
        sys.exit(f"score: {model}: logits are not {len(ids)} finite rows")
    return z.reshape(len(ids), -1).astype(np.float64)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    oracle, ids_file, n_win, ref = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    files = [("f32", ref)] + [tuple(a.split("=", 1)) for a in sys.argv[5:]]
    with open(ids_file) as f:
        held = [int(t) for t in f.read().split()]
    step = CTX - 1
    if n_win * step > len(held):
        sys.exit(f"score: {ids_file} holds {len(held)} ids, fewer than {n_win} windows")
    wins = [held[k * step:(k + 1) * step] for k in range(n_win)]
    with tempfile.TemporaryDirectory() as tmp:
        ref_lp = [log_softmax(window_logits(oracle, ref, [BOS] + w, tmp)[:step])
                  for w in wins]
        for name, path in files:
            nll, kl, top1, n = 0.0, 0.0, 0, 0
            for w, rl in zip(wins, ref_lp):
                lp = rl if path == ref else log_softmax(
                    window_logits(oracle, path, [BOS] + w, tmp)[:step])
                tgt = np.array(w)
                nll -= lp[np.arange(step), tgt].sum()
                kl += (np.exp(rl) * (rl - lp)).sum()
                top1 += int((lp.argmax(-1) == rl.argmax(-1)).sum())
                n += step
            print(f"{name} {np.exp(nll / n):.6f} {kl / n:.7f} {top1 / n:.4f} {n}",
                  flush=True)


if __name__ == "__main__":
    main()
