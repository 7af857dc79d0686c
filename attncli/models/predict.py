"""What the model predicts: its head over the last hidden state, a block of positions at a time.

    causal LM (gpt2, llama, ...):   logits = h_L · W_outᵀ (+ b)                      next-token distribution
    masked LM (bert, roberta, ...): logits = LayerNorm(act(h_L · W_d + b_d)) · W_outᵀ + b  fillers of each mask
    then, when config.json has them:  logits / logits_scaling (Granite);  c·tanh(logits / c) with
    c = final_logit_softcapping (Gemma 2/3)
    p = softmax(logits);  loss = mean over i < n−1 of −ln p_i(id_{i+1}) (nats);  perplexity = e^loss

W_out is the family's `lm_head` tensor, or the word embeddings when config.json ties them
(`tie_word_embeddings`; absent: the family's config class default) — unless the file holds an `lm_head` tensor
that differs from them, which transformers 5 then keeps (it ties only equal tensors, with a warning): decided
from config.json and the file, never guessed — a head whose tensors are not in the file (a checkpoint saved
from a base class such as BertModel or LlamaModel) is one line saying so. The family's `lm_*` fields
(models/family.py) name the tensors, as transformers' *ForCausalLM / *ForMaskedLM classes hold them.

Logits are made for a block of positions at a time, (rows, vocabulary) within BLOCK_BYTES, reduced to each
position's top k, log-sum-exp and the probability of the next token, and dropped: the whole (n, vocabulary)
array exists only when it is asked for (`keep`), after a check against the memory budget (io/memory.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from attncli.errors import AttnError, param
from attncli.models import rules
from attncli.models.checkpoint import OPTION, Checkpoint
from attncli.models.family import Honoured
from attncli.models.ops import ACTIVATIONS, layer_norm_
from attncli.models.weights import Shapes

BLOCK_BYTES = 64 * 1024**2  # one block of logits (rows × vocabulary) and its work arrays
WORK_BYTES = 8  # per logit, besides the logits and two arrays like them: argpartition's int64 indices
MASK_TOKENS = ("[MASK]", "<mask>")  # the mask token of BERT-style and RoBERTa-style vocabularies


@dataclass
class Head:
    weight: np.ndarray  # (V, d): as stored (out × in; the embeddings when tied)
    bias: np.ndarray | None  # (V,)
    transform: tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None] | None  # W (d, d) in × out, b,
    # then the norm's weight and bias: an MLM head's LayerNorm(act(h·W + b))
    act: object  # the transform's activation (in place on rows)
    eps: float
    scaling: float | None  # logits divided by it (Granite's logits_scaling)
    cap: float | None  # c·tanh(logits / c) (final_logit_softcapping)
    masked: bool  # an MLM head (fills masks) rather than a next-token head
    source: str = ""  # where the output weight came from: its tensor, or the word embeddings (tied)


@dataclass
class Predictions:
    top_ids: np.ndarray  # (B, n, k) int64, best first (−1 at padded positions)
    top_p: np.ndarray  # (B, n, k) their probabilities (nan at padded positions)
    p_next: np.ndarray  # (B, n): p of the token that follows (causal; nan at each text's last and padded
    # positions, and everywhere for an MLM head)
    loss: np.ndarray  # (B,): mean −ln p_next over each text's positions (nan: an MLM head, or one token)
    logits: np.ndarray | None  # (B, n, V) when kept
    masked: bool  # from an MLM head: the fillers of masks (no next token, no loss)


def _tied(ckpt: Checkpoint) -> bool:
    """tie_word_embeddings from config.json, else the family's config class default (its Honoured entry)."""
    fam = ckpt.family
    if fam.lm_tied_always:
        return True
    value = (_outer(ckpt) if fam.lm_tie_outer else ckpt.config).get("tie_word_embeddings")
    if value is None:
        value = fam.default("tie_word_embeddings")
    if not isinstance(value, bool):
        shown = "has none" if value is None else f"sets it to {value!r}"
        raise AttnError(f"{OPTION}: config.json {shown} for tie_word_embeddings, and attncli does not know the "
                        f"{fam.name} config class's default: it cannot tell whether the output weight is the word "
                        "embeddings; set tie_word_embeddings (true or false) in config.json")
    return value


