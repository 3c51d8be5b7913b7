"""A stand-in Hugging Face Hub on 127.0.0.1 for offline tests of the real ``huggingface_hub`` client.

It answers the endpoints huggingface_hub 2.4.0 calls for ``snapshot_download``,
``hf_hub_download``, ``model_info`` / ``repo_info``, ``list_repo_tree`` / ``list_repo_files``,
``file_exists`` and ``get_safetensors_metadata`` (read in the venv's
``huggingface_hub/{hf_api,file_download,_snapshot_download,utils/_http}.py``):

- ``GET /api/models/{repo}[/revision/{rev}]`` → ``{"id", "sha", "siblings"}``;
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` → ``[{"type": "file", "path", "size", "oid", "lfs"?}]``;
- ``HEAD|GET /{repo}/resolve/{rev}/{file}`` with ``X-Repo-Commit``, ``ETag`` (the sha256 of
  LFS files, the git blob sha1 of others, as the Hub), ``Content-Length`` and ``Range`` (206);
- errors carry the Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound),
  from which the client raises its own error types.

Revisions arrive ``quote(rev, safe="")``-encoded (``refs%2Fpr%2F3``). Every request is logged
(``hub.requests``), so a test can assert which files were downloaded. Use it as a context
manager and point the client at it with ``with hub.client():`` (HF_ENDPOINT for subprocesses,
and the constants huggingface_hub read from it at import in this process).

Recorded layouts (``tests/hub_layouts/<org>__<repo>.json``):
``{"repo", "revision", "source", "files": [names], "texts": {name: json or text}, ...}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import pathlib
import threading
import urllib.parse
from typing import Mapping

import pytest

LAYOUTS = pathlib.Path(__file__).parent / "hub_layouts"
# Files the Hub stores in LFS (its .gitattributes defaults): their ETag is the sha256.
_LFS_SUFFIXES = (".safetensors", ".bin", ".npz", ".pt", ".pth", ".msgpack", ".h5", ".model", ".ckpt", ".onnx")
# Content of files a layout lists but a test does not make (README.md, pytorch_model.bin, ...):
# served so the listing is the publisher's, never read by a converter.
PLACEHOLDER = b"stand-in Hub: this file is listed as published but its content is not recorded\n"


def read_layout(repo: str) -> dict:
  """The recorded layout of ``repo`` (``org/name``) from tests/hub_layouts."""
  return json.loads((LAYOUTS / f"{repo.replace('/', '__')}.json").read_text())


def layout_texts(layout: dict) -> dict[str, bytes]:
  """A layout's recorded small files as bytes (JSON values re-serialised)."""
  return {name: (value if isinstance(value, str) else json.dumps(value, indent=2)).encode()
          for name, value in (layout.get("texts") or {}).items()}


def _git_blob_sha1(data: bytes) -> str:
  return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Repo:
  """One repo: commits (hash → {name: bytes or a file read when asked}) and refs (branch/tag/PR → commit)."""

  def __init__(self):
    self.commits: dict[str, dict[str, bytes | pathlib.Path]] = {}
    self.refs: dict[str, str] = {}


def _content(value: bytes | pathlib.Path) -> bytes:
  return value.read_bytes() if isinstance(value, pathlib.Path) else value


_SHA256: dict[tuple, str] = {}


