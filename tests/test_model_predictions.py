"""`attncli model --show predictions` / `logits` and `--pair` against transformers (issue 22).

The golden cases with a head (tests/golden/models/*_lm, *_mlm, bert_pair; generate.py's predict and heads
sections, one or more for every family with a head) were saved from transformers' *ForCausalLM / *ForMaskedLM
classes and run by them: expected.npz holds their logits (B, n, vocab), torch.topk's top 5 ids, and for the
decoders transformers' own `labels=` loss of each text.
What is compared:
* logits: |attncli − transformers| ≤ 1e-4, absolute (logits here reach ~71; measured ≤ 3.6e-5, gemma_lm);
* top-5 ids: equal to torch.topk's at every valid position (an MLM's fillers: at each mask);
* probabilities: top_p and p_next against a softmax of transformers' logits computed here in float64 (1e-5);
* loss: within 1e-5 of transformers' labels= loss (measured ≤ 4.4e-6); perplexity = e^loss;
* soft-capping and logits_scaling: closed forms over transformers' logits (c·tanh(z/c), z/s).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from model_helpers import golden_copy

GOLDEN = Path(__file__).parent / "golden" / "models"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())
HEAD_CASES = [c for c in CASES if "logits" in np.load(GOLDEN / c / "expected.npz").files]
DECODERS = [c for c in HEAD_CASES if "loss" in np.load(GOLDEN / c / "expected.npz").files]
MLM = [c for c in HEAD_CASES if c not in DECODERS]
LOGIT_TOL, P_TOL, LOSS_TOL = 1e-4, 1e-5, 1e-5


def load(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    if not (GOLDEN / name / "tokenizer.json").is_file():  # a SentencePiece model (deberta): --text needs the package
        pytest.importorskip("sentencepiece")
    case = json.loads((GOLDEN / name / "case.json").read_text())
    with np.load(GOLDEN / name / "expected.npz") as z:
        return case, {k: z[k] for k in z.files}


def text_args(case: dict) -> list[str]:
    out = [arg for text in case["texts"] for arg in ("--text", text)]
    return out + [arg for pair in case.get("pairs") or [] for arg in ("--pair", pair)]


def npz_run(folder: Path, args: list[str], tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / "out.npz"
    run(["model", folder, *args, "--format", "npz", "-o", out])
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def batched(a: np.ndarray, case: dict) -> np.ndarray:
    """attncli's arrays with the batch axis first whatever the batch size."""
    return a if len(case["lengths"]) > 1 else a[None]


