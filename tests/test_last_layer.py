"""The last layer computed for the last position only: the same last-position logits as the
full forward (left padding, and a KV cache holding a shared prefix), the layer restored after."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evalgate.models.engine.last_layer import last_position_only


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoModelForCausalLM

    from tests.tiny import build_tiny_llama

    folder = build_tiny_llama(tmp_path_factory.mktemp("last") / "m", seed=1, hidden_size=32,
                              initializer_range=0.5)
    return AutoModelForCausalLM.from_pretrained(folder).eval()


def test_same_last_position_logits_with_left_padding(model):
    torch.manual_seed(0)
    ids = torch.randint(5, 300, (3, 12))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0
    mask[1, :2] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    layer = model.model.layers[-1]
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                     logits_to_keep=1).logits
        with last_position_only(model) as applied:
            assert "forward" in vars(layer)
            fast = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                         logits_to_keep=1).logits
        assert "forward" not in vars(layer)  # the class's own forward again
        again = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                      logits_to_keep=1).logits
    assert applied and fast.shape == full.shape
    assert torch.allclose(fast, full, atol=1e-5) and torch.equal(again, full)


def test_same_scores_through_the_engine_with_a_shared_prefix(tmp_path: Path, tiny_model_dir,
                                                              monkeypatch):
    """MMLU-shaped requests (one shared header, single-token continuations: one last-position
    pass per question, the header's KV cached) score the same with the shortcut as without."""
    import contextlib

    import evalgate.models.engine.score as score
    from evalgate.models import Engine, ModelSettings, load_model, resolve_model

    resolved = resolve_model(str(tiny_model_dir), tmp_path)
    engine = Engine(load_model(resolved, ModelSettings(dtype="float32")))
    tokenizer = engine.tokenizer
    letters = [text for text in (" A", "A", "B", "C", "D", " 1", " 2")
               if len(tokenizer(text, add_special_tokens=False)["input_ids"]) == 1]
    assert len(letters) >= 3
    header = "The following are multiple choice questions about shipping.\n\n" * 3
    questions = [f"Question {i}: how many days{'?' * i}\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"
                 for i in range(6)]
    requests = [(header + q, letter) for q in questions for letter in letters]
    fast = [value for value, _ in engine.loglikelihood(requests)]
    monkeypatch.setattr(score, "last_position_only", lambda model: contextlib.nullcontext(False))
    slow = [value for value, _ in engine.loglikelihood(requests)]
    assert fast == pytest.approx(slow, abs=1e-4)
    assert len(set(round(v, 3) for v in fast)) > len(letters)  # the scores differ by question