def _sha256(value: bytes | pathlib.Path) -> str:
  """sha256 of a file's content, computed once per (path, size, mtime) for large files on disk."""
  if isinstance(value, pathlib.Path):
    stat = value.stat()
    key = (str(value), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
      _SHA256[key] = hashlib.sha256(value.read_bytes()).hexdigest()
    return _SHA256[key]
  return hashlib.sha256(value).hexdigest()


def _size(value: bytes | pathlib.Path) -> int:
  return value.stat().st_size if isinstance(value, pathlib.Path) else len(value)


class LocalHub:
  """The stand-in Hub: ``add(repo, files, commit=..., refs=...)`` then talk to ``endpoint``."""

  def __init__(self):
    self.repos: dict[str, _Repo] = {}
    self.requests: list[tuple[str, str, str | None]] = []  # (method, unquoted path, Range header)
    self._server = None

  # --- content ----------------------------------------------------------------------------------
  def add(self, repo: str, files: Mapping[str, bytes | pathlib.Path], *, commit: str | None = None,
          refs: tuple[str, ...] = ("main",)) -> str:
    """Publishes ``files`` (name → bytes, or a file read when requested) as one commit of
    ``repo`` that each of ``refs`` points to; returns the commit (given, else a sha1 of the
    names and contents)."""
    data = {name: value if isinstance(value, pathlib.Path) else bytes(value) for name, value in files.items()}
    if commit is None:
      digest = hashlib.sha1(repo.encode())
      for name in sorted(data):
        digest.update(name.encode() + _sha256(data[name]).encode())
      commit = digest.hexdigest()
    entry = self.repos.setdefault(repo, _Repo())
    entry.commits[commit] = data
    for ref in refs:
      entry.refs[ref] = commit
    return commit

  def add_layout(self, layout: dict, made: Mapping[str, bytes | pathlib.Path], *, refs=("main",)) -> str:
    """Publishes a recorded layout: its texts, ``made`` (the weights a test generated) and a
    placeholder for every other listed file; at the layout's commit (when it records a 40-hex
    one), with ``main`` and the layout's named revision (e.g. ``refs/pr/3``) pointing to it."""
    files = {name: PLACEHOLDER for name in layout.get("files") or ()}
    files.update(layout_texts(layout))
    files.update(made)
    revision = layout.get("revision") or ""
    commit = revision if _is_commit(revision) else None
    named = tuple(refs) + ((revision,) if revision and not commit else ())
    return self.add(layout["repo"], files, commit=commit, refs=named)

  def replace_file(self, repo: str, commit: str, name: str, data: bytes) -> None:
    """Changes a file in place at ``commit`` (what a tampered mirror or a force-push looks like)."""
    self.repos[repo].commits[commit][name] = data

  def downloads(self, repo: str, *, ranged: bool = False) -> list[str]:
    """Files of ``repo`` fetched whole with GET so far (``ranged``: those read in part, with a
    Range header, e.g. a safetensors header)."""
    prefix = f"/{repo}/resolve/"
    return [path[len(prefix):].split("/", 1)[1] for method, path, byte_range in self.requests
            if method == "GET" and path.startswith(prefix) and bool(byte_range) == ranged]

  # --- server -----------------------------------------------------------------------------------
  @property
  def endpoint(self) -> str:
    return f"http://127.0.0.1:{self._server.server_address[1]}"

  def __enter__(self) -> "LocalHub":
    hub = self

    class Handler(_Handler):
      pass
    Handler.hub = hub
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self._server.daemon_threads = True
    threading.Thread(target=self._server.serve_forever, daemon=True).start()
    return self

  def __exit__(self, *exc) -> None:
    self._server.shutdown()
    self._server.server_close()

  @contextlib.contextmanager
  def client(self):
    """huggingface_hub in this process and its subprocesses pointed at this Hub, online: the
    environment (HF_ENDPOINT, HF_HUB_OFFLINE=0) and the constants huggingface_hub derived
    from it when it was imported (ENDPOINT, its URL template and trusted hosts, offline)."""
    from huggingface_hub import constants
    with pytest.MonkeyPatch.context() as patch:
      patch.setenv("HF_ENDPOINT", self.endpoint)
      patch.setenv("HF_HUB_OFFLINE", "0")
      patch.setattr(constants, "ENDPOINT", self.endpoint)
      patch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", self.endpoint + "/{repo_id}/resolve/{revision}/{filename}")
      patch.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
      patch.setattr(constants, "HF_HUB_OFFLINE", False)
      yield self

  # --- lookups used by the handler ---------------------------------------------------------------
  def _commit(self, repo: str, revision: str) -> tuple[str, dict[str, bytes]] | str:
    """(commit, files), or the Hub's error code."""
    if repo not in self.repos:
      return "RepoNotFound"
    entry = self.repos[repo]
    commit = entry.refs.get(revision, revision)
    if commit not in entry.commits:
      return "RevisionNotFound"
    return commit, entry.commits[commit]


def _is_commit(text: str) -> bool:
  return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def _file_entry(name: str, data: bytes | pathlib.Path) -> dict:
  if name.endswith(_LFS_SUFFIXES):  # the Hub's oid of an LFS file is its pointer's; the sha256 is in "lfs"
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{_sha256(data)}\nsize {_size(data)}\n".encode()
    return {"type": "file", "path": name, "size": _size(data), "oid": _git_blob_sha1(pointer),
            "lfs": {"oid": _sha256(data), "size": _size(data), "pointerSize": len(pointer)}}
  return {"type": "file", "path": name, "size": _size(data), "oid": _git_blob_sha1(_content(data))}


class _Handler(http.server.BaseHTTPRequestHandler):
  hub: LocalHub
  protocol_version = "HTTP/1.1"

  def log_message(self, *args):  # quiet: the test log is for the tests
    pass

  def do_HEAD(self):
    self._route(body=False)

  def do_GET(self):
    self._route(body=True)

  def _route(self, body: bool):
    url = urllib.parse.urlsplit(self.path)
    parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
    self.hub.requests.append((self.command, "/" + "/".join(parts), self.headers.get("Range")))
    if parts[:2] == ["api", "models"] and len(parts) >= 4:
      return self._api(parts[2:], body)
    if len(parts) >= 5 and parts[2] == "resolve":
      return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), body)
    self._error(404, "EntryNotFound", f"no route {url.path}")

  def _api(self, parts: list[str], body: bool):
    repo = f"{parts[0]}/{parts[1]}"
    rest = parts[2:]
    if not rest or rest[0] == "revision":
      found = self.hub._commit(repo, rest[1] if len(rest) > 1 else "main")
      if isinstance(found, str):
        return self._error(404, found, f"{repo}: {found}")
      commit, files = found
      return self._json({"id": repo, "modelId": repo, "sha": commit, "private": False, "gated": False,
                         "siblings": [{"rfilename": name} for name in sorted(files)]}, body)
    if rest[0] == "tree" and len(rest) >= 2:
      found = self.hub._commit(repo, rest[1])
      if isinstance(found, str):
        return self._error(404, found, f"{repo}: {found}")
      folder = "/".join(rest[2:]).strip("/")
      files = found[1]
      entries = [_file_entry(name, data) for name, data in sorted(files.items())
                 if not folder or name.startswith(folder + "/")]
      return self._json(entries, body)
    self._error(404, "EntryNotFound", f"no API route {'/'.join(parts)}")

  def _resolve(self, repo: str, revision: str, name: str, body: bool):
    found = self.hub._commit(repo, revision)
    if isinstance(found, str):
      return self._error(404, found, f"{repo}@{revision}: {found}")
    commit, files = found
    if name not in files:
      return self._error(404, "EntryNotFound", f"{repo}@{revision} has no {name}", commit)
    value = files[name]
    size = _size(value)
    etag = _sha256(value) if name.endswith(_LFS_SUFFIXES) else _git_blob_sha1(_content(value))
    start, end, status = 0, size - 1, 200
    ranged = self.headers.get("Range") or self.headers.get("range")
    if ranged and ranged.startswith("bytes="):
      first, _, last = ranged[len("bytes="):].partition("-")
      start = int(first or 0)
      end = min(int(last), size - 1) if last else size - 1
      status = 206
    self.send_response(status)
    self.send_header("X-Repo-Commit", commit)
    self.send_header("ETag", f'"{etag}"')
    self.send_header("Content-Type", "application/octet-stream")
    self.send_header("Content-Length", str(end + 1 - start))
    if status == 206:
      self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
    self.end_headers()
    if body:
      self._send_bytes(value, start, end + 1)

  def _send_bytes(self, value, start: int, stop: int):
    if not isinstance(value, pathlib.Path):
      self.wfile.write(value[start:stop])
      return
    with open(value, "rb") as handle:
      handle.seek(start)
      left = stop - start
      while left > 0:
        block = handle.read(min(left, 1 << 22))
        if not block:
          break
        self.wfile.write(block)
        left -= len(block)

  def _json(self, value, body: bool):
    data = json.dumps(value).encode()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    if body:
      self.wfile.write(data)

  def _error(self, status: int, code: str, message: str, commit: str | None = None):
    data = json.dumps({"error": message}).encode()
    self.send_response(status)
    self.send_header("X-Error-Code", code)
    self.send_header("X-Error-Message", message)
    if commit:
      self.send_header("X-Repo-Commit", commit)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    if self.command != "HEAD":
      self.wfile.write(data)
