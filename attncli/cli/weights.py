"""`--weights FILE`: find W_Q, W_K, W_V, W_O and biases in one .safetensors/.npz/.json by name.

Recognized names (case-insensitive; a prefix such as `layer0.attn.` is allowed when unique):
  attncli's own: wq wk wv wo bq bk bv bo (also w_q, W_Q, ...), in the --weights-layout orientation;
  PyTorch nn.MultiheadAttention: in_proj_weight (3E × E, split into W_Q, W_K, W_V), in_proj_bias,
    q_proj_weight / k_proj_weight / v_proj_weight (when kdim/vdim differ), out_proj.weight, out_proj.bias;
  Linear layers: q_proj / k_proj / v_proj / o_proj or out_proj, and query / key / value (.weight/.bias).
PyTorch names are always read as (out, in), the Linear.weight orientation.
"""

from __future__ import annotations

import re

import numpy as np

from attncli.errors import AttnError

ROLES = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo")
# role -> suffixes stored in PyTorch's (out, in) orientation
TORCH_NAMES = {
    "wq": ("q_proj_weight", "q_proj.weight", "query.weight"),
    "wk": ("k_proj_weight", "k_proj.weight", "key.weight"),
    "wv": ("v_proj_weight", "v_proj.weight", "value.weight"),
    "wo": ("out_proj.weight", "o_proj.weight"),
    "bq": ("q_proj.bias", "query.bias"),
    "bk": ("k_proj.bias", "key.bias"),
    "bv": ("v_proj.bias", "value.bias"),
    "bo": ("out_proj.bias", "o_proj.bias"),
}


def _plain(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _find(keys: list[str], suffix: str, source: str, *, plain: bool = False) -> str | None:
    if plain:
        hits = [k for k in keys if _plain(k.rsplit(".", 1)[-1]) == suffix]
    else:
        hits = [k for k in keys if k.lower() == suffix or k.lower().endswith("." + suffix)]
    if len(hits) > 1:
        raise AttnError(f"--weights: {source} has several tensors named like {suffix!r} "
                        f"({', '.join(hits[:4])}); pass them one by one with --wq/--wk/... instead")
    return hits[0] if hits else None


def weights_from_file(arrays: dict[str, np.ndarray], source: str) -> tuple[dict[str, np.ndarray], set[str]]:
    """Map a file's arrays to roles. Returns (role -> array, roles stored in PyTorch (out, in) order)."""
    keys = list(arrays)
    found: dict[str, np.ndarray] = {}
    torch_roles: set[str] = set()
    in_proj = _find(keys, "in_proj_weight", source)
    if in_proj is not None:
        w = arrays[in_proj]
        if w.ndim != 2 or w.shape[0] % 3:
            raise AttnError(f"--weights: {in_proj} should be 3E × E; got shape {w.shape}")
        found["wq"], found["wk"], found["wv"] = np.split(w, 3, axis=0)
        torch_roles |= {"wq", "wk", "wv"}
        b_name = _find(keys, "in_proj_bias", source)
        if b_name is not None:
            found["bq"], found["bk"], found["bv"] = np.split(arrays[b_name].reshape(-1), 3)
    for role, suffixes in TORCH_NAMES.items():
        for suffix in suffixes:
            name = _find(keys, suffix, source)
            if name is not None and role not in found:
                found[role] = arrays[name]
                if role.startswith("w"):
                    torch_roles.add(role)
    for role in ROLES:
        if role in found:
            continue
        name = _find(keys, role, source, plain=True)
        if name is not None:
            found[role] = arrays[name]
    used = {id(a) for a in found.values()}
    unused = [k for k in keys if id(arrays[k]) not in used and getattr(arrays[k], "ndim", 0) == 2]
    if in_proj is not None:
        unused = [k for k in unused if k != in_proj]
    if "wo" not in found and unused and any(r in found for r in ("wq", "wk", "wv")):
        shown = ", ".join(f"{k} {tuple(arrays[k].shape)}" for k in unused[:4])
        raise AttnError(f"--weights: {source} has W_Q/W_K/W_V but no output projection attncli recognizes "
                        f"(o_proj, out_proj, wo), and it also holds {shown}{' ...' if len(unused) > 4 else ''}; "
                        f"if one is W_O, give it with --wo {source}:NAME (a *.weight is read as out × in); if the "
                        "file has none, give the projections with --wq/--wk/--wv instead of --weights")
    if not any(r in found for r in ("wq", "wk", "wv", "wo")):
        raise AttnError(f"--weights: found no projection weights in {source}; it holds "
                        f"{', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}; expected wq, wk, wv "
                        "(and wo, bq, ...) or a PyTorch nn.MultiheadAttention state_dict")
    return found, torch_roles
