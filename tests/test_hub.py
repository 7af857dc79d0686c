"""`attncli model owner/name`: a Hub id resolved through the Hugging Face cache (attncli/models/hub.py), tested
against a loopback Hub: a threaded http.server on 127.0.0.1 that answers the requests huggingface_hub makes
(model info `api/models/{id}/revision/{rev}`, the file tree `api/models/{id}/tree/{commit}`, and HEAD / GET of
`{id}/resolve/{rev}/{file}` with the ETag, X-Repo-Commit and Content-Length headers it needs, Range requests
too; safetensors files are LFS files, redirected to a CDN on another host name as the Hub does, with
X-Linked-Etag and X-Linked-Size), reached through HF_ENDPOINT, with a fresh HF_HOME per test.

The repositories hold copies of golden checkpoints (tests/golden/models), so a run from the Hub is compared with
what transformers computed for that checkpoint. Skipped only when huggingface_hub is not installed (CI installs
it with attncli[test]).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from cli_helpers import attncli_command, run

pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed (pip install 'attncli[hub]')")

GOLDEN = Path(__file__).parent / "golden" / "models"
MAIN, V2 = "a" * 40, "b" * 40  # commits


def files_of(case: str, *extra: str) -> dict[str, bytes]:
    """A golden case's checkpoint as a repository's files, plus what attncli must never download."""
    files = {p.name: p.read_bytes() for p in (GOLDEN / case).iterdir()
             if p.name in ("config.json", "model.safetensors", "tokenizer.json")}
    junk = {"pytorch_model.bin": b"PK\x03\x04 a pickle: never downloaded", "README.md": b"# a model\n",
            "onnx/model.safetensors": b"never downloaded", "original/consolidated.safetensors": b"never"}
    files.update({name: junk[name] for name in extra})
    return files


class Hub:
    """The loopback Hub: repos[id] = {revision: commit}, commits[commit] = {path: bytes}; `gated` ids answer
    401 (no token) or 403 (a token) to file requests; `cut[path]` = "once" (the first GET stops halfway, a resume
    gets the rest) or "always" (every GET stops halfway, a resume gets nothing); `log` holds (method, path)."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, str]] = {}
        self.commits: dict[str, dict[str, bytes]] = {}
        self.gated: set[str] = set()
        self.cut: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo: str, revisions: dict[str, str], files: dict[str, dict[str, bytes]]) -> None:
        self.repos[repo] = {**revisions, **{c: c for c in revisions.values()}}
        self.commits.update(files)

    def fetched(self) -> set[str]:
        """The files whose bytes were asked for (from resolve/, or the CDN an LFS file is redirected to)."""
        return {unquote(p.split("?f=", 1)[1]) if p.startswith("/cdn/") else unquote(p.split("/resolve/", 1)[1]
                                                                                     .split("/", 1)[1])
                for m, p in self.log if m == "GET" and ("/resolve/" in p or p.startswith("/cdn/"))}

    # ---- answers
    def answer(self, req: BaseHTTPRequestHandler, body: bool) -> None:
        url = urlsplit(req.path)
        path = url.path
        self.log.append((req.command, req.path))
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "cdn" and len(parts) == 2:  # where the Hub redirects an LFS file (another host's name)
            name = unquote(url.query.removeprefix("f="))
            blob = next((b for files in self.commits.values() for n, b in files.items()
                         if n == name and hashlib.sha256(b).hexdigest() == parts[1]), None)
            if blob is None:
                self.error(req, 404, None, "no such blob")
            else:
                self.file(req, None, name, blob, body)
        elif parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
            repo, what, rev = f"{parts[2]}/{parts[3]}", parts[4], parts[5]
            commit = self.commit(req, repo, rev)
            if commit is None:
                return
            files = self.commits[commit]
            if what == "revision":
                data = {"id": repo, "modelId": repo, "sha": commit, "private": False, "disabled": False,
                        "gated": "auto" if repo in self.gated else False,
                        "siblings": [{"rfilename": name} for name in sorted(files)]}
            else:
                data = [{"type": "file", "path": name, "size": len(blob), "oid": hashlib.sha1(blob).hexdigest(),
                         **({"lfs": {"oid": hashlib.sha256(blob).hexdigest(), "size": len(blob), "pointerSize": 134}}
                            if name.endswith(".safetensors") else {})}
                        for name, blob in sorted(files.items())]
            self.send(req, 200, json.dumps(data).encode(), {"Content-Type": "application/json"}, body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo, rev, name = f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:])
            commit = self.commit(req, repo, rev)
            if commit is None:
                return
            if repo in self.gated:
                token = "authorization" in {k.lower() for k in req.headers}
                self.error(req, 403 if token else 401, "GatedRepo", f"Access to model {repo} is restricted.")
                return
            blob = self.commits[commit].get(name)
            if blob is None:
                self.error(req, 404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
                return
            if name.endswith(".safetensors"):  # an LFS file: the Hub answers with a redirect to its CDN
                digest = hashlib.sha256(blob).hexdigest()
                cdn = f"http://localhost:{self.server.server_address[1]}/cdn/{digest}?f={name}"
                linked = {"Location": cdn, "X-Repo-Commit": commit, "X-Linked-Etag": f'"{digest}"',
                          "X-Linked-Size": str(len(blob)), "ETag": f'"{hashlib.sha1(blob).hexdigest()}"'}
                self.send(req, 302, b"", linked, body)
                return
            self.file(req, commit, name, blob, body)
        else:
            self.error(req, 404, None, "Not found")

    def commit(self, req: BaseHTTPRequestHandler, repo: str, rev: str) -> str | None:
        if repo not in self.repos:
            self.error(req, 404, "RepoNotFound", "Repository not found")
            return None
        if rev not in self.repos[repo]:
            self.error(req, 404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return self.repos[repo][rev]

    def file(self, req: BaseHTTPRequestHandler, commit: str | None, name: str, blob: bytes, body: bool) -> None:
        headers = {"ETag": f'"{hashlib.sha256(blob).hexdigest()}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream", **({"X-Repo-Commit": commit} if commit else {})}
        ranged = req.headers.get("Range")
        mode = self.cut.get(name) if body else None
        if ranged and mode == "always":  # the resume finds the connection gone too
            req.close_connection = True
            req.connection.shutdown(2)
            return
        if ranged:
            start = int(ranged.split("=", 1)[1].split("-", 1)[0])
            headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
            self.send(req, 206, blob[start:], headers, body)
            return
        if mode is not None:  # promise the whole file, send half of it, close the connection
            if mode == "once":
                del self.cut[name]
            req.send_response(200)
            for key, value in {**headers, "Content-Length": str(len(blob))}.items():
                req.send_header(key, value)
            req.end_headers()
            req.wfile.write(blob[: len(blob) // 2])
            req.wfile.flush()
            req.close_connection = True
            req.connection.shutdown(2)
            return
        self.send(req, 200, blob, headers, body)

    def error(self, req: BaseHTTPRequestHandler, status: int, code: str | None, text: str,
              extra: dict | None = None) -> None:
        headers = {"X-Error-Message": text, **({"X-Error-Code": code} if code else {}), **(extra or {})}
        self.send(req, status, json.dumps({"error": text}).encode(), {"Content-Type": "application/json",
                                                                      **headers}, True)

    @staticmethod
    def send(req: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict, body: bool) -> None:
        req.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            req.send_header(key, value)
        req.end_headers()
        if body and req.command != "HEAD":
            req.wfile.write(data)


@pytest.fixture()
def hub():
    server = Hub()
    server.add("tiny/gpt2", {"main": MAIN, "v2": V2}, {MAIN: files_of("gpt2", "pytorch_model.bin", "README.md",
                                                                      "onnx/model.safetensors",
                                                                      "original/consolidated.safetensors"),
                                                       V2: files_of("gpt2_6heads")})
    yield server
    server.stop()


@pytest.fixture()
def env(tmp_path: Path, hub: Hub) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "TRANSFORMERS_"))}
    out.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_XET="1", HF_HUB_ETAG_TIMEOUT="5")
    return out


def attncli(args: list, env: dict, check: bool = True):
    return run(args, env=env, check=check)


def failed(args: list, env: dict) -> str:
    """A run that must fail as a user error: exit 2, one `error:` line."""
    import subprocess

    proc = subprocess.run(attncli_command() + [str(a) for a in args], env=env, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}: {err}"
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def maps(args: list, env: dict, tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / "out.npz"
    attncli(["model", *args, "--show", "attentions,hidden", "--format", "npz", "-o", out], env)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def assert_is_case(got: dict[str, np.ndarray], case: str) -> None:
    with np.load(GOLDEN / case / "expected.npz") as z:
        assert np.abs(got["attentions"] - z["attentions"][:, 0]).max() <= 1e-5, case
        assert got["ids"].tolist() == z["input_ids"][0].tolist()


def ids_of(case: str) -> list[str]:
    return ["--ids", " ".join(map(str, json.loads((GOLDEN / case / "case.json").read_text())["ids"][0]))]


def snapshot(env: dict, commit: str) -> Path:
    return Path(env["HF_HOME"]) / "hub" / "models--tiny--gpt2" / "snapshots" / commit


# ---------------------------------------------------------------------------------------------------------------


def test_a_hub_id_is_downloaded_once_then_found_offline(hub: Hub, env: dict, tmp_path: Path):
    got = maps(["tiny/gpt2", *ids_of("gpt2")], env, tmp_path)
    assert_is_case(got, "gpt2")
    assert hub.fetched() == {"config.json", "model.safetensors", "tokenizer.json"}  # no pickle, no subfolder
    assert sorted(p.name for p in snapshot(env, MAIN).iterdir()) == ["config.json", "model.safetensors",
                                                                     "tokenizer.json"]
    meta = json.loads(attncli(["model", "tiny/gpt2", "--text", "the cat sat", "--format", "json"], env).stdout)
    assert meta["meta"]["model"] == "tiny/gpt2"
    hub.stop()
    assert_is_case(maps(["tiny/gpt2", *ids_of("gpt2")], {**env, "HF_HUB_OFFLINE": "1"}, tmp_path), "gpt2")
    assert_is_case(maps(["tiny/gpt2", *ids_of("gpt2")], env, tmp_path), "gpt2")  # the Hub unreachable: the cache


def test_huggingface_hub_progress_bars_go_to_stderr(hub: Hub, env: dict):
    env = {k: v for k, v in env.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    proc = attncli(["model", "tiny/gpt2", *ids_of("gpt2"), "--format", "json"], env)
    json.loads(proc.stdout)  # stdout holds the result only
    assert b"Fetching 3 files" in proc.stderr or b"100%" in proc.stderr, proc.stderr


def test_a_revision_by_branch_and_by_commit(hub: Hub, env: dict, tmp_path: Path):
    assert_is_case(maps(["tiny/gpt2", "--revision", "v2", *ids_of("gpt2_6heads")], env, tmp_path), "gpt2_6heads")
    assert snapshot(env, V2).is_dir() and not snapshot(env, MAIN).exists()
    assert_is_case(maps(["tiny/gpt2", "--revision", V2, *ids_of("gpt2_6heads")], env, tmp_path), "gpt2_6heads")
    for bad in ("", " main"):
        assert "--revision takes a branch, tag or commit" in failed(["model", "tiny/gpt2", "--revision", bad,
                                                                     "--ids", "1 2"], env)
    err = failed(["model", "tiny/gpt2", "--revision", "nope", "--ids", "1 2"], env)
    assert "'tiny/gpt2'" in err and "no revision 'nope'" in err and "404" in err, err


def test_a_model_not_on_the_hub_is_one_line_naming_it(hub: Hub, env: dict):
    err = failed(["model", "nobody/nothing", "--revision", "v1", "--ids", "1 2"], env)
    assert "'nobody/nothing' (revision v1)" in err and "HTTP 404" in err and "no folder" in err, err


def test_a_gated_model_says_accept_the_licence_and_set_hf_token(hub: Hub, env: dict):
    hub.add("meta/gated", {"main": "c" * 40}, {"c" * 40: files_of("llama_gqa")})
    hub.gated.add("meta/gated")
    for extra, status in (({}, 401), ({"HF_TOKEN": "hf_" + "x" * 34}, 403)):
        err = failed(["model", "meta/gated", "--ids", "1 2"], {**env, **extra})
        assert "gated" in err and f"HTTP {status}" in err and "licence" in err and "HF_TOKEN" in err, err
        assert "https://huggingface.co/meta/gated" in err, err


def test_a_download_cut_halfway_is_never_used_as_a_model(hub: Hub, env: dict, tmp_path: Path):
    """The connection closes halfway through model.safetensors (and again on the resume): one line; nothing
    truncated under the model's name; an offline run refuses the incomplete snapshot; the next run online
    downloads it whole."""
    hub.cut["model.safetensors"] = "always"
    err = failed(["model", "tiny/gpt2", *ids_of("gpt2")], env)
    assert "downloading 'tiny/gpt2' (revision main)" in err and "run again" in err, err
    assert not (snapshot(env, MAIN) / "model.safetensors").exists()  # nothing truncated under its name
    size = len((GOLDEN / "gpt2" / "model.safetensors").read_bytes())
    blobs = Path(env["HF_HOME"]) / "hub" / "models--tiny--gpt2" / "blobs"
    assert all(p.stat().st_size not in (size // 2, size) for p in blobs.iterdir())
    asked = len(hub.log)
    err = failed(["model", "tiny/gpt2", *ids_of("gpt2")], {**env, "HF_HUB_OFFLINE": "1"})
    assert "holds only part of 'tiny/gpt2'" in err and "does not use an incomplete model" in err, err
    assert len(hub.log) == asked  # offline: not a request
    del hub.cut["model.safetensors"]
    assert_is_case(maps(["tiny/gpt2", *ids_of("gpt2")], env, tmp_path), "gpt2")


def test_a_download_cut_halfway_resumes_on_the_next_request(hub: Hub, env: dict, tmp_path: Path):
    hub.cut["model.safetensors"] = "once"
    assert_is_case(maps(["tiny/gpt2", *ids_of("gpt2")], env, tmp_path), "gpt2")
    assert [m for m, p in hub.log if p.endswith("f=model.safetensors") and m == "GET"] == ["GET", "GET"]


def test_a_repository_with_pickles_only_is_refused_without_downloading_them(hub: Hub, env: dict):
    files = {k: v for k, v in files_of("gpt2", "pytorch_model.bin").items() if k != "model.safetensors"}
    hub.add("old/bin-only", {"main": "d" * 40}, {"d" * 40: files})
    err = failed(["model", "old/bin-only", "--ids", "1 2"], env)
    assert "no safetensors weights" in err and "reads safetensors only" in err, err
    assert "pytorch_model.bin" not in hub.fetched()


def test_a_local_folder_never_touches_the_network(hub: Hub, env: dict, tmp_path: Path):
    folder = tmp_path / "tiny" / "gpt2"  # spelled like the Hub id, and a folder here: the folder wins
    shutil.copytree(GOLDEN / "gpt2", folder)
    assert_is_case(_in(tmp_path, ["tiny/gpt2", *ids_of("gpt2")], env), "gpt2")
    assert hub.log == []
    err = failed(["model", folder, "--revision", "main", "--ids", "1 2"], env)
    assert "--revision picks a revision" in err and "local folder" in err, err
    assert hub.log == []


def _in(cwd: Path, args: list, env: dict) -> dict[str, np.ndarray]:
    out = cwd / "local.npz"
    run(["model", *args, "--format", "npz", "-o", out], env=env, cwd=cwd)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def test_without_huggingface_hub_a_hub_id_names_the_extra(tmp_path: Path, env: dict):
    fake = tmp_path / "fake" / "huggingface_hub"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('huggingface_hub is not installed')\n")
    err = failed(["model", "Qwen/Qwen3-0.6B", "--text", "hi"], {**env, "PYTHONPATH": str(tmp_path / "fake")})
    assert "pip install 'attncli[hub]'" in err and "'Qwen/Qwen3-0.6B'" in err, err


def test_a_path_that_is_not_a_hub_id_is_not_looked_up(hub: Hub, env: dict):
    for path in ("./missing", "a/b/c", "missing", "../x/y"):
        err = failed(["model", path, "--ids", "1 2"], env)
        assert "no such folder" in err and "or a Hub id (owner/name" in err, err
    assert hub.log == []


def test_compute_config_takes_a_hub_ids_config(hub: Hub, env: dict, tmp_path: Path):
    """compute --config owner/name/config.json --layer L: the layer of the Hub's model (main), as from a folder."""
    with np.load(GOLDEN / "gpt2" / "expected.npz") as z:
        np.save(tmp_path / "h.npy", z["hidden"][1, 0].astype(np.float32))
        want = z["attentions"][1, 0]
    attncli(["compute", "--config", "tiny/gpt2/config.json", "--layer", "1", "--x", tmp_path / "h.npy", "--show",
             "weights", "--format", "npy", "-o", tmp_path / "w.npy"], env)
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), want, atol=1e-5, rtol=0)
    assert "model.safetensors" in hub.fetched()