def softmax64(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# families whose head attncli does not read (predictions refused in one line): none today
HEADLESS: set[str] = set()


def test_the_head_goldens_cover_every_family_with_a_head():
    from attncli.models.families import FAMILIES

    families = {load(c)[0]["family"] for c in HEAD_CASES}
    with_head = {name for name, fam in FAMILIES.items() if fam.lm_head is not None}
    assert families == with_head
    assert set(FAMILIES) - with_head <= HEADLESS, set(FAMILIES) - with_head - HEADLESS
    assert {"gpt_neox", "phi", "gemma", "gemma2", "gemma3_text", "gemma3", "olmo2", "mixtral", "qwen3_moe",
            "gpt_oss", "xlm-roberta", "electra", "albert", "modernbert", "deberta-v2", "phi3", "opt", "granite"
            } <= families
    tied = {json.loads((GOLDEN / c / "config.json").read_text()).get("tie_word_embeddings") for c in HEAD_CASES}
    assert tied == {True, False, None}  # None: left out, the config class's default decides (gemma_lm)
    assert any(len(load(c)[0]["lengths"]) > 1 for c in DECODERS), "a padded batch"


@pytest.mark.parametrize("name", HEAD_CASES)
def test_logits_top_ids_and_probabilities_match_transformers(name, tmp_path):
    case, expected = load(name)
    got = npz_run(GOLDEN / name, [*text_args(case), "--show", "predictions,logits"], tmp_path)
    logits, top_ids = batched(got["logits"], case), batched(got["top_ids"], case)
    top_p, p_next = batched(got["top_p"], case), batched(got["p_next"], case)
    assert top_ids.shape[-1] == 5
    for b, (seq, lb) in enumerate(zip(case["ids"], case["lengths"], strict=True)):
        e = expected["logits"][b, :lb]
        diff = np.abs(logits[b, :lb] - e)
        i, v = np.unravel_index(np.argmax(diff), diff.shape)
        assert diff.max() <= LOGIT_TOL, \
            f"{name}: text {b} position {i} token {v}: {logits[b, i, v]}, transformers {e[i, v]}"
        assert top_ids[b, :lb].tolist() == expected["top_ids"][b, :lb].tolist(), name
        p = softmax64(e)
        assert np.abs(top_p[b, :lb] - np.take_along_axis(p, expected["top_ids"][b, :lb], axis=1)).max() <= P_TOL
        if name in DECODERS:
            want = p[np.arange(lb - 1), seq[1:]]
            assert np.abs(p_next[b, : lb - 1] - want).max() <= P_TOL, name
            assert np.isnan(p_next[b, lb - 1])
        else:
            assert np.isnan(p_next[b, :lb]).all()


@pytest.mark.parametrize("name", DECODERS)
def test_loss_is_transformers_labels_loss(name, tmp_path):
    case, expected = load(name)
    got = npz_run(GOLDEN / name, [*text_args(case), "--show", "predictions"], tmp_path)
    loss = np.atleast_1d(got["loss"])
    assert np.abs(loss - expected["loss"]).max() <= LOSS_TOL, (name, loss, expected["loss"])
    assert np.allclose(np.atleast_1d(got["perplexity"]), np.exp(expected["loss"]), rtol=1e-4)
    assert "logits" not in got, "logits are written only when asked for"


def vocabulary(name: str):
    """id -> token of a golden's tokenizer: tokenizer.json's, or the SentencePiece model's pieces (deberta)."""
    if (GOLDEN / name / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(GOLDEN / name / "tokenizer.json")).id_to_token
    spm = pytest.importorskip("sentencepiece")
    proc = spm.SentencePieceProcessor(model_file=str(GOLDEN / name / "spm.model"))
    return lambda i: proc.id_to_piece(int(i)) if i < proc.get_piece_size() else None  # rows past the model's: none


@pytest.mark.parametrize("name", MLM)
def test_mlm_fillers_are_transformers_top_ids_at_each_mask(name, tmp_path):
    case, expected = load(name)
    proc = run(["model", GOLDEN / name, *text_args(case), "--show", "predictions", "--format", "json"])
    doc = json.loads(proc.stdout)
    token = vocabulary(name)
    masks = [i for i, t in enumerate(case["ids"][0]) if token(t) in ("[MASK]", "<mask>")]
    assert masks, f"{name} has a mask"
    assert doc["loss"] is None and doc["perplexity"] is None
    for i, entry in enumerate(doc["predictions"]):
        if i not in masks:
            assert entry is None
            continue
        assert [x["id"] for x in entry] == expected["top_ids"][0, i].tolist()
        assert [x["token"] for x in entry] == [token(t) for t in expected["top_ids"][0, i]]
        p = softmax64(expected["logits"][0, i])
        assert np.allclose([x["p"] for x in entry], p[expected["top_ids"][0, i]], atol=P_TOL)


def test_json_of_a_batch_has_one_list_per_text(tmp_path):
    case, expected = load("llama_lm")
    doc = json.loads(run(["model", GOLDEN / "llama_lm", *text_args(case), "--show", "predictions", "--top-k", "3",
                          "--format", "json"]).stdout)
    assert [len(p) for p in doc["predictions"]] == case["lengths"]
    assert all(len(pos) == 3 for text in doc["predictions"] for pos in text)
    assert doc["predictions"][1][0][0]["id"] == expected["top_ids"][1, 0, 0]
    assert np.allclose(doc["loss"], expected["loss"], atol=LOSS_TOL)
    assert doc["meta"]["top_k"] == 3


def test_table_shows_each_position_and_the_loss():
    case, expected = load("gpt2_lm")
    out = run(["model", GOLDEN / "gpt2_lm", *text_args(case), "--show", "predictions"]).stdout.decode()
    assert "next-token predictions" in out
    import re

    found = re.search(r"loss (\S+) nats per token \(mean −ln p\(next\) over (\d+) next tokens\) · perplexity (\S+)",
                      out)
    assert found, out
    loss = float(expected["loss"][0])
    assert abs(float(found[1]) - loss) <= 1e-4 and int(found[2]) == len(case["ids"][0]) - 1
    assert math.isclose(float(found[3]), math.exp(loss), rel_tol=1e-4)
    assert out.count("│") >= len(case["ids"][0]) * 2  # a row per position


def test_table_of_an_mlm_says_loss_does_not_apply():
    case, _ = load("bert_mlm")
    out = run(["model", GOLDEN / "bert_mlm", *text_args(case), "--show", "predictions"]).stdout.decode()
    assert "fillers of each mask" in out and "not applicable" in out
    assert out.count("[MASK]") == 2  # the two masked positions' rows


def test_csv_rows_are_positions_times_k():
    case, expected = load("qwen3_lm")
    out = run(["model", GOLDEN / "qwen3_lm", *text_args(case), "--show", "predictions", "--top-k", "2",
               "--format", "csv"]).stdout.decode().splitlines()
    assert out[0] == "text,position,token,next,p_next,rank,id,prediction,p"
    n = case["lengths"][0]
    assert len(out) == 1 + 2 * n
    first = out[1].split(",")
    assert int(first[6]) == expected["top_ids"][0, 0, 0] and first[5] == "1"
    p = softmax64(expected["logits"][0])
    assert abs(float(first[4]) - p[0, case["ids"][0][1]]) <= P_TOL


def test_logits_alone_as_npy(tmp_path):
    case, expected = load("qwen2_lm")
    out = tmp_path / "logits.npy"
    run(["model", GOLDEN / "qwen2_lm", *text_args(case), "--show", "logits", "-o", out])
    assert np.abs(np.load(out) - expected["logits"][0]).max() <= LOGIT_TOL


def test_show_all_does_not_ask_for_a_head(tmp_path):
    """--show all keeps its meaning (attentions, hidden, stats): it runs on a checkpoint without a head."""
    case, _ = load("llama_bf16")
    got = npz_run(GOLDEN / "llama_bf16", ["--ids", " ".join(map(str, case["ids"][0])), "--show", "all"], tmp_path)
    assert set(got) == {"attentions", "hidden", "ids"}


# ---------------------------------------------------------------- logits as config.json shapes them


def copy_case(name: str, tmp_path: Path, **config) -> Path:
    return golden_copy(tmp_path, name, config)


@pytest.mark.parametrize("key,value", [("final_logit_softcapping", 5.0), ("logits_scaling", 4.0)])
def test_logit_settings_a_family_does_not_read_change_nothing(key, value, tmp_path):
    """Gemma 2/3's final soft-capping and Granite's logits_scaling are read only where their config classes read
    them (the gemma2_lm and granite goldens prove those, with transformers' logits): GPT2Config does not, so
    transformers' GPT-2 gives the same logits with the key in config.json, and so does attncli."""
    case, expected = load("gpt2_lm")
    folder = copy_case("gpt2_lm", tmp_path, **{key: value})
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    assert np.abs(expected["logits"]).max() > 3 * value  # the setting would bite if it were read
    assert np.abs(got["logits"] - expected["logits"][0]).max() <= LOGIT_TOL


@pytest.mark.parametrize("name", ["llama_lm", "gpt2_lm"])
def test_without_tie_word_embeddings_the_config_class_default_decides(name, tmp_path):
    """LlamaConfig's default is false (its own lm_head.weight), GPT2Config's true (the embeddings)."""
    case, expected = load(name)
    folder = copy_case(name, tmp_path, tie_word_embeddings=None)
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    lb = case["lengths"][0]
    assert np.abs(batched(got["logits"], case)[0, :lb] - expected["logits"][0, :lb]).max() <= LOGIT_TOL


def test_tied_head_in_the_file_equal_to_the_embeddings_is_the_embeddings(tmp_path):
    """tie_word_embeddings true and the file holding lm_head.weight equal to the embeddings (as torch .bin
    conversions do): the embeddings, transformers' logits."""
    from safetensors.numpy import load_file, save_file

    case, expected = load("gpt2_lm")
    folder = copy_case("gpt2_lm", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"].copy()
    save_file(tensors, folder / "model.safetensors")
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    assert np.abs(got["logits"] - expected["logits"][0]).max() <= LOGIT_TOL


def test_tied_head_in_the_file_unlike_the_embeddings_is_kept_as_transformers_does(tmp_path):
    """tie_word_embeddings true but the file's lm_head.weight differs from the embeddings: transformers 5.24 does
    not tie them (a warning) and its logits are h_L · lm_headᵀ. Expected: golden gpt2_lm's last hidden state
    (transformers', after ln_f) times that weight, in numpy; .meta.head says which weight was used."""
    from safetensors.numpy import load_file, save_file

    case, expected = load("gpt2_lm")
    folder = copy_case("gpt2_lm", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    w = np.random.default_rng(7).standard_normal(tensors["transformer.wte.weight"].shape).astype(np.float32)
    tensors["lm_head.weight"] = w
    save_file(tensors, folder / "model.safetensors")
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    want = expected["hidden"][-1, 0] @ w.astype(np.float64).T
    assert np.abs(got["logits"] - want).max() <= LOGIT_TOL
    assert np.abs(got["logits"] - expected["logits"][0]).max() > 1
    doc = json.loads(run(["model", folder, *text_args(case), "--show", "predictions", "--format", "json"]).stdout)
    assert doc["meta"]["head"].startswith("lm_head.weight (in the file, unlike the word embeddings"), doc["meta"]


def test_blocks_of_positions_give_the_same_logits(monkeypatch):
    """Logits made a block of one position at a time (BLOCK_BYTES tiny) equal transformers' as well."""
    from attncli.models import predict as pr
    from attncli.models.checkpoint import open_checkpoint
    from attncli.models.forward import forward
    from attncli.models.weights import shapes

    case, expected = load("llama_lm")
    ckpt = open_checkpoint(str(GOLDEN / "llama_lm"))
    s = shapes(ckpt)
    lens = case["lengths"]
    ids = expected["input_ids"]
    monkeypatch.setattr(pr, "BLOCK_BYTES", 1)
    assert pr.block_rows(s.vocab, 4) == 1
    result = forward(ckpt, ids, lens, layers=[], hidden=False, last=True)
    got = pr.predict(pr.head_of(ckpt, s, np.dtype("float32")), result.last, ids, lens, 5, True)
    for b, lb in enumerate(lens):
        assert np.abs(got.logits[b, :lb] - expected["logits"][b, :lb]).max() <= LOGIT_TOL
        assert got.top_ids[b, :lb].tolist() == expected["top_ids"][b, :lb].tolist()
        assert (got.top_ids[b, lb:] == -1).all()
    assert np.abs(got.loss - expected["loss"]).max() <= LOSS_TOL


def test_logits_are_checked_against_the_memory_budget(monkeypatch):
    from attncli.errors import AttnError
    from attncli.models import predict as pr
    from attncli.models.checkpoint import open_checkpoint
    from attncli.models.forward import forward
    from attncli.models.weights import shapes

    case, expected = load("gpt2_lm")
    ckpt = open_checkpoint(str(GOLDEN / "gpt2_lm"))
    s = shapes(ckpt)
    ids = expected["input_ids"]
    result = forward(ckpt, ids, None, layers=[], hidden=False, last=True)
    head = pr.head_of(ckpt, s, np.dtype("float32"))
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", "1K")
    with pytest.raises(AttnError) as err:
        pr.predict(head, result.last, ids, case["lengths"], 5, True)
    assert "logits" in str(err.value) and "show" in str(err.value)


# ---------------------------------------------------------------- what is refused, in one line


@pytest.mark.parametrize("name,kind", [("llama_bf16", "no LM head"), ("bert", "no masked-LM head"),
                                       ("distilbert", "no masked-LM head")])
def test_a_checkpoint_saved_from_a_base_class_has_no_head(name, kind, tmp_path):
    case, _ = load(name)
    args = ["--ids", " ".join(map(str, case["ids"][0]))] if not case["texts"] else text_args(case)
    err = run_error(["model", GOLDEN / name, *args, "--show", "predictions"])
    assert kind in err and "saved from a base class" in err, err


def test_an_electra_discriminator_is_refused_naming_what_it_is():
    """ElectraForPreTraining (golden electra) has no masked-LM head: it tells replaced tokens, and says so."""
    case, _ = load("electra")
    err = run_error(["model", GOLDEN / "electra", *text_args(case), "--show", "predictions"])
    assert "discriminator" in err and "ElectraForPreTraining" in err and "ElectraForMaskedLM" in err, err


def test_gpt_neox_reads_its_output_weight_under_either_name(tmp_path):
    """Pythia's embed_out.weight (golden gpt_neox_lm) or lm_head.weight, as transformers 5 renames it: the same
    logits, transformers'."""
    from safetensors.numpy import load_file, save_file

    case, expected = load("gpt_neox_lm")
    folder = copy_case("gpt_neox_lm", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["lm_head.weight"] = tensors.pop("embed_out.weight")
    save_file(tensors, folder / "model.safetensors")
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    for b, lb in enumerate(case["lengths"]):
        assert np.abs(got["logits"][b, :lb] - expected["logits"][b, :lb]).max() <= LOGIT_TOL


def test_gemma2_without_final_logit_softcapping_caps_at_its_config_class_default(tmp_path):
    """Golden gemma2_lm's config.json leaves the key out and matches transformers (Gemma2Config's 30.0); written
    as null, no capping: other logits (raw ones past 30 here)."""
    case, expected = load("gemma2_lm")
    assert "final_logit_softcapping" not in json.loads((GOLDEN / "gemma2_lm" / "config.json").read_text())
    folder = copy_case("gemma2_lm", tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["final_logit_softcapping"] = None
    (folder / "config.json").write_text(json.dumps(cfg))
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    z = got["logits"]
    assert np.abs(z).max() > 30 and np.abs(30 * np.tanh(z / 30) - expected["logits"][0]).max() <= LOGIT_TOL


def test_gemma3_ties_by_its_top_level_key(tmp_path):
    """Gemma3ForConditionalGeneration reads Gemma3Config's tie_word_embeddings, not its text_config's: golden
    gemma3_lm says false at the top and true inside (and matches transformers with its own lm_head). Without
    that lm_head in the file: refused as untied; with the top level set true, the embeddings are the output
    weight, logits = h_L · Eᵀ over transformers' last hidden state (numpy here)."""
    from safetensors.numpy import load_file, save_file

    case, expected = load("gemma3_lm")
    cfg = json.loads((GOLDEN / "gemma3_lm" / "config.json").read_text())
    assert cfg["tie_word_embeddings"] is False and cfg["text_config"]["tie_word_embeddings"] is True
    folder = copy_case("gemma3_lm", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["language_model.lm_head.weight"]
    save_file(tensors, folder / "model.safetensors")
    err = run_error(["model", folder, *text_args(case), "--show", "predictions"])
    assert "language_model.lm_head.weight" in err and "tie_word_embeddings false" in err, err
    cfg["tie_word_embeddings"] = True
    (folder / "config.json").write_text(json.dumps(cfg))
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    embed = tensors["language_model.model.embed_tokens.weight"].astype(np.float64)
    assert np.abs(got["logits"] - expected["hidden"][-1, 0] @ embed.T).max() <= LOGIT_TOL


def test_gemma3_refuses_a_soft_capping_its_class_does_not_apply(tmp_path):
    """Gemma3ForConditionalGeneration applies no final_logit_softcapping (Gemma3ForCausalLM would): a text_config
    that sets one is refused for predictions, not guessed; the maps still run."""
    case, _ = load("gemma3_lm")
    folder = tmp_path / "gemma3_lm"
    shutil.copytree(GOLDEN / "gemma3_lm", folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["text_config"]["final_logit_softcapping"] = 5.0
    (folder / "config.json").write_text(json.dumps(cfg))
    err = run_error(["model", folder, *text_args(case), "--show", "predictions"])
    assert "final_logit_softcapping to 5.0" in err and "gemma3" in err, err
    run(["model", folder, *text_args(case), "--format", "json"])


@pytest.mark.parametrize("name,legacy,words", [
    ("deberta_v3_mlm", True, ['lm_predictions.lm_head.*', '"legacy": false', "random head"]),
    ("deberta_v3_mlm", None, ['lm_predictions.lm_head.*', '"legacy": false', "random head"]),
    ("deberta_v2_mlm", False, ["legacy masked-LM head (cls.predictions.*)", "sets legacy false"]),
])
def test_deberta_reads_the_head_legacy_selects_and_refuses_the_other(name, legacy, words, tmp_path):
    """DebertaV2ForMaskedLM reads cls.predictions.* when legacy is true (DebertaV2Config's default) and
    lm_predictions.lm_head.* when false (goldens deberta_v2_mlm, deberta_v3_mlm). A file holding the other head
    (microsoft/deberta-v3-*'s lm_predictions with legacy left out: transformers would draw a random head) is
    refused naming the key to set; the maps still run."""
    case, _ = load(name)
    folder = copy_case(name, tmp_path, legacy=legacy)
    err = run_error(["model", folder, *text_args(case), "--show", "predictions"])
    assert all(w in err for w in words), err
    run(["model", folder, *text_args(case), "--format", "json"])


@pytest.mark.parametrize("key", ["classifier_bias", "decoder_bias"])
def test_modernbert_head_biases_follow_their_config_keys(key, tmp_path):
    """ModernBertForMaskedLM's head.dense and decoder have biases only as classifier_bias / decoder_bias say
    (transformers ignores a file's bias then). Golden modernbert_mlm has both; with one key false, the logits are
    this numpy head over transformers' last hidden state without that bias."""
    from safetensors.numpy import load_file

    case, expected = load("modernbert_mlm")
    t = {k: v.astype(np.float64) for k, v in load_file(GOLDEN / "modernbert_mlm" / "model.safetensors").items()}
    folder = copy_case("modernbert_mlm", tmp_path, **{key: False})
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    h = expected["hidden"][-1, 0] @ t["head.dense.weight"].T + (key != "classifier_bias") * t["head.dense.bias"]
    h = h / (1 + np.exp(-h))  # silu (classifier_activation)
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5) * t["head.norm.weight"]
    want = h @ t["model.embeddings.tok_embeddings.weight"].T + (key != "decoder_bias") * t["decoder.bias"]
    assert np.abs(got["logits"] - want).max() <= LOGIT_TOL
    assert np.abs(got["logits"] - expected["logits"][0]).max() > 1e-2


def test_an_untied_head_as_wide_as_the_word_embeddings_reads_the_projected_state(tmp_path):
    """OPT-350m's layout untied: lm_head.weight is word_embed_proj_dim (32) wide, not the hidden size (48), and
    reads the last state through project_out. Expected: golden opt's last hidden state (transformers', 48 wide)
    · project_outᵀ · lm_headᵀ in numpy."""
    from safetensors.numpy import load_file, save_file

    case, expected = load("opt")
    folder = copy_case("opt", tmp_path, tie_word_embeddings=False)
    tensors = load_file(folder / "model.safetensors")
    w = np.random.default_rng(3).standard_normal((130, 32)).astype(np.float32)
    tensors["lm_head.weight"] = w
    save_file(tensors, folder / "model.safetensors")
    got = npz_run(folder, [*text_args(case), "--show", "logits"], tmp_path)
    proj = tensors["model.decoder.project_out.weight"].astype(np.float64)  # (32, 48)
    for b, lb in enumerate(case["lengths"]):
        want = expected["hidden"][-1, b, :lb] @ proj.T @ w.astype(np.float64).T
        assert np.abs(got["logits"][b, :lb] - want).max() <= LOGIT_TOL


def test_a_family_without_a_known_tie_default_is_refused(tmp_path, monkeypatch):
    """A family whose table has no tie_word_embeddings default, config.json without the key: refused (not
    guessed). Checked on the library with the llama family's entry taken out."""
    import dataclasses

    from attncli.errors import AttnError
    from attncli.models import predict as pr
    from attncli.models.checkpoint import open_checkpoint
    from attncli.models.weights import shapes

    folder = copy_case("llama_lm", tmp_path, tie_word_embeddings=None)
    ckpt = open_checkpoint(str(folder))
    keys = tuple(k for k in ckpt.family.config if k.key != "tie_word_embeddings")
    ckpt.family = dataclasses.replace(ckpt.family, config=keys)
    with pytest.raises(AttnError, match="tie_word_embeddings"):
        pr.head_of(ckpt, shapes(ckpt), np.dtype("float32"))


@pytest.mark.parametrize("args,words", [
    (["--show", "logits"], "--format npz"),
    (["--show", "predictions", "--format", "heatmap"], "not a picture"),
    (["--show", "predictions", "--top-k", "0"], "--top-k"),
    (["--top-k", "3"], "add --show predictions"),
    (["--show", "predictions", "--format", "npy"], "npz"),
    (["--show", "predictions,stats", "--format", "csv"], "one table"),
    (["--pair", "a dog ran."], "decoder"),
])
def test_refused_requests(args, words):
    case, _ = load("gpt2_lm")
    err = run_error(["model", GOLDEN / "gpt2_lm", *text_args(case), *args])
    assert words in err, err


def test_mlm_text_without_a_mask_is_refused():
    err = run_error(["model", GOLDEN / "bert_mlm", "--text", "the cat sat.", "--show", "predictions"])
    assert "[MASK]" in err and "masked-LM" in err, err


# ---------------------------------------------------------------- sentence pairs


def test_pair_gives_transformers_ids_types_and_maps(tmp_path):
    case, expected = load("bert_pair")
    got = npz_run(GOLDEN / "bert_pair", [*text_args(case), "--show", "attentions,hidden,logits"], tmp_path)
    assert got["ids"].tolist() == expected["input_ids"][0].tolist()
    assert got["token_type_ids"].tolist() == expected["token_type_ids"][0].tolist()
    assert set(expected["token_type_ids"][0].tolist()) == {0, 1}
    assert np.abs(got["attentions"] - expected["attentions"][:, 0]).max() <= 1e-5
    e = expected["hidden"][:, 0]
    assert (np.abs(got["hidden"] - e) / np.maximum(1, np.abs(e))).max() <= 1e-4
    assert np.abs(got["logits"] - expected["logits"][0]).max() <= LOGIT_TOL


def test_pair_types_matter(tmp_path):
    """The same ids with every type 0 (the pair typed out with --tokens) give other hidden states: type 1's row
    is really added."""
    case, expected = load("bert_pair")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(GOLDEN / "bert_pair" / "tokenizer.json"))
    tokens = " ".join(tok.id_to_token(i) for i in case["ids"][0])
    got = npz_run(GOLDEN / "bert_pair", ["--tokens", tokens, "--show", "hidden"], tmp_path)
    assert np.abs(got["hidden"][0] - expected["hidden"][0, 0]).max() > 0.1


def test_pair_labels_show_both_texts():
    case, _ = load("bert_pair")
    doc = json.loads(run(["model", GOLDEN / "bert_pair", *text_args(case), "--format", "json", "--layers", "0",
                          "--heads", "0"]).stdout)
    assert doc["meta"]["tokens"].count("[SEP]") == 2 and doc["meta"]["pairs"] == case["pairs"]


def test_pair_refusals(tmp_path):
    case, _ = load("bert_pair")
    err = run_error(["model", GOLDEN / "bert_pair", "--text", "a", "--text", "b", "--pair", "c"])
    assert "--pair" in err and "one --pair for each --text" in err, err
    err = run_error(["model", GOLDEN / "bert_pair", "--ids", "2 5 3", "--pair", "c"])
    assert "--pair" in err, err
    folder = copy_case("bert_pair", tmp_path)
    tok = json.loads((folder / "tokenizer.json").read_text())
    tok["post_processor"] = None
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    err = run_error(["model", folder, *text_args(case)])
    assert "no pair template" in err, err
    folder = copy_case("bert_pair", tmp_path / "one", type_vocab_size=1)
    from safetensors.numpy import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    key = "bert.embeddings.token_type_embeddings.weight"
    tensors[key] = np.ascontiguousarray(tensors[key][:1])
    save_file(tensors, folder / "model.safetensors")
    err = run_error(["model", folder, *text_args(case)])
    assert "token type" in err and "1 row" in err, err


def test_safetensors_holds_the_predictions_and_names_the_head(tmp_path):
    import json as js

    from safetensors import safe_open

    case, expected = load("qwen3_lm")
    out = tmp_path / "p.safetensors"
    run(["model", GOLDEN / "qwen3_lm", *text_args(case), "--show", "predictions,logits", "-o", out])
    with safe_open(str(out), "np") as f:
        assert {"top_ids", "top_p", "p_next", "loss", "perplexity", "logits", "ids"} <= set(f.keys())
        assert f.get_tensor("top_ids").tolist() == expected["top_ids"][0].tolist()
        assert abs(float(f.get_tensor("loss").reshape(-1)[0]) - expected["loss"][0]) <= LOSS_TOL  # 0-d: (1,) here
        meta = js.loads(f.metadata()["attncli"])
    assert meta["head"] == "model.embed_tokens.weight (tie_word_embeddings)" and meta["top_k"] == 5
