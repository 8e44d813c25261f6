"""The registry: promotion from a PROMOTE verdict only, atomic aliases under a simulated crash,
concurrent promotions from several processes, hash checks on load, names that cannot escape."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalgate.errors import ConfigError, RunError
from evalgate.registry.store import Registry, safe_name

REPO = Path(__file__).resolve().parents[1]


def fake_adapter(folder: Path, tag: str) -> tuple[Path, Path, Path, dict]:
    """An adapter folder, manifest and verdict on disk (the registry itself trusts its caller's
    verdict check; evalgate.gate.promote does that check)."""
    from evalgate.util.files import sha256_file, sha256_json

    adapter = folder / tag / "sft"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"tag": tag}))
    (adapter / "adapter_model.safetensors").write_bytes(tag.encode() * 1000)
    files = {p.name: sha256_file(p) for p in sorted(adapter.iterdir())}
    manifest = folder / tag / "manifest.json"
    manifest.write_text(json.dumps({"run_id": tag}))
    verdict = {"decision": "PROMOTE", "adapter": {"sha256": sha256_json(files), "files": files,
                                                  "run_id": tag},
               "manifest": {"sha256": sha256_file(manifest)}, "allow_changed_criteria": False}
    verdict_path = folder / tag / "verdict.json"
    verdict_path.write_text(json.dumps(verdict))
    return adapter, manifest, verdict_path, verdict


def _promote_worker(root: str, folder: str, tag: str) -> None:
    adapter, manifest, verdict_path, verdict = fake_adapter(Path(folder), tag)
    Registry(Path(root)).promote(name="triage", adapter_dir=adapter, manifest_path=manifest,
                                 verdict_path=verdict_path, verdict=verdict)


def test_concurrent_promotions_leave_a_valid_registry(tmp_path: Path):
    root = tmp_path / "registry"
    tags = [f"run{i}" for i in range(6)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_promote_worker, args=(str(root), str(tmp_path), t))
                 for t in tags]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    registry = Registry(root)
    assert registry.versions("triage") == [f"v{i}" for i in range(1, 7)]
    events = registry.audit_entries()           # every line parses
    assert len(events) == 6 and all(e["action"] == "promote" and e["who"] for e in events)
    assert sorted(e["run_id"] for e in events) == tags
    assert len({e["version"] for e in events}) == 6
    alias = json.loads(registry.alias_path("triage", "production").read_text())
    assert alias["version"] == events[-1]["version"] and len(alias["history"]) == 6
    entry = registry.load("triage", "production")  # hashes verified
    assert entry.version == alias["version"]
    assert not list((root / "triage").glob(".staging-*"))


CRASH = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    import evalgate.registry.store as registry
    from tests.test_registry import fake_adapter
    where = sys.argv[1]
    if where == "alias":
        registry.move_alias = lambda *a, **k: os._exit(9)
    else:
        import shutil
        real = shutil.copy2
        def crash(src, dst, *a, **k):
            if str(dst).endswith("verdict.json"):
                os._exit(9)
            return real(src, dst, *a, **k)
        shutil.copy2 = crash
    adapter, manifest, verdict_path, verdict = fake_adapter(Path({folder!r}), "new-" + where)
    registry.Registry(Path({root!r})).promote(name="triage", adapter_dir=adapter,
        manifest_path=manifest, verdict_path=verdict_path, verdict=verdict)
""")


