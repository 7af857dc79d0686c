"""Every option a computing command takes, declared once (help text with an example each).

Commands list these aliases in their signatures (`x: opt.X = None`), so `compute` and the commands
that recompute attention (explain, check, mask) share names, help and panels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

IN, PROJ, SCORE, NORM, MASK, POS, NUM, OUT = (
    "Inputs", "Projections and heads", "Scores", "Normalization", "Masks", "Positions", "Layout and numbers",
    "Output")

SOURCES = ("--x", "--x-kv", "--image", "--q", "--k", "--v", "--wq", "--wk", "--wv", "--bq", "--bk", "--bv",
           "--wo", "--bo", "--weights", "--mask", "--bias", "--w-score", "--wa-q", "--wa-k", "--va",
           "--adjacency", "--edges", "--pe", "--q-norm", "--k-norm")
METAVARS = {"--key-lens": "N,N…", "--query-lens": "N,N…", "--show": "NAMES", "--output": "PATH", "--heads": "N",
            "--kv-heads": "G", "--scale": "F", "--precision": "N", "--temperature": "T", "--softcap": "C",
            "--qk-norm-eps": "ε", "--window": "L|L:R", "--window2d": "K", "--pe-base": "F", "--rope-base": "F",
            "--rope-dim": "D", "--start-pos": "P", "--pe": "sinusoidal|SOURCE"}


def _opt(help: str, panel: str, *names: str, show_default: bool = False, **kw):
    metavar = METAVARS.get(names[0]) or ("SOURCE" if names[0] in SOURCES else None)
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=show_default, metavar=metavar, **kw)


class Score(StrEnum):
    scaled = "scaled"
    dot = "dot"
    general = "general"
    additive = "additive"
    cosine = "cosine"
    location = "location"


class Normalizer(StrEnum):
    softmax = "softmax"
    softmax1 = "softmax1"
    sparsemax = "sparsemax"
    relu = "relu"
    sigmoid = "sigmoid"
    none = "none"


class Layout(StrEnum):
    rows = "rows"
    cols = "cols"


class WeightsLayout(StrEnum):
    auto = "auto"
    torch = "torch"


class DType(StrEnum):
    auto = "auto"
    float32 = "float32"
    float64 = "float64"


class Backend(StrEnum):
    auto = "auto"
    dense = "dense"
    fused = "fused"
    trace = "trace"


class EmptyRows(StrEnum):
    zero = "zero"
    nan = "nan"
    error = "error"


class PeLayout(StrEnum):
    interleaved = "interleaved"
    concat = "concat"


class RopeLayout(StrEnum):
    half = "half"
    interleaved = "interleaved"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"
    npy = "npy"
    npz = "npz"
    safetensors = "safetensors"
    heatmap = "heatmap"
    png = "png"
    svg = "svg"
    pdf = "pdf"
    html = "html"


Src = str | None
Srcs = list[str] | None

# ---- inputs -------------------------------------------------------------------------------------
X = Annotated[Src, _opt("Token vectors X, rows = tokens: n × d_model, or batch × n × d_model. SOURCE: a file "
                        "(.npy .npz .safetensors .csv .tsv .txt .json, file.npz:name), '-' for stdin, or inline: "
                        "rows split on ';' or new lines, so \"1 0 1\" is one token (1 × 3), as in MATLAB. "
                        "e.g. --x samples/self_attention/x.csv or --x \"1 0 1 0; 0 2 0 2\"", IN, "--x")]
XKV = Annotated[Src, _opt("Cross-attention: token vectors for keys and values (queries come from --x). "
                          "e.g. --x-kv encoder.npy", IN, "--x-kv")]
IMAGE = Annotated[Src, _opt("Image self-attention: H × W × C (or batch × H × W × C); the H·W pixels are the "
                            "tokens (row-major) and the output is written back as H × W × C. "
                            "e.g. --image samples/image/image.json", IN, "--image")]
Q = Annotated[Src, _opt("Queries given directly: n × d, heads × n × d, or batch × heads × n × d (PyTorch SDPA's "
                        "layout). e.g. --q q.npy", IN, "--q")]
K = Annotated[Src, _opt("Keys, shaped like --q. e.g. --k k.npy", IN, "--k")]
V = Annotated[Src, _opt("Values, shaped like --k (last dim may differ). e.g. --v v.npy", IN, "--v")]

# ---- projections --------------------------------------------------------------------------------
WQ = Annotated[Srcs, _opt("W_Q, d_model × d_k (Q = X·W_Q + b_Q). Repeat once per head, or give heads × "
                          "d_model × d_k. e.g. --wq wq.csv, or --wq h1.csv --wq h2.csv", PROJ, "--wq")]
WK = Annotated[Srcs, _opt("W_K, d_model × d_k. e.g. --wk wk.csv", PROJ, "--wk")]
WV = Annotated[Srcs, _opt("W_V, d_model × d_v. e.g. --wv wv.csv", PROJ, "--wv")]
BQ = Annotated[Srcs, _opt("Bias b_Q (length heads·d_k). e.g. --bq \"0.1 0 0\"", PROJ, "--bq")]
BK = Annotated[Srcs, _opt("Bias b_K. e.g. --bk bk.csv", PROJ, "--bk")]
BV = Annotated[Srcs, _opt("Bias b_V. e.g. --bv bv.csv", PROJ, "--bv")]
WO = Annotated[Src, _opt("W_O, (heads·d_v) × d_out: projects the concatenated heads. e.g. --wo wo.csv",
                         PROJ, "--wo")]
BO = Annotated[Src, _opt("Bias b_O of the output projection. e.g. --bo bo.csv", PROJ, "--bo")]
WEIGHTS = Annotated[Src, _opt("One .safetensors/.npz/.json holding wq, wk, wv, wo, bq, bk, bv, bo by name, or a "
                              "PyTorch nn.MultiheadAttention state_dict (in_proj_weight, out_proj.weight, ...). "
                              "Explicit --wq etc. win. e.g. --weights mha.safetensors --heads 8", PROJ, "--weights")]
CONFIG = Annotated[Src, _opt("A model's config.json (Hugging Face layout; a Hub id's as owner/name/config.json, "
                             "from the Hugging Face cache or downloaded, as attncli model): with --layer L, layer "
                             "L's W_Q, W_K, W_V, "
                             "W_O, biases, heads, kv heads, RoPE θ, window, ALiBi and scale all come from the model "
                             "(its model.safetensors beside config.json, or --weights); --x is the hidden state "
                             "entering the layer (pre-norm models apply the layer's input norm). e.g. --config "
                             "samples/tiny_gpt/config.json --layer 1", PROJ, "--config")]
LAYER = Annotated[int | None, _opt("The layer of --config to compute (0 is the first, −1 the last). e.g. --layer 1",
                                   PROJ, "--layer")]
WEIGHTS_LAYOUT = Annotated[WeightsLayout, _opt(
    "Orientation of weight matrices: auto follows --layout (rows: d_model × d_k as in X·W; cols: d_k × d_model "
    "as in W·X); torch = (out, in) as PyTorch's Linear.weight, whatever the layout. e.g. --weights-layout torch",
    PROJ, "--weights-layout", show_default=True)]
HEADS = Annotated[int | None, _opt("Number of heads N: the columns of W_Q/W_K/W_V split into N contiguous blocks "
                                   "(PyTorch's order). e.g. --heads 2", PROJ, "--heads")]
KV_HEADS = Annotated[int | None, _opt("Grouped-query attention: G key/value heads (G divides N); query head h "
                                      "uses kv head h // (N/G). e.g. --heads 8 --kv-heads 2", PROJ, "--kv-heads")]

# ---- scores -------------------------------------------------------------------------------------
SCORE_ = Annotated[Score, _opt("Score function: scaled = Q·Kᵀ/√d_k; dot = Q·Kᵀ; general = Q·W·Kᵀ (--w-score); "
                               "additive = vᵀ·tanh(q·W_q + k·W_k) (--wa-q --wa-k --va); cosine = cos(q, k); "
                               "location = Q·W_a (--w-score, d_q × n_k). e.g. --score additive", SCORE, "--score",
                               show_default=True)]
SCALE = Annotated[float | None, _opt("Multiply the scores by F (default 1/√d_k for scaled, 1 otherwise; a logit "
                                     "scale for cosine). e.g. --scale 0.125", SCORE, "--scale")]
W_SCORE = Annotated[Src, _opt("W for --score general (d_q × d_k) or W_a for --score location (d_q × n_k); "
                              "heads × ... for one per head. e.g. --w-score w.csv", SCORE, "--w-score")]
WA_Q = Annotated[Src, _opt("W_q of --score additive, d_q × h. e.g. --wa-q wa_q.csv", SCORE, "--wa-q")]
WA_K = Annotated[Src, _opt("W_k of --score additive, d_k × h. e.g. --wa-k wa_k.csv", SCORE, "--wa-k")]
VA = Annotated[Src, _opt("v of --score additive, length h. e.g. --va \"1 -1 0.5\"", SCORE, "--va")]

# ---- normalization ------------------------------------------------------------------------------
NORMALIZE = Annotated[Normalizer, _opt(
    "softmax; softmax1 = exp(s)/(1 + Σexp(s)) (may attend to nothing); sparsemax (exact zeros); relu, sigmoid "
    "(elementwise, rows need not sum to 1); none (the scores are the weights). e.g. --normalize sparsemax",
    NORM, "--normalize", show_default=True)]
TEMPERATURE = Annotated[float, _opt("Divide the scores by T before normalizing (T < 1 sharpens, T > 1 "
                                    "flattens). e.g. --temperature 0.5", NORM, "--temperature", show_default=True)]
SOFTCAP = Annotated[float | None, _opt("Soft-cap the scores: s → C·tanh(s/C), before bias and masks (Gemma 2, "
                                       "FlashAttention's softcap). e.g. --softcap 50", NORM, "--softcap")]
Q_NORM = Annotated[Src, _opt("Each head's queries through an RMSNorm over their d_k features before RoPE, with "
                             "these d_k weights: q ← q/√(mean(q²) + ε)·w (Qwen3's q_norm, Gemma 3's); give --k-norm "
                             "too. e.g. --q-norm \"1 0.5\" --k-norm \"1 1\"", NORM, "--q-norm")]
K_NORM = Annotated[Src, _opt("Each head's keys through an RMSNorm over d_k with these weights (with --q-norm). "
                             "e.g. --k-norm \"1 1\"", NORM, "--k-norm")]
QK_NORM_EPS = Annotated[float, _opt("ε of --q-norm and --k-norm. e.g. --qk-norm-eps 1e-5", NORM, "--qk-norm-eps",
                                    show_default=True)]
SINKS = Annotated[Src, _opt("Attention sinks (gpt-oss): one logit s_h per head that joins each row's softmax "
                             "denominator, a_ij = exp(s_ij)/(exp(s_h) + Σ_j exp(s_ij)); rows sum to less than 1. "
                             "Softmax only; softmax1 is a sink at 0. e.g. --sinks \"0.5 -1 2\"", NORM, "--sinks")]

# ---- masks --------------------------------------------------------------------------------------
CAUSAL = Annotated[bool, _opt("Causal mask: query i sees keys j ≤ i (top-left aligned, as PyTorch's is_causal). "
                              "e.g. --causal", MASK, "--causal")]
WINDOW = Annotated[str | None, _opt("Local (truncated) attention: L = |i − j| ≤ L; L:R = i − L ≤ j ≤ i + R "
                                    "(jax's local_window_size); with --causal R is 0. e.g. --window 2 or "
                                    "--window 3:0", MASK, "--window")]
KEY_LENS = Annotated[str | None, _opt("Key padding, one length per batch item: keys at index ≥ len are masked "
                                      "(d2l's valid_lens). e.g. --key-lens 5,3", MASK, "--key-lens")]
QUERY_LENS = Annotated[str | None, _opt("Query padding, one length per batch item: query rows at index ≥ len "
                                        "get zero weights and zero output (jax's query_seq_lengths). "
                                        "e.g. --query-lens 5,3", MASK, "--query-lens")]
MASK_ = Annotated[Src, _opt("Boolean mask, n_q × n_k (broadcast over batch and heads), 1/true = may attend. "
                            "e.g. --mask mask.csv", MASK, "--mask")]
MASK_INVERT = Annotated[bool, _opt("Read --mask as 1/true = blocked (nn.MultiheadAttention's convention). "
                                   "e.g. --mask pad.npy --mask-invert", MASK, "--mask-invert")]
BIAS = Annotated[Src, _opt("Additive bias on the scores, broadcast like --mask; -inf blocks. e.g. --bias bias.npy",
                           MASK, "--bias")]
ADJACENCY = Annotated[Src, _opt("Graph attention: n × n adjacency, nonzero = node i may attend to node j. "
                                "e.g. --adjacency samples/graph/adjacency.csv", MASK, "--adjacency")]
EDGES = Annotated[Src, _opt("Graph attention from an edge list: lines \"i j\" (i may attend to j), or an m × 2 "
                            "array. e.g. --edges samples/graph/edges.txt", MASK, "--edges")]
UNDIRECTED = Annotated[bool, _opt("Every edge goes both ways (adds j → i for each i → j). e.g. --undirected",
                                  MASK, "--undirected")]
SELF_LOOPS = Annotated[bool, _opt("Every node may attend to itself. e.g. --self-loops", MASK, "--self-loops")]
WINDOW2D = Annotated[int | None, _opt("With --image: each pixel attends only to its K × K neighbourhood (odd K) — "
                                      "a convolution's receptive field. e.g. --window2d 3", MASK, "--window2d")]
EMPTY_ROWS = Annotated[EmptyRows, _opt("A query row with every key masked: zero weights and output (as PyTorch "
                                       "SDPA), nan, or error. e.g. --empty-rows error", MASK, "--empty-rows",
                                       show_default=True)]

# ---- positions ----------------------------------------------------------------------------------
PE = Annotated[str | None, _opt("Add positional encodings to X before projection: sinusoidal (Vaswani et al.) "
                                "or a SOURCE holding a learned positions × d_model table. e.g. --pe sinusoidal",
                                POS, "--pe")]
PE_BASE = Annotated[float, _opt("Base of the sinusoidal encoding. e.g. --pe-base 10000", POS, "--pe-base",
                                show_default=True)]
PE_LAYOUT = Annotated[PeLayout, _opt("interleaved = sin, cos in alternate columns (the paper); concat = all "
                                     "sines then all cosines (tensor2tensor). e.g. --pe-layout concat", POS,
                                     "--pe-layout", show_default=True)]
ROPE = Annotated[bool, _opt("Rotary position embeddings on Q and K after projection (per head, d_k even). "
                            "e.g. --rope", POS, "--rope")]
ROPE_BASE = Annotated[float, _opt("RoPE base θ. e.g. --rope-base 500000", POS, "--rope-base", show_default=True)]
ROPE_LAYOUT = Annotated[RopeLayout, _opt("half = rotate x_i with x_{i+d/2} (GPT-NeoX, LLaMA); interleaved = "
                                         "rotate pairs (x_2i, x_2i+1) (GPT-J, the paper). e.g. --rope-layout "
                                         "interleaved", POS, "--rope-layout", show_default=True)]
ROPE_DIM = Annotated[int | None, _opt("Partial rotary: RoPE turns only the first D features of each head (even; "
                                      "ω_i = θ^(−2i/D)), the rest pass through unchanged (GPT-NeoX's rotary_pct, "
                                      "Phi's partial_rotary_factor, times d_head). e.g. --rope --rope-dim 2",
                                      POS, "--rope-dim")]
START_POS = Annotated[int, _opt("Position of the first token for RoPE (e.g. a KV-cache offset). "
                                "e.g. --start-pos 128", POS, "--start-pos", show_default=True)]
ALIBI = Annotated[bool, _opt("ALiBi: add −m_h·|i − j| to head h's scores (−m_h·(i − j) with --causal), "
                             "m_h = 2^(−8h/N) (for N not a power of two, the ALiBi paper's and BLOOM's slopes). "
                             "e.g. --alibi --heads 8", POS, "--alibi")]
REL_EMBEDDINGS = Annotated[str | None, _opt(
    "Disentangled attention (DeBERTa): a SOURCE holding the relative position table R, 2k × d_model (2k × d_k "
    "without --wq/--wk), projected as keys K_r = R·W_K + b_K and queries Q_r = R·W_Q + b_Q; adds q_i·K_r[c(i, j)] "
    "(c2p) and k_j·Q_r[c(j, i)] (p2c) to the scores, c = clamp(δ + k, 0, 2k − 1), scale 1/√(d_k·(1 + terms)). "
    "e.g. --rel-embeddings rel.npy", POS, "--rel-embeddings")]
POS_ATT_TYPE = Annotated[str, _opt("The position terms --rel-embeddings adds: c2p, p2c or both. "
                                   "e.g. --pos-att-type c2p", POS, "--pos-att-type", show_default=True)]
POSITION_BUCKETS = Annotated[int, _opt(
    "Log buckets b of the relative positions δ = i − j for --rel-embeddings (0: none): |δ| < b/2 stays, longer "
    "distances share buckets up to --max-relative-positions. e.g. --position-buckets 256", POS,
    "--position-buckets", show_default=True)]
MAX_RELATIVE_POSITIONS = Annotated[int, _opt(
    "M of the log buckets: the distance that reaches the last bucket. e.g. --max-relative-positions 512", POS,
    "--max-relative-positions", show_default=True)]

# ---- layout and numbers -------------------------------------------------------------------------
LAYOUT = Annotated[Layout, _opt("rows: tokens are rows (papers, PyTorch). cols: tokens are columns, the lecture "
                                "convention Q = W_q·I, A = Kᵀ·Q, O = V·A′; inputs are read and outputs written "
                                "that way. A PROBLEM file's matrices are in the file's layout: a --layout that "
                                "contradicts it is an error. e.g. --layout cols", NUM, "--layout", show_default=True)]
DTYPE = Annotated[DType, _opt("auto keeps float32 binary inputs in float32; text and inline inputs compute in "
                              "float64. e.g. --dtype float64", NUM, "--dtype", show_default=True)]
ALLOW_NONFINITE = Annotated[bool, _opt("Compute even when inputs hold NaN or Inf (default: refuse, naming the "
                                       "first position). e.g. --allow-nonfinite", NUM, "--allow-nonfinite")]

# ---- output -------------------------------------------------------------------------------------
FORMAT = Annotated[Format | None, _opt("table (default), json (strict, for jq), csv, tsv, npy (one array), npz, "
                                       "safetensors; heatmap (shaded in the terminal), png, svg, pdf (need "
                                       "attncli\\[plot]), html (one offline page). e.g. --format json", OUT,
                                       "--format", "-f")]
OUTPUT = Annotated[str | None, _opt("Write to PATH instead of stdout, format from the extension (.json .csv .tsv "
                                    ".npy .npz .safetensors .txt .png .svg .pdf .html); written atomically, never "
                                    "over an input. e.g. -o maps.safetensors or -o map.png", OUT, "--output", "-o")]
PRECISION = Annotated[int, _opt("Decimals in tables. e.g. --precision 2", OUT, "--precision", show_default=True)]
DEBUG = Annotated[bool, _opt("Show a traceback on errors. e.g. --debug", OUT, "--debug")]
THREADS = Annotated[int | None, _opt("Threads for long sequences (default: every CPU the process may use, each kept "
                                     "to a CPU of its own on Linux; ATTNCLI_PIN_THREADS=off leaves them to the "
                                     "scheduler). float32 results can differ between thread counts in their last "
                                     "bits (a product split over other rows rounds differently): ~1e-7 of the "
                                     "values' scale in one attention, up to ~1e-5 through a model's layers; "
                                     "float64: ~1e-14. e.g. --threads 1", NUM, "--threads")]
BACKEND = Annotated[Backend, _opt("Which kernel computes (the same numbers, to rounding): auto (fused when only the "
                                  "output or heads are shown, else dense), dense (the general kernel; every map), "
                                  "fused (softmax over scaled or dot scores, output and heads only), trace (every "
                                  "step kept, as explain does). e.g. --backend dense", NUM, "--backend",
                                  show_default=True)]

# ---- text ---------------------------------------------------------------------------------------
TEXT_ = "Text"
TEXT = Annotated[str | None, _opt("A sentence to attend over, instead of --x: tokenized (--tokenizer) and embedded "
                                  "(--embeddings); tables are labelled with its tokens. e.g. --text \"the cat sat\"",
                                  TEXT_, "--text")]
TOKENS = Annotated[str | None, _opt("A file with one sequence per line (several lines are a padded batch, each "
                                    "line computed as if alone). e.g. --tokens samples/text/sentences.txt",
                                    TEXT_, "--tokens")]
IDS = Annotated[str | None, _opt("A file of token ids, one sequence per line, looked up as rows of the "
                                 "--embeddings matrix. e.g. --ids ids.txt --embeddings emb.npy", TEXT_, "--ids")]
TOKENIZER = Annotated[str, _opt("whitespace; chars (one token per character, e.g. Chinese); or a tokenizer.json "
                                "(needs pip install 'attncli\\[text]'). e.g. --tokenizer chars", TEXT_, "--tokenizer",
                                show_default=True)]
EMBEDDINGS = Annotated[str | None, _opt(
    "A word2vec/GloVe text file (\"token v1 ... vd\" per line); a matrix SOURCE with --vocab or --ids (e.g. a "
    "model's embedding table); onehot; or random:DIM. e.g. --embeddings samples/text/embeddings.txt",
    TEXT_, "--embeddings")]
VOCAB = Annotated[str | None, _opt("Vocabulary file, one token per line, line number = row of --embeddings. "
                                   "e.g. --vocab vocab.txt --embeddings model.safetensors:embed", TEXT_, "--vocab")]
OOV = Annotated[str, _opt("Tokens missing from the vocabulary: error (listing them), zero, skip, or unk:TOKEN. "
                          "e.g. --oov unk:<unk>", TEXT_, "--oov", show_default=True)]
SEED = Annotated[int, _opt("Seed for --embeddings random:DIM, 0 or more. e.g. --seed 7", TEXT_, "--seed",
                           show_default=True, min=0)]
LABELS = Annotated[str | None, _opt("Labels for the tokens of a matrix input: a file with one per line, or "
                                    "comma-separated. e.g. --labels \"I,love,fish\"", TEXT_, "--labels")]

# ---- pictures -----------------------------------------------------------------------------------
PICTURE = "Pictures"
DPI = Annotated[int, _opt("Resolution of PNG (and PDF raster) output, dots per inch; a PNG is inches × dpi "
                          "pixels. e.g. --dpi 200", PICTURE, "--dpi", show_default=True)]
CMAP = Annotated[str | None, _opt("Colormap of heatmaps and pictures (default viridis; RdBu_r when values are "
                                  "negative, e.g. scores). Built in: viridis magma inferno plasma cividis Blues "
                                  "Greys RdBu_r coolwarm (any name + _r reverses); images take any matplotlib "
                                  "colormap. e.g. --cmap magma", PICTURE, "--cmap")]