def _outer(ckpt: Checkpoint) -> dict:
    """config.json as written (its top level, when the pass reads a text_config inside it)."""
    from attncli.models.checkpoint import _read_json

    config = _read_json(ckpt.folder / "config.json", "config.json")
    return config if isinstance(config, dict) else {}


def head_of(ckpt: Checkpoint, s: Shapes, dtype: np.dtype) -> Head:
    """The checkpoint's LM or MLM head, its tensors read and checked, or one line saying it has none."""
    from attncli.models.factorized import embedding_width
    from attncli.models.projections import word_width

    ckpt = _head_family(ckpt)
    fam = ckpt.family
    kind = "masked-LM" if not fam.causal else "LM"
    top = dataclasses.replace(ckpt, prefix="")  # the head's tensors sit beside the base model's prefix
    if fam.lm_head is None:
        raise AttnError(f"{OPTION}: attncli reads no {kind} head for a {fam.name} model yet; the maps and hidden "
                        "states are computed, predictions are not")
    for key in fam.lm_unread:
        value = rules.lookup(ckpt.config, key)
        if value is not rules.MISSING and value is not None:
            raise AttnError(f"{OPTION}: config.json sets {key} to {value!r}, which transformers' {fam.name} head "
                            "class does not apply (its text-only class would): attncli stops rather than choose; "
                            f"set {key} to null for the {fam.name} class's logits")
    tied = _tied(ckpt)
    out_name = next((n for n in (fam.lm_head, *fam.lm_head_alt) if top.has(n)), fam.lm_head)
    needed = [fam.lm_transform[0] + ".weight"] if fam.lm_transform is not None else []
    needed += [] if tied else [out_name]
    out_bias = fam.lm_bias if ckpt.flag(fam.lm_out_bias) else ()
    needed += [out_bias[0]] if out_bias and not any(top.has(n) for n in out_bias) else []
    absent = [" or ".join((fam.lm_head, *fam.lm_head_alt)) if n == out_name else n for n in needed if not top.has(n)]
    if absent:
        arch = ckpt.config.get("architectures") or (_outer(ckpt).get("architectures") if fam.text_config else None)
        saved = f" ({', '.join(map(str, arch))})" if isinstance(arch, list) and arch else ""
        other = next((what for name, what in fam.lm_instead if top.has(name) or ckpt.has(name)), None)
        if other is not None:
            raise AttnError(f"{OPTION}: this {fam.name} checkpoint is {other}; attncli computes its maps and "
                            f"hidden states, not predictions ({', '.join(absent)} not in the file)")
        raise AttnError(f"{OPTION}: this {fam.name} checkpoint has no {kind} head ({', '.join(absent)} not in the "
                        f"file{'' if tied else '; config.json says tie_word_embeddings false'}): it was saved from "
                        f"a base class{saved}, which computes hidden states but predicts no tokens; give a "
                        "checkpoint saved with its head (*ForCausalLM, *LMHeadModel, *ForMaskedLM)")
    # what the output weight reads: the word embeddings' width (ELECTRA's and ALBERT's embedding_size, OPT's
    # word_embed_proj_dim: the last state comes through project_out), else the hidden size
    width = word_width(ckpt, embedding_width(ckpt, s))
    word = ckpt.tensor(fam.word)
    weight = word if tied else top.tensor(out_name, (s.vocab, width))
    kept = tied and not fam.lm_tied_always and top.has(out_name)  # tied, but the file holds the output weight too
    if kept and not np.array_equal(own := top.tensor(out_name, tuple(word.shape)), word):
        weight, tied = own, False  # transformers ties only equal tensors: it keeps the file's, with a warning
    bias_name = next((n for n in out_bias if top.has(n)), None)
    bias = None if bias_name is None else top.tensor(bias_name, (weight.shape[0],)).astype(dtype)
    transform, act = None, None
    if fam.lm_transform is not None:
        dense, nw, nb = fam.lm_transform
        w = top.tensor(dense + ".weight", (width, s.hidden)).astype(dtype).T  # (in, out): (d, e)
        has_b = ckpt.flag(fam.lm_dense_bias) and top.has(dense + ".bias")
        b = top.tensor(dense + ".bias", (width,)).astype(dtype) if has_b else None
        transform = (w, b, top.tensor(nw, (width,)).astype(dtype),
                     top.tensor(nb, (width,)).astype(dtype) if ckpt.flag(fam.norm_bias) and top.has(nb) else None)
        name = _head_act(ckpt)
        if name not in ACTIVATIONS:
            raise AttnError(f"{OPTION}: the {kind} head's activation {name!r} is not supported; supported: "
                            f"{', '.join(ACTIVATIONS)}")
        act = ACTIVATIONS[name]
    source = (f"{ckpt.prefix}{fam.word} (tie_word_embeddings)" if tied else out_name + (
        " (in the file, unlike the word embeddings it is tied to: transformers does not tie them)" if kept else
        "")) + (
        f" + {bias_name}" if bias_name else "")
    return Head(weight.astype(dtype, copy=False), bias, transform, act, s.eps,
                _positive(ckpt, "logits_scaling"), _positive(ckpt, "final_logit_softcapping"), not fam.causal,
                source)


