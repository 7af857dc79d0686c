"""Train samples/tiny_gpt: a 2-layer GPT-2 with a previous-token head and an induction head (issue 13).

How to run (from the repository root; PyTorch and transformers are NOT attncli dependencies, so they live in a
separate virtual environment, as for tests/golden/models/generate.py):

    python -m venv /path/to/torch-venv
    /path/to/torch-venv/bin/pip install torch==2.13.0 transformers==5.24.0 tokenizers==0.23.3 safetensors numpy
    /path/to/torch-venv/bin/python samples/tiny_gpt/train.py

Made with torch 2.13.0 (CPU), transformers 5.24.0, tokenizers 0.23.3, safetensors 0.8.0, numpy 2.4.6, in about
90 s of CPU. It runs on one thread with fixed seeds: the same versions give the same bytes.

The corpus is the classic induction-head setup, drawn afresh for every batch from 50 short words: a row is a few
random words (noise), then a segment of random words repeated to the end of the row ("cat red sun | key map jar
key map jar key map ..."). The noise and the segment cannot be predicted (loss ≈ ln 50 ≈ 3.9); the repeats can,
by a two-step circuit: a layer-0 head attends to the previous token and copies it into each position
(previous-token head); a layer-1 head then finds the earlier position whose previous token is the current word,
which is the word that followed it last time, and reads that word (induction head). Two things make the heads form
within a few hundred steps: short rows first (32 words, segments of 3 … 10; the time the heads take grows with the
row length), then rows up to n_positions = 64; and segments repeated until the row is full, not just twice, so
that most targets reward induction. Training segments draw their words with replacement (see make_row).

The script prints the loss on the first copy and on the repeats as it trains, then measures both heads with the
model's own attentions (output_attentions, eager) on 256 held-out rows of noise + a segment of distinct words +
its repeat, and exits non-zero unless some layer-0 head scores > 0.5 and some layer-1 head > 0.4:

    previous-token score of a layer-0 head = mean over queries i ≥ 1 of a[i, i−1]
    induction score of a layer-1 head      = mean over the second copy's queries i = s+L+j of a[i, s+j+1]
                                             (s = where the first copy starts, L its length, j = 0 … L−1)

It writes, into samples/tiny_gpt/:

  config.json, model.safetensors  GPT2LMHeadModel.save_pretrained (tensor names `transformer.…`, lm_head tied
                                  to the word embeddings, float32, 0.4 MB)
  tokenizer.json                  word level: `<unk>` = 0, then WORDS; whitespace pre-tokenizer; nothing added
                                  around the text (as GPT-2)
  corpus.txt                      five held-out rows (a segment of 6 … 10 distinct words no training row had,
                                  and its repeat), one a line, for the README
  README.md                       what the sample is and the numbers this script printed
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

HERE = Path(__file__).resolve().parent
TORCH_VERSION, TRANSFORMERS_VERSION = "2.13.0", "5.24.0"
SEED = 1313

# 50 short words; the model sees them only as symbols (every row draws them at random).
WORDS = ("cat dog fox owl bee ant cow pig hen elk yak ram "
         "red blue green gold pink gray "
         "cup pen box hat key map jar bag net pot rug mug "
         "sun moon star rain snow wind tree leaf rock sand lake hill "
         "bell coin drum kite lamp ring ship door").split()
UNK = "<unk>"

N_POSITIONS, BATCH, LR, WARMUP = 64, 32, 1e-3, 200
# (steps, row lengths, noise words, segment lengths): short rows first, where the two heads form within a few
# hundred steps (the time they take grows with the row length), then rows as long as n_positions.
PHASES = ((1500, (32, 32), (0, 4), (3, 10)),
          (1500, (32, N_POSITIONS), (0, 8), (3, 16)))
STEPS = sum(p[0] for p in PHASES)
HELD_OUT = ((0, 8), (4, 16))  # noise words and segment lengths of the held-out rows (two copies each)
PREV_MIN, INDUCTION_MIN = 0.5, 0.4  # the scores the script insists on
CORPUS_LINES, CORPUS_SEGMENT = 5, (6, 10)


def check_versions() -> None:
    if torch.__version__.split("+")[0] != TORCH_VERSION or transformers.__version__ != TRANSFORMERS_VERSION:
        print(f"note: made with torch {TORCH_VERSION} and transformers {TRANSFORMERS_VERSION}; found "
              f"{torch.__version__}, {transformers.__version__}: the weights will differ (the heads should not)")


def make_tokenizer() -> Tokenizer:
    """Word level: `<unk>` = 0, then WORDS (ids 1 … 50); whitespace splits; no special tokens added."""
    vocab = {w: i for i, w in enumerate([UNK, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([UNK])
    return tok


def make_row(rng: random.Random, noise: int, length: int, n: int | None) -> list[int]:
    """Word ids: `noise` random words, then a segment of `length` random words repeated to fill `n` words.

    n = None (held-out rows): the segment's words are distinct (each has one earlier occurrence for induction to
    find) and it comes twice. Training segments draw their words with replacement: with distinct words in every
    segment the model can learn a shortcut instead of the two heads (the next word is the one seen longest ago)."""
    row = [rng.randrange(1, len(WORDS) + 1) for _ in range(noise)]
    if n is None:
        seg = rng.sample(range(1, len(WORDS) + 1), length)
        return row + seg + seg
    seg = [rng.randrange(1, len(WORDS) + 1) for _ in range(length)]
    while len(row) < n:
        row += seg
    return row[:n]


def make_batch(rng: random.Random, lengths: tuple[int, int], noise: tuple[int, int], segment: tuple[int, int],
               seen: set[tuple[int, ...]] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch: ids (B, n), and the masks (B, n−1) of the targets in the first copy (its words 2 … L)
    and in the repeats (every word from the second copy's second word on).

    Every row of the batch has the same length n (no padding) but its own noise and segment lengths."""
    n = rng.randint(*lengths)
    ids, first, repeat = [], [], []
    for _ in range(BATCH):
        s, length = rng.randint(*noise), rng.randint(*segment)
        row = make_row(rng, s, length, n)
        if seen is not None:
            seen.add(tuple(row[s: s + length]))
        t = torch.arange(1, n)  # target positions
        ids.append(row)
        first.append((t > s) & (t < s + length))
        repeat.append(t > s + length)
    return torch.tensor(ids), torch.stack(first), torch.stack(repeat)


def nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Next-token loss of every target, (B, n−1)."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, n−1, V): the prediction of token t+1
    return -logp.gather(-1, ids[:, 1:, None])[..., 0]  # (B, n−1)


def head_scores(att: tuple[torch.Tensor, ...], start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Previous-token scores of layer 0's heads and induction scores of layer 1's heads, each (H,), of rows whose
    first copy starts at `start` and whose second copy follows it. att: one (B, H, n, n) per layer."""
    a0, a1 = att[0].double(), att[1].double()  # (B, H, n, n)
    i = torch.arange(1, a0.shape[-1])
    prev = a0[:, :, i, i - 1].mean(dim=(0, 2))  # (H,): a[i, i−1]
    j = torch.arange(length)
    ind = a1[:, :, start + length + j, start + j + 1].mean(dim=(0, 2))  # (H,): a[s+L+j, s+j+1]
    return prev.numpy(), ind.numpy()


def train(model: transformers.GPT2LMHeadModel, rng: random.Random, seen: set[tuple[int, ...]]) -> float:
    """Train through PHASES; print the losses on the first copy and on the repeats. Returns the CPU seconds."""
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP))  # warm-up, then LR
    t0 = time.process_time()
    model.train()
    step, log = 0, []
    for steps, lengths, noise, segment in PHASES:
        for _ in range(steps):
            step += 1
            ids, first, repeat = make_batch(rng, lengths, noise, segment, seen)
            losses = nll(model(input_ids=ids).logits, ids)  # (B, n−1)
            loss = losses.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            log.append((losses[first].mean().item(), losses[repeat].mean().item()))
            if step % 250 == 0:
                f, r = np.mean(log, axis=0)
                print(f"step {step:5d}  loss: first copy {f:.3f}  repeats {r:.3f}  "
                      f"({time.process_time() - t0:.0f} s CPU)", flush=True)
                log = []
    return time.process_time() - t0


def evaluate(model: transformers.GPT2LMHeadModel, rows: list[tuple[list[int], int, int]]
             ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Mean losses on the first copy (words 2 … L) and the second (words 2 … L), and the mean head scores, of
    two-copy rows (ids, start, L), one at a time."""
    firsts, seconds, prevs, inds = [], [], [], []
    with torch.no_grad():
        for row, s, length in rows:
            ids = torch.tensor([row])
            out = model(input_ids=ids, output_attentions=True)
            losses = nll(out.logits, ids)[0]  # (n−1,): index t predicts token t+1
            firsts.append(losses[s: s + length - 1].mean().item())
            seconds.append(losses[s + length: s + 2 * length - 1].mean().item())
            p, i = head_scores(out.attentions, s, length)
            prevs.append(p)
            inds.append(i)
    return float(np.mean(firsts)), float(np.mean(seconds)), np.mean(prevs, axis=0), np.mean(inds, axis=0)


def main() -> None:
    check_versions()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    tok = make_tokenizer()
    config = transformers.GPT2Config(
        vocab_size=tok.get_vocab_size(), n_positions=N_POSITIONS, n_embd=64, n_layer=2, n_head=4, n_inner=256,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=None, eos_token_id=None, pad_token_id=None, tie_word_embeddings=True)
    config._attn_implementation = "eager"  # attentions as transformers' reference path computes them
    model = transformers.GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"GPT-2: 2 layers × 4 heads, d = 64, vocabulary {config.vocab_size}, {n_params:,} parameters")

    seen: set[tuple[int, ...]] = set()
    cpu = train(model, random.Random(SEED), seen)
    model.eval()

    # held out: two copies (training rows repeat the segment to the end of the row), from another seed
    held = random.Random(SEED + 1)
    rows = []
    for _ in range(256):
        s, length = held.randint(*HELD_OUT[0]), held.randint(*HELD_OUT[1])
        rows.append((make_row(held, s, length, None), s, length))
    first, second, prev, ind = evaluate(model, rows)
    print(f"\ntrained in {cpu:.0f} s CPU ({STEPS} steps of {BATCH} rows)")
    print(f"held-out loss (256 rows, a segment of {HELD_OUT[1][0]}-{HELD_OUT[1][1]} words and its repeat): "
          f"first copy {first:.3f} (ln {len(WORDS)} = {math.log(len(WORDS)):.3f}), repeat {second:.3f}")
    print("previous-token score, layer 0 heads:", "  ".join(f"{h}: {v:.3f}" for h, v in enumerate(prev)))
    print("induction score,      layer 1 heads:", "  ".join(f"{h}: {v:.3f}" for h, v in enumerate(ind)))
    h_prev, h_ind = int(np.argmax(prev)), int(np.argmax(ind))
    if prev[h_prev] < PREV_MIN or ind[h_ind] < INDUCTION_MIN:
        sys.exit(f"FAILED: best previous-token score {prev[h_prev]:.3f} (needs {PREV_MIN}), best induction score "
                 f"{ind[h_ind]:.3f} (needs {INDUCTION_MIN}); train longer or tune")

    # corpus.txt: held-out rows (a segment no training row had) and its repeat, no noise: small maps to look at
    lines = []
    while len(lines) < CORPUS_LINES:
        row = make_row(held, 0, held.randint(*CORPUS_SEGMENT), None)
        if tuple(row[: len(row) // 2]) not in seen:
            lines.append(" ".join(WORDS[t - 1] for t in row))
    print(f"corpus.txt: previous-token (layer 0 head {h_prev}), induction (layer 1 head {h_ind}), text")
    for line in lines:
        ids = tok.encode(line).ids
        assert len(ids) % 2 == 0 and tok.get_vocab()[UNK] not in ids
        _, _, p, i = evaluate(model, [(ids, 0, len(ids) // 2)])
        print(f"  {p[h_prev]:.3f}  {i[h_ind]:.3f}  {line}")

    model.save_pretrained(HERE, safe_serialization=True)
    (HERE / "generation_config.json").unlink(missing_ok=True)  # save_pretrained's defaults: not part of the sample
    tok.save(str(HERE / "tokenizer.json"))
    (HERE / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_readme(n_params, cpu, first, second, prev, ind, h_prev, h_ind, lines[0])
    print(f"\nwrote config.json, model.safetensors, tokenizer.json, corpus.txt and README.md into {HERE}")


def write_readme(n_params: int, cpu: float, first: float, second: float, prev: np.ndarray, ind: np.ndarray,
                 h_prev: int, h_ind: int, line: str) -> None:
    def others(scores: np.ndarray, best: int) -> str:
        return ", ".join(f"{v:.2f}" for h, v in enumerate(scores) if h != best)

    lines = [
        "# tiny_gpt: a previous-token head and an induction head",
        "",
        f"A 2-layer, 4-head GPT-2 (d = 64, {n_params:,} parameters; word-level vocabulary: {len(WORDS)} words + "
        f"`<unk>`) trained by",
        f"`train.py` ({STEPS} steps, {cpu:.0f} s of CPU, PyTorch in its own venv) on rows of random words in which a "
        "segment repeats.",
        f"On 256 held-out rows (a segment and its repeat) the first copy cannot be predicted (loss {first:.2f}; "
        f"ln {len(WORDS)} = {math.log(len(WORDS)):.2f})",
        f"and the repeat can (loss {second:.2f}), by two heads:",
        "",
        f"- layer 0 head {h_prev} attends to the previous token: mean a[i, i−1] = {prev[h_prev]:.2f} "
        f"(other layer-0 heads: {others(prev, h_prev)});",
        f"- layer 1 head {h_ind} is an induction head: from a word's second copy it attends to the word that followed "
        "its first",
        f"  copy, mean weight {ind[h_ind]:.2f} (other layer-1 heads: {others(ind, h_ind)}).",
        "",
        f"`corpus.txt` holds five held-out rows, e.g. `attncli model samples/tiny_gpt --text \"{line}\" -o view.png`.",
    ]
    (HERE / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