@pytest.mark.parametrize("where", ["alias", "copy"])
def test_crash_mid_promotion_leaves_the_previous_alias(tmp_path: Path, where: str):
    root = tmp_path / "registry"
    _promote_worker(str(root), str(tmp_path), "old")
    script = CRASH.format(repo=str(REPO), folder=str(tmp_path), root=str(root))
    result = subprocess.run([sys.executable, "-c", script, where], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 9, result.stderr
    registry = Registry(root)
    assert registry.alias_target("triage", "production") == "v1"
    assert registry.load("triage", "production").info["run_id"] == "old"
    assert len(registry.audit_entries()) == 1
    # The registry still works after the crash (a leftover staging folder is ignored).
    _promote_worker(str(root), str(tmp_path), "later")
    assert registry.load("triage", "production").info["run_id"] == "later"


def test_rollback_and_tamper_detection(tmp_path: Path):
    root = tmp_path / "registry"
    _promote_worker(str(root), str(tmp_path), "a")
    _promote_worker(str(root), str(tmp_path), "b")
    registry = Registry(root)
    assert registry.rollback("triage").version == "v1"
    assert registry.alias_target("triage", "production") == "v1"
    assert [e["action"] for e in registry.audit_entries()] == ["promote", "promote", "rollback"]
    (root / "triage" / "v2" / "adapter" / "adapter_model.safetensors").write_bytes(b"evil")
    with pytest.raises(RunError, match="does not match its hashes"):
        registry.load("triage", "v2")
    with pytest.raises(RunError):
        registry.rollback("triage", to="v2")
    assert registry.alias_target("triage", "production") == "v1"


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "", "x" * 81, "/abs"])
def test_names_cannot_escape_the_registry(tmp_path: Path, name: str):
    with pytest.raises(ConfigError):
        safe_name(name, "registry name")
    adapter, manifest, verdict_path, verdict = fake_adapter(tmp_path, "t")
    with pytest.raises(ConfigError):
        Registry(tmp_path / "registry").promote(name=name, adapter_dir=adapter,
                                                manifest_path=manifest,
                                                verdict_path=verdict_path, verdict=verdict)
    with pytest.raises(ConfigError):
        Registry(tmp_path / "registry").promote(name="ok", adapter_dir=adapter,
                                                manifest_path=manifest,
                                                verdict_path=verdict_path, verdict=verdict,
                                                alias=name)
    assert not (tmp_path / "registry").exists()  # refused: nothing written, not even a lock


def test_files_beside_the_adapter_are_not_copied_and_do_not_block(tmp_path: Path):
    """`evalgate train` leaves evalgate-stage.json beside the adapter files; the verdict names
    only the adapter's files, and exactly those enter the registry."""
    adapter, manifest, verdict_path, verdict = fake_adapter(tmp_path, "t")
    (adapter / "evalgate-stage.json").write_text('{"stage": "sft"}')
    entry = Registry(tmp_path / "registry").promote(
        name="triage", adapter_dir=adapter, manifest_path=manifest,
        verdict_path=verdict_path, verdict=verdict)
    assert sorted(p.name for p in entry.adapter_dir.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors"]
    assert Registry(tmp_path / "registry").load("triage").version == "v1"


def test_a_failed_promotion_leaves_no_trace(tmp_path: Path):
    adapter, manifest, verdict_path, verdict = fake_adapter(tmp_path, "t")
    (adapter / "adapter_model.safetensors").write_bytes(b"changed after the gate")
    with pytest.raises(RunError, match="adapter_model.safetensors no longer match"):
        Registry(tmp_path / "registry").promote(
            name="triage", adapter_dir=adapter, manifest_path=manifest,
            verdict_path=verdict_path, verdict=verdict)
    assert not (tmp_path / "registry").exists()


def test_a_failed_promotion_keeps_an_existing_registry_as_it_was(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    first = fake_adapter(tmp_path, "a")
    registry.promote(name="triage", adapter_dir=first[0], manifest_path=first[1],
                     verdict_path=first[2], verdict=first[3])
    before = sorted((str(p.relative_to(tmp_path)), p.read_bytes() if p.is_file() else b"")
                    for p in (tmp_path / "registry").rglob("*"))
    adapter, manifest, verdict_path, verdict = fake_adapter(tmp_path, "b")
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(RunError):
        registry.promote(name="triage", adapter_dir=adapter, manifest_path=manifest,
                         verdict_path=verdict_path, verdict=verdict)
    with pytest.raises(RunError):
        registry.promote(name="other", adapter_dir=adapter, manifest_path=manifest,
                         verdict_path=verdict_path, verdict=verdict)
    after = sorted((str(p.relative_to(tmp_path)), p.read_bytes() if p.is_file() else b"")
                   for p in (tmp_path / "registry").rglob("*"))
    assert after == before


def test_a_refused_rollback_writes_nothing(tmp_path: Path):
    with pytest.raises(ConfigError):
        Registry(tmp_path / "registry").rollback("triage")
    assert not (tmp_path / "registry").exists()
