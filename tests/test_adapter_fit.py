"""An adapter made for another base model is refused before peft loads it: exit 2 with two
lines (what does not fit, with both sizes, and the fix), not a failed run listing every size
mismatch. An adapter whose shapes fit loads whatever its config calls its base (a warning)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.errors import ConfigError, EvalgateWarning
from evalgate.models import ModelSettings, load_model, resolve_model
from tests.gate_project import relative_project
from tests.tiny import build_tiny_llama

SETTINGS = ModelSettings(dtype="float32", device="cpu")


def write_lora(model_dir: Path, folder: Path, r: int = 2, serialization: str = "safetensors",
               **options) -> Path:
    """A LoRA on `model_dir` as another tool would save it (PeftModel.save_pretrained)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj"], **options)
    get_peft_model(model, config).save_pretrained(
        folder, safe_serialization=serialization == "safetensors")
    return folder


def hidden_size(model_dir: Path) -> int:
    return json.loads((model_dir / "config.json").read_text())["hidden_size"]


def other_vocabulary(model_dir: Path, folder: Path) -> Path:
    """The tiny model's width with 100 more tokens (another tokenizer, same layers)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig.from_pretrained(model_dir)
    config.vocab_size += 100
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wide_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama twice as wide (hidden size 32): another base of the same family."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-wide"), hidden_size=32)


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return relative_project(tmp_path, tiny_model_dir, monkeypatch)


def test_an_adapter_for_another_base_is_refused_in_two_lines(
        project: Path, tiny_model_dir: Path, wide_model_dir: Path, capsys):
    # Another hidden size and another rank than the project's own adapters (r=2).
    write_lora(wide_model_dir, project / "elsewhere" / "wide-lora", r=4)
    assert main(["lock"]) == 0
    assert main(["baseline"]) == 0  # so that the gate's stderr is the gate's alone
    capsys.readouterr()
    wide, base = hidden_size(wide_model_dir), hidden_size(tiny_model_dir)
    assert wide != base

    # As a user gates an adapter from another tool, and evaluates a system YAML naming it.
    system = project / "systems" / "wide.yaml"
    system.parent.mkdir()
    system.write_text(yaml.safe_dump({
        "name": "wide", "kind": "adapter", "adapter": "../elsewhere/wide-lora",
        "prompts": {"tiny": {"user": "Ticket: {input}"}}}))
    for argv in (["gate", "elsewhere/wide-lora", "--system", "baselines/prompt.yaml"],
                 ["eval", "--system", "systems/wide.yaml"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) <= 4, err  # no list of size mismatches
        assert "size mismatch" not in err and "Traceback" not in err
        what, fix = lines[-2:]
        assert what.startswith("error: elsewhere/wide-lora: ")
        assert f"trained on {wide_model_dir}" in what
        assert f"(hidden size {wide})" in what and f"(hidden size {base})" in what
        assert fix.strip().startswith(f"fix: train the adapter on {tiny_model_dir}")
        assert "`model.base` in evalgate.yaml" in fix and str(wide_model_dir) in fix
    assert not (project / "reports" / "gate").exists()


def test_an_adapter_whose_shapes_fit_loads_whatever_it_calls_its_base(
        project: Path, tiny_model_dir: Path, tmp_path_factory, capsys):
    # A sibling: the same shapes, other weights, another name in base_model_name_or_path.
    sibling = build_tiny_llama(tmp_path_factory.mktemp("sibling"), seed=1)
    adapter = write_lora(sibling, project / "elsewhere" / "sibling-lora")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(sibling) != str(tiny_model_dir)
    assert main(["lock"]) == 0
    capsys.readouterr()
    # An untrained LoRA answers like the base model: gated (INCONCLUSIVE on 12 examples), not
    # refused.
    with warnings.catch_warnings():
        warnings.simplefilter("always", EvalgateWarning)  # whatever -W the suite runs with
        assert main(["gate", str(adapter), "--system", "baselines/prompt.yaml"]) == 1
    captured = capsys.readouterr()
    assert "INCONCLUSIVE" in captured.out
    [warning] = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert f"says it was trained on {sibling}" in warning and "Every weight fits" in warning
    [folder] = (project / "reports" / "gate").iterdir()
    verdict = json.loads((folder / "report.json").read_text())
    assert verdict["adapter"]["path"] == "elsewhere/sibling-lora"


def test_an_adapter_on_its_own_base_loads_without_a_word(tiny_model_dir: Path, tmp_path: Path):
    adapter = write_lora(tiny_model_dir, tmp_path / "lora")
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(resolved, SETTINGS, adapter)
    assert loaded.adapter == adapter
    assert not [w for w in caught if issubclass(w.category, EvalgateWarning)]


def test_another_vocabulary_is_refused_where_a_weight_depends_on_it(
        tiny_model_dir: Path, tmp_path: Path):
    """A LoRA on the attention alone fits any model of the same width (a warning: the names
    differ); a saved output layer has the vocabulary in its shape and does not fit."""
    other = other_vocabulary(tiny_model_dir, tmp_path / "other-vocab")
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    with pytest.warns(EvalgateWarning, match="says it was trained on"):
        load_model(resolved, SETTINGS, write_lora(other, tmp_path / "attention-only"))
    head = write_lora(other, tmp_path / "with-head", modules_to_save=["lm_head"])
    vocab = json.loads((other / "config.json").read_text())["vocab_size"]
    with pytest.raises(ConfigError) as raised:
        load_model(resolved, SETTINGS, head)
    message = str(raised.value)
    assert f"(vocabulary size {vocab})" in message and f"(vocabulary size {vocab - 100})" in message
    lora_weights = 2 * 2 * 2  # 2 layers × (q_proj, v_proj) × (A, B); all fit
    assert f"1 of its {lora_weights + 1} weights do not fit" in message
    assert len(message.splitlines()) == 2


def test_shapes_are_read_from_a_bin_adapter_too(tiny_model_dir: Path, wide_model_dir: Path,
                                                tmp_path: Path):
    adapter = write_lora(wide_model_dir, tmp_path / "wide-bin", serialization="bin")
    assert (adapter / "adapter_model.bin").is_file()
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    wide = hidden_size(wide_model_dir)
    with pytest.raises(ConfigError, match=rf"hidden size {wide}\), but served on .*none of its "):
        load_model(resolved, SETTINGS, adapter)


def test_a_config_and_weights_from_different_adapters_are_refused(
        tiny_model_dir: Path, tmp_path: Path):
    adapter = write_lora(tiny_model_dir, tmp_path / "lora", r=2)
    config_path = adapter / "adapter_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "r": 8}))
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    with pytest.raises(ConfigError, match="says r: 8, but adapter_model.safetensors holds "
                                          "rank 2"):
        load_model(resolved, SETTINGS, adapter)


def test_missing_adapter_files_are_named(tiny_model_dir: Path, tmp_path: Path):
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    adapter = write_lora(tiny_model_dir, tmp_path / "lora")
    # A weights file under another name is not what peft loads.
    (adapter / "adapter_model.safetensors").rename(adapter / "model.safetensors")
    with pytest.raises(ConfigError) as raised:
        load_model(resolved, SETTINGS, adapter)
    assert raised.value.path == str(adapter / "adapter_model.safetensors")
    assert "weights are missing" in str(raised.value)
    (adapter / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="adapter_model.safetensors is missing"):
        load_model(resolved, SETTINGS, adapter)
    (adapter / "adapter_config.json").unlink()
    with pytest.raises(ConfigError, match="adapter_config.json is missing"):
        load_model(resolved, SETTINGS, adapter)
