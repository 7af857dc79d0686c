"""A model named by its Hugging Face Hub id (`Qwen/Qwen3-0.6B`), resolved to a folder of the Hugging Face cache.

MODEL is a local path when one exists (no network, and huggingface_hub is not even imported); otherwise an
`owner/name` id is looked up through `huggingface_hub.snapshot_download`, the cache transformers shares
(HF_HOME / HF_HUB_CACHE; HF_HUB_OFFLINE, HF_TOKEN and HF_ENDPOINT are read by huggingface_hub itself), so a model
already downloaded is found offline. Only what attncli reads is downloaded (`PATTERNS`: the configs, the
tokenizer files and the safetensors weights with their index; never a pickle), with huggingface_hub's progress
bars on stderr. huggingface_hub writes each file to a temporary `.incomplete` file and moves it into the cache
only once whole, so a download cut halfway leaves no truncated file under the model's name: the next run resumes
it, and an offline run refuses the incomplete snapshot (IncompleteSnapshotError) rather than use it.

Every failure is one line naming the id and the revision: not on the Hub (404), gated (401/403: accept the
licence on the model's page and set HF_TOKEN), no such revision, not in the cache while offline, a download cut
off, a repository without safetensors weights, and huggingface_hub missing (`pip install 'attncli[hub]'`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from attncli.errors import AttnError, param

OPTION = "MODEL"
# the files attncli reads, by huggingface_hub's fnmatch patterns (relative to the repository's root)
PATTERNS = ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
            "special_tokens_map.json", "added_tokens.json", "spm.model", "spiece.model", "tokenizer.model",
            "model.safetensors", "model.safetensors.index.json", "model-*.safetensors"]
# owner/name as the Hub spells repository ids (huggingface_hub's validate_repo_id: letters, digits, - _ .)
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")
INSTALL = "pip install 'attncli[hub]'"


def looks_like_hub_id(model: str) -> bool:
    """Whether `model` is spelled as a Hub id, owner/name (no '..' or '--', not ending in '.' or '-')."""
    return (HUB_ID.fullmatch(model) is not None and ".." not in model and "--" not in model
            and not model.endswith((".", "-")) and "/." not in model and "/-" not in model)


def resolve(model: str, revision: str | None = None) -> str:
    """The folder MODEL names: a local path as it is (no network), or a Hub id's snapshot in the Hugging Face
    cache, downloaded first when it is not there. `revision` (a branch, tag or commit) is for Hub ids only."""
    if revision is not None and (not revision.strip() or revision != revision.strip()):
        raise AttnError(f"{param('revision')} takes a branch, tag or commit of the Hub's repository (e.g. main); "
                        f"got {revision!r}")
    if os.path.exists(model) or not looks_like_hub_id(model):
        if revision is not None:
            raise AttnError(f"{param('revision')} picks a revision of a model on the Hugging Face Hub, but "
                            f"'{model}' is a local {'folder' if os.path.exists(model) else 'path'}, which has none; "
                            f"drop {param('revision')}, or give a Hub id (owner/name)")
        return model
    try:
        import huggingface_hub
    except ImportError:
        raise AttnError(f"{OPTION}: '{model}' is not a folder here; to download it from the Hugging Face Hub, "
                        f"install attncli's hub extra: {INSTALL}") from None
    from huggingface_hub import constants
    from huggingface_hub.utils import logging as hub_logging

    where = f"'{model}' (revision {revision or 'main'})"
    level = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()  # its retry warnings: the one line below says how it ended
    try:
        folder = huggingface_hub.snapshot_download(model, revision=revision, allow_patterns=PATTERNS)
    except Exception as err:  # noqa: BLE001 - every failure of the Hub or the network becomes one line
        raise AttnError(_failure(err, model, revision or "main", constants)) from None
    finally:
        hub_logging.set_verbosity(level)
    if not any(name.endswith(".safetensors") for name in os.listdir(folder)):
        raise AttnError(f"{OPTION}: the Hub's {where} has no safetensors weights (model.safetensors or its "
                        "shards); attncli reads safetensors only and never downloads or unpickles a pickle "
                        "(pytorch_model.bin, *.pt): use a repository (or revision) that has safetensors, or "
                        "convert it with transformers' save_pretrained(folder, safe_serialization=True) and give "
                        "that folder")
    return folder


def _failure(err: Exception, model: str, revision: str, constants: Any) -> str:
    """The one line for an exception snapshot_download raised (re-raised when it is not the Hub's or the
    network's: a bug stays a bug)."""
    from huggingface_hub import errors

    where = f"'{model}' (revision {revision})"
    kind = type(err).__name__
    status = getattr(getattr(err, "response", None), "status_code", None)
    cache = constants.HF_HUB_CACHE
    if isinstance(err, errors.GatedRepoError):
        return (f"{OPTION}: {where} is a gated model and the Hub refused access (HTTP {status}): accept its licence "
                f"on https://huggingface.co/{model} with your account, then set HF_TOKEN to a token of that account")
    if isinstance(err, errors.RevisionNotFoundError):
        return (f"{OPTION}: the Hub has '{model}' but no revision '{revision}' (HTTP {status}); give a branch, tag "
                "or commit it has")
    if isinstance(err, errors.RepositoryNotFoundError):
        return (f"{OPTION}: no folder '{model}' here and no model {where} on the Hugging Face Hub (HTTP {status}); "
                "check the spelling (owner/name), or for a private model set HF_TOKEN")
    if kind == "IncompleteSnapshotError":
        return (f"{OPTION}: the Hugging Face cache ({cache}) holds only part of {where} (a download was cut off) "
                "and the Hub cannot be reached; attncli does not use an incomplete model: run again online to "
                "finish the download")
    if isinstance(err, errors.LocalEntryNotFoundError):
        offline = constants.HF_HUB_OFFLINE
        why = ("HF_HUB_OFFLINE=1 forbids downloading it: unset HF_HUB_OFFLINE to download it" if offline
               else f"the Hub cannot be reached ({constants.ENDPOINT}): check the connection or HF_ENDPOINT")
        return (f"{OPTION}: no folder '{model}' here, and the Hub id {where} is not in the Hugging Face cache "
                f"({cache}) and {why}")
    if isinstance(err, errors.HfHubHTTPError):
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else kind
        return f"{OPTION}: the Hugging Face Hub answered {where} with an error (HTTP {status}): {first}"
    network = type(err).__module__.split(".")[0] in ("httpx", "httpx2", "requests", "urllib3", "ssl")
    if network or isinstance(err, OSError):
        text = " ".join(str(err).split())[:200] or kind
        return (f"{OPTION}: downloading {where} from the Hugging Face Hub failed ({kind}: {text}); nothing "
                "half-written is kept under the model's name: run again to resume the download")
    raise err
