"""From parsed options to the keyword arguments of attncli.core.attention: read every SOURCE, parse the
small values (lengths, windows), orient weights. Commands that compute attention all go through here."""

from __future__ import annotations

from typing import Any

from attncli.cli.common import TEXT_OPTIONS, Sources, parse_int_list, wants_text
from attncli.errors import AttnError
from attncli.record import Record

ARRAY_OPTIONS = {  # attention() keyword -> option
    "x": "--x", "x_kv": "--x-kv", "image": "--image", "q": "--q", "k": "--k", "v": "--v",
    "wo": "--wo", "bo": "--bo", "mask": "--mask", "bias": "--bias", "w_score": "--w-score",
    "wa_q": "--wa-q", "wa_k": "--wa-k", "va": "--va", "sinks": "--sinks", "adjacency": "--adjacency",
    "q_norm": "--q-norm", "k_norm": "--k-norm", "rel_embeddings": "--rel-embeddings",
}
REPEATABLE = {"wq": "--wq", "wk": "--wk", "wv": "--wv", "bq": "--bq", "bk": "--bk", "bv": "--bv"}
PLAIN = ("heads", "kv_heads", "scale", "temperature", "softcap", "qk_norm_eps", "causal", "window", "mask_invert",
         "undirected", "self_loops", "window2d", "pe_base", "rope", "rope_base", "rope_dim", "start_pos", "alibi",
         "allow_nonfinite", "pos_att_type", "position_buckets", "max_relative_positions")
CHOICES = ("score", "normalize", "empty_rows", "layout", "dtype", "pe_layout", "rope_layout")


class Labels(Record):
    """Names for the query rows and key columns of tables (one list, or one per batch item)."""

    queries: list[str] | list[list[str]] | None = None
    keys: list[str] | list[list[str]] | None = None
    tokens: list[list[str]] | None = None  # as tokenized, for meta.tokens
    _fields = ("queries", "keys", "tokens")

    def __init__(self, queries: list[str] | list[list[str]] | None = None,
                 keys: list[str] | list[list[str]] | None = None, tokens: list[list[str]] | None = None) -> None:
        self.queries, self.keys, self.tokens = queries, keys, tokens


def attention_kwargs(src: Sources, o: dict[str, Any]) -> tuple[dict[str, Any], Labels]:
    """Turn a command's option values `o` (by parameter name) into attention() keyword arguments and
    the labels of the tokens. A shape error about a typed literal says how it was read; --labels of another
    count than the tokens is an error, before anything is computed."""
    from attncli.cli.common import check_label_count, saying_what_was_read

    with saying_what_was_read(src):
        kw, labels = _attention_kwargs(src, o)
    if o.get("labels") is not None:
        check_label_count(labels.queries, kw, str(o.get("layout", "rows")))
    return kw, labels


def _attention_kwargs(src: Sources, o: dict[str, Any]) -> tuple[dict[str, Any], Labels]:
    import numpy as np

    kw: dict[str, Any] = {name: src.array(o.get(name), opt) for name, opt in ARRAY_OPTIONS.items()}
    for name in ("mask", "bias"):  # read here, owned here: read-only, so the Spec keeps them instead of a copy
        if kw[name] is not None and kw[name].base is None:
            kw[name].flags.writeable = False
    kw.update({name: src.arrays(o.get(name), opt) for name, opt in REPEATABLE.items()})
    kw.update({name: o[name] for name in PLAIN if name in o})
    kw.update({name: str(o[name]) for name in CHOICES if o.get(name) is not None})
    kw["key_lens"] = parse_int_list(o.get("key_lens"), "--key-lens")
    kw["query_lens"] = parse_int_list(o.get("query_lens"), "--query-lens")
    kw["edges"] = _edges(src, o.get("edges"))
    pe = o.get("pe")
    kw["pe"] = pe if pe in (None, "sinusoidal") else src.array(pe, "--pe")
    cols = str(o.get("layout", "rows")) == "cols"
    torch_layout = str(o.get("weights_layout", "auto")) == "torch"
    if o.get("config") is not None or o.get("layer") is not None:
        from attncli.cli.model_layer import layer_kwargs

        kw.update(layer_kwargs(src, o, kw))
        return kw, _labels(src, o, kw)

    torch_roles = {"wq", "wk", "wv", "wo"} if torch_layout else _torch_named(src)
    kw["torch_weights"] = torch_layout
    if o.get("weights") is not None:
        from attncli.cli.weights import weights_from_file

        found, from_torch = weights_from_file(src.container(o["weights"], "--weights"), o["weights"])
        for role, arr in found.items():
            if kw[role] is None:
                kw[role] = arr
                if role in from_torch:
                    torch_roles.add(role)

    def orient(w):
        # (out, in) -> the layout the user computes in: rows wants (in, out); cols already is (out, in).
        if w is None or cols:
            return w
        if isinstance(w, list):
            return [np.swapaxes(m, -1, -2) if m.ndim >= 2 else m for m in w]
        return np.swapaxes(w, -1, -2) if w.ndim >= 2 else w

    for role in torch_roles:
        kw[role] = orient(kw[role])

    return kw, _labels(src, o, kw)