def _head_family(ckpt: Checkpoint) -> Checkpoint:
    """The checkpoint with its family's head fields as config.json selects them (Family.lm_switch)."""
    fam = ckpt.family
    if fam.lm_switch is None:
        return ckpt
    key, value, fields = fam.lm_switch
    given = rules.lookup(ckpt.config, key)
    given = fam.default(key) if given is rules.MISSING or given is None else given
    return dataclasses.replace(ckpt, family=dataclasses.replace(fam, **fields)) if given == value else ckpt


def _head_act(ckpt: Checkpoint) -> str:
    """The MLM head's activation: the family's lm_act_key in config.json (its Honoured default when absent), else
    its fixed lm_act, else the MLP's activation."""
    fam = ckpt.family
    if fam.lm_act_key is not None:
        value = ckpt.config.get(fam.lm_act_key)
        return value if value is not None else fam.default(fam.lm_act_key)
    return fam.lm_act or (ckpt.config.get(fam.act_key, fam.act) if fam.act_key else fam.act)


def _positive(ckpt: Checkpoint, key: str) -> float | None:
    """A positive number config.json may give for the logits (None: absent or null, or a key the family's config
    class does not read: transformers ignores it there, so does attncli); anything else refused."""
    if not any(isinstance(k, Honoured) and k.key == key for k in ckpt.family.config):
        return None
    value = rules.lookup(ckpt.config, key)
    if value is rules.MISSING or value is None:
        return None
    if not (rules.is_number(value) and value > 0):
        raise AttnError(f"{OPTION}: config.json sets {key} to {value!r}; attncli reads it as a positive number")
    return float(value)


def logits_of(head: Head, h: np.ndarray) -> np.ndarray:
    """Logits (r, V) of hidden-state rows h (r, d), in h's dtype."""
    if head.transform is not None:
        w, b, nw, nb = head.transform
        h = h @ w  # (r, d)
        if b is not None:
            h += b
        h = head.act(h)
        layer_norm_(h, nw, nb, head.eps)
    z = h @ head.weight.T  # (r, d) @ (d, V) -> (r, V)
    if head.bias is not None:
        z += head.bias
    if head.scaling is not None:
        z /= z.dtype.type(head.scaling)
    if head.cap is not None:
        c = z.dtype.type(head.cap)
        z /= c
        np.tanh(z, out=z)
        z *= c
    return z


def block_bytes(rows: int, vocab: int, itemsize: int) -> int:
    """Bytes a block of `rows` positions takes: its logits, two arrays like them and argpartition's indices."""
    return rows * vocab * (3 * itemsize + WORK_BYTES)


