"""The parts of a layer some families have in place of the plain ones, as data a Family holds (family.py): a
mixture of experts instead of the MLP (models/moe.py computes it) and DeBERTa's relative positions beside the
attention (models/relative.py reads them)."""

from __future__ import annotations

from dataclasses import dataclass

from attncli.models import rules


@dataclass(frozen=True)
class Moe:
    """A mixture of experts in place of the MLP (models/moe.py computes it), in the layers `layers` says (the
    others keep the family's dense MLP). Names are relative to the layer; `{e}` is the expert's index.

    router: the router's weight (experts, d) (nn.Linear, out × in), its bias too when `router_bias` (gpt-oss).
    select: "softmax_topk" (Mixtral, Qwen3-MoE): p = softmax(logits) over every expert, then the top-k of p;
    "topk_softmax" (gpt-oss): the top-k logits, then softmax over those k. renormalize: the k weights divided by
    their sum (True, False, or the config key that says: Qwen3-MoE's norm_topk_prob).
    stored: "per_expert": each expert's gate, up, down as nn.Linear weights `experts` + names[0..2] + ".weight"
    (Mixtral's w1, w3, w2; Qwen3-MoE's gate_proj, up_proj, down_proj), as save_pretrained and the Hub write
    them; "fused_interleaved" (gpt-oss): `experts` + "gate_up_proj" (E, d, 2I) stored in × out, gate and up in
    alternate columns, "down_proj" (E, I, d), each with a "_bias". act: "gated": act(gate)·up (the family's
    activation); "clamped_swiglu" (gpt-oss): g = min(gate, limit), u = clip(up, −limit, limit),
    (u + 1)·g·σ(α·g) with limit swiglu_limit and α swiglu_alpha.
    count, top_k, inter: the config keys of the number of experts, k and an expert's width (transformers 5
    writes num_local_experts even for Qwen3-MoE, whose Hub configs say num_experts: its attribute_map)."""

    router: str
    experts: str
    names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj")
    stored: str = "per_expert"
    router_bias: bool = False
    select: str = "softmax_topk"
    renormalize: bool | str = False
    act: str = "gated"
    count: tuple[str, ...] = ("num_local_experts", "num_experts")  # aliases in every config class: first wins
    top_k: str = "num_experts_per_tok"
    inter: str = "intermediate_size"
    layers: rules.MoeLayers = rules.every_layer_moe

    def __post_init__(self) -> None:
        if (self.stored, self.select, self.act) not in {(a, b, c) for a in ("per_expert", "fused_interleaved")
                                                        for b in ("softmax_topk", "topk_softmax")
                                                        for c in ("gated", "clamped_swiglu")}:
            raise ValueError(f"Moe: stored, select or act unknown: {self.stored}, {self.select}, {self.act}")


@dataclass(frozen=True)
class Relative:
    """Where DeBERTa's disentangled attention keeps its tensors (models/relative.py reads them): the relative
    position embeddings (2k, d) and their LayerNorm (weight, bias), both the model's own (no layer prefix); and,
    relative to the layer, the projections of those positions as keys (c2p) and queries (p2c) when the layer
    does not share its own W_K, W_Q with them (share_att_key false)."""

    table: str
    norm: tuple[str, str | None]
    pos_key: str
    pos_query: str