def _labels(src: Sources, o: dict[str, Any], kw: dict[str, Any]) -> Labels:
    """The token vectors from --text/--tokens/--ids (into kw["x"]) and the labels of the tokens."""
    import numpy as np

    cols = str(o.get("layout", "rows")) == "cols"
    labels = Labels()
    if wants_text(o):
        from attncli.cli.text_input import table_labels, token_vectors  # tokenizing and embedding: text only

        tv = token_vectors(src, o)
        kw["x"] = tv.x.T if cols and not tv.batched else (np.swapaxes(tv.x, -1, -2) if cols else tv.x)
        n = tv.x.shape[-2]
        labels = Labels(table_labels(tv.tokens, tv.lens, n), None, tv.tokens)
        if tv.batched:  # each sequence as if alone: its padding is masked as keys and zeroed as queries
            for name, option in (("key_lens", "--key-lens"), ("query_lens", "--query-lens")):
                if kw[name] is not None:
                    raise AttnError(f"{option} is set from the sequences' lengths ({','.join(map(str, tv.lens))}) "
                                    f"for a batch of text; drop {option}")
                kw[name] = tv.lens
        src.info["--" + next(k for k in TEXT_OPTIONS if o.get(k) is not None)] = {
            "embeddings": tv.embeddings, "shape": list(tv.x.shape)}
        if kw.get("x_kv") is None:
            labels.keys = labels.queries
    elif o.get("labels") is not None:
        from attncli.cli.text_input import read_labels

        given = read_labels(o["labels"])
        labels = Labels(given, given if kw.get("x_kv") is None and kw.get("k") is None else None, None)
    return labels


TORCH_SUFFIXES = (".weight", "_weight")  # nn.Linear's weight and nn.MultiheadAttention's q_proj_weight: (out, in)


def _torch_named(src: Sources) -> set[str]:
    """Weights whose names in their file say PyTorch's (out, in) orientation (`layers.0.q_proj.weight`), read
    that way whatever their shape: a square one is never used transposed by accident."""
    roles = set()
    for role, option in (("wq", "--wq"), ("wk", "--wk"), ("wv", "--wv"), ("wo", "--wo")):
        names = src.names.get(option) or []
        torch = [bool(n) and n.endswith(TORCH_SUFFIXES) for n in names]
        if any(torch) and not all(torch):
            raise AttnError(f"{option} mixes PyTorch-named weights (*.weight, stored out × in) with others; give them "
                            "all one way, or set --weights-layout")
        if names and all(torch):
            roles.add(role)
    return roles


def _edges(src: Sources, source: str | None):
    """--edges: a text file of "i j" lines (or any SOURCE holding an m × 2 array)."""
    if source is None:
        return None
    e = src.array(source, "--edges")
    if e.ndim == 1 and e.size == 2:
        e = e.reshape(1, 2)
    if e.ndim != 2 or e.shape[1] != 2:
        raise AttnError(f"--edges must hold pairs \"i j\", one per line (m × 2); got shape {e.shape}")
    return e


def graph_of(adjacency: Any, edges: Any, undirected: bool, self_loops: bool) -> Any:
    """spec.graph from --adjacency, --edges, --undirected and --self-loops (None when there is no graph)."""
    from attncli.core.spec import Graph

    if adjacency is None and edges is None:
        if undirected or self_loops:
            raise AttnError("--undirected and --self-loops modify a graph: give --adjacency or --edges too")
        return None
    return Graph(adjacency, edges, bool(undirected), bool(self_loops))