def block_rows(vocab: int, itemsize: int) -> int:
    """Positions per block: a (rows, vocabulary) block of logits and its work arrays within BLOCK_BYTES."""
    return max(1, BLOCK_BYTES // block_bytes(1, max(1, vocab), itemsize))


def predict(head: Head, last: np.ndarray, ids: np.ndarray, lens: list[int], k: int, keep: bool) -> Predictions:
    """Top-k next tokens (or fillers), the probability of each actual next token and each text's loss, from
    the last hidden state (B, n, d) over token ids (B, n) of valid lengths `lens`; the logits (B, n, V) if
    `keep`."""
    from attncli.io.memory import check_allocation

    B, n, d = last.shape
    V = head.weight.shape[0]
    k = min(k, V)
    item = last.dtype.itemsize
    rows = block_rows(V, item)
    check_allocation(block_bytes(min(rows, B * n), V, item), f"the logits of {min(rows, B * n)} position(s) over a "
                     f"vocabulary of {V}", option=param("show"))
    logits = None
    if keep:
        check_allocation(B * n * V * item, f"the logits of {B} × {n} positions over a vocabulary of {V}",
                         [f"{param('show')} predictions without logits"], option=param("show"))
        logits = np.empty((B, n, V), dtype=last.dtype)
    valid = np.arange(n)[None, :] < np.asarray(lens)[:, None]  # (B, n)
    top_ids = np.full((B, n, k), -1, dtype=np.int64)
    top_p = np.full((B, n, k), np.nan, dtype=last.dtype)
    nll = np.full((B, n), np.nan, dtype=np.float64)  # −ln p of the next token
    flat = last.reshape(B * n, d)
    targets = np.full(B * n, -1, dtype=np.int64)  # the id that follows each position (causal), −1: none
    if not head.masked:
        nxt = np.concatenate([ids[:, 1:], np.full((B, 1), -1)], axis=1)  # (B, n)
        nxt[~np.concatenate([valid[:, 1:], np.zeros((B, 1), dtype=bool)], axis=1)] = -1
        targets = nxt.reshape(-1)
    positions = np.flatnonzero(valid.reshape(-1))
    for r0 in range(0, positions.size, rows):
        at = positions[r0: r0 + rows]  # flat positions of this block
        z = logits_of(head, flat[at].copy())  # (r, V)
        if logits is not None:
            logits.reshape(B * n, V)[at] = z
        top, p, nl = _reduce(z, k, targets[at])
        top_ids.reshape(B * n, k)[at], top_p.reshape(B * n, k)[at], nll.reshape(-1)[at] = top, p, nl
    loss = np.full(B, np.nan)
    if not head.masked:
        for b, lb in enumerate(lens):
            if lb > 1:
                loss[b] = float(nll[b, : lb - 1].mean())
    return Predictions(top_ids, top_p, np.exp(-nll), loss, logits, head.masked)


def _reduce(z: np.ndarray, k: int, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of a block of logits z (r, V): the top k ids (r, k), best first (ties: the lower id first), their
    probabilities, and −ln p of each row's target id (r,) (nan where it is −1). The log-sum-exp is taken over
    z − max in z's dtype and summed in float64."""
    r, V = z.shape
    m = z.max(axis=1, keepdims=True)  # (r, 1)
    e = np.subtract(z, m)  # (r, V)
    lse = m[:, 0].astype(np.float64) + np.log(np.exp(e, out=e).sum(axis=1, dtype=np.float64))  # (r,)
    del e
    part = np.argpartition(z, V - k, axis=1)[:, V - k:] if k < V else np.tile(np.arange(V), (r, 1))  # (r, k)
    vals = np.take_along_axis(z, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)  # by value descending, then id
    top = np.take_along_axis(part, order, axis=1)
    p = np.exp(np.take_along_axis(z, top, axis=1).astype(np.float64) - lse[:, None]).astype(z.dtype)
    has = targets >= 0
    nll = np.full(r, np.nan)
    nll[has] = lse[has] - z[np.flatnonzero(has), targets[has]].astype(np.float64)
    return top, p, nll


def mask_positions(tokens: list[str], special: list[bool] | None) -> list[int]:
    """Positions of the mask token ([MASK] or <mask>) in one text's raw tokens (special tokens only, when the
    tokenizer says which are)."""
    return [i for i, t in enumerate(tokens) if t in MASK_TOKENS and (special is None or special[i])]
