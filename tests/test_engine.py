"""The batched engine against plain Hugging Face code on a tiny random chat model (no downloads).

The fixture's model is initialised with transformers' small default std, which makes its greedy
output a constant token; `chat_model_dir` re-draws the weights at unit scale so that outputs
differ between prompts and steps, which is what batching, ordering and stopping need to show.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from evalgate.errors import ConfigError
from evalgate.models import Engine, GenerationParams, ModelSettings, load_model, resolve_model

QUESTIONS = [
    "hello",
    "My order ORD-123456 has not arrived yet, where is it?",
    "The capital of France is",
    "abc",
    "Return window is 30 days. Shipping fee is 4.99 EUR. Warranty lasts two years. The fee?",
    "Siparişim ORD-654321 hala gelmedi",
    '{"intent": "order_status"}',
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """A tiny model is all per-op overhead; a second thread only adds synchronisation (and on a
    busy machine, much waiting)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def chat_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("chat-model")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, parameter.shape[-1] ** -0.5, generator=generator)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def loaded(chat_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    resolved = resolve_model(str(chat_model_dir), tmp_path_factory.mktemp("cache"))
    return load_model(resolved, ModelSettings(dtype="float32", device="cpu"))


@pytest.fixture(scope="module")
def engine(loaded) -> Engine:
    return Engine(loaded, max_batch=3)  # several batches, rows of different lengths in each


@pytest.fixture(scope="module")
def prompts(engine: Engine) -> list[str]:
    return [engine.render_chat([{"role": "user", "content": q}]) for q in QUESTIONS]


def hf_generate(loaded, prompts: list[str], max_new_tokens: int) -> list[list[int]]:
    """Reference: HF generate, greedy, batched with left padding; tokens up to and including EOS."""
    tokenizer, model = loaded.tokenizer, loaded.model
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
    sequences = []
    for row in out[:, enc["input_ids"].shape[1] :].tolist():
        cut = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
        sequences.append(row[:cut])
    return sequences


def as_texts(loaded, sequences: list[list[int]]) -> list[str]:
    eos = {loaded.tokenizer.eos_token_id, *_list(loaded.model.generation_config.eos_token_id)}
    return [
        loaded.tokenizer.decode([t for t in seq if t not in eos], skip_special_tokens=True)
        for seq in sequences
    ]


def _list(value) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def test_batched_equals_one_at_a_time_and_hf_generate(loaded, engine, prompts):
    params = GenerationParams(max_new_tokens=12)
    batched = engine.generate(prompts, params)
    single = [Engine(loaded, max_batch=1).generate([p], params)[0] for p in prompts]
    reference = hf_generate(loaded, prompts, 12)
    assert batched == single
    assert [g.text for g in batched] == as_texts(loaded, reference)
    assert [g.new_tokens for g in batched] == [len(seq) for seq in reference]
    assert [g.prompt_tokens for g in batched] == [len(engine.encode(p)) for p in prompts]
    assert len({g.text for g in batched}) > 1, "the model must produce different outputs per prompt"
    assert all(g.finish_reason == "length" and g.new_tokens == 12 for g in batched)


def test_order_is_preserved_whatever_the_input_order(engine, prompts):
    params = GenerationParams(max_new_tokens=6)
    forward = engine.generate(prompts, params)
    backward = engine.generate(prompts[::-1], params)
    assert backward == forward[::-1]


def test_rows_finishing_at_eos_at_different_steps(chat_model_dir, prompts, monkeypatch):
    """Make a token that appears mid-output the EOS, so rows stop at different steps while the
    rest of the batch continues (finished rows are dropped from the KV cache)."""
    from evalgate.models.engine import kv_cache as engine_module

    batch_sizes: list[int] = []
    make_cache = engine_module.make_cache

    def spying_make_cache(config, capacity):
        cache = make_cache(config, capacity)
        select = cache.batch_select_indices

        def batch_select_indices(indices):
            batch_sizes.append(len(indices))
            select(indices)

        cache.batch_select_indices = batch_select_indices
        return cache

    monkeypatch.setattr(engine_module, "make_cache", spying_make_cache)
    resolved = resolve_model(str(chat_model_dir), chat_model_dir.parent / "cache-eos")
    loaded = load_model(resolved, ModelSettings(dtype="float32", device="cpu"))
    free_run = hf_generate(loaded, prompts, 16)
    stop_token = free_run[1][5]
    loaded.model.generation_config.eos_token_id = [loaded.tokenizer.eos_token_id, stop_token]
    params = GenerationParams(max_new_tokens=16)
    batched = Engine(loaded, max_batch=8).generate(prompts, params)
    single = [Engine(loaded, max_batch=1).generate([p], params)[0] for p in prompts]
    reference = hf_generate(loaded, prompts, 16)
    assert batched == single
    # With 3 slots, prompts are admitted into the running batch as others finish (KV merges).
    merges: list[int] = []
    refilling = Engine(loaded, max_batch=3)
    merge = refilling._merge
    monkeypatch.setattr(
        refilling,
        "_merge",
        lambda running, fresh, max_new: (
            merges.append(running is not None),
            merge(running, fresh, max_new),
        )[1],
    )
    assert refilling.generate(prompts, params) == batched
    assert any(merges), "rows must have been admitted into a running batch"
    assert [g.text for g in batched] == as_texts(loaded, reference)
    assert [g.new_tokens for g in batched] == [len(seq) for seq in reference]
    reasons = [g.finish_reason for g in batched]
    assert reasons[1] == "eos" and batched[1].new_tokens <= 6
    assert "length" in reasons, "some rows must run on after others stopped"
    for g, seq in zip(batched, reference):
        assert (g.finish_reason == "eos") == (seq[-1] == stop_token)
    assert batch_sizes and min(batch_sizes) < len(prompts), "finished rows must leave the batch"


def test_shared_prefix_is_computed_once_with_the_same_result(loaded, engine):
    """A long system prompt shared by all prompts: prefilled once, copied to every row."""
    system = "You are a helpful assistant. Answer with JSON only. Return window is 30 days."
    prompts = [
        engine.render_chat([{"role": "system", "content": system}, {"role": "user", "content": q}])
        for q in QUESTIONS
    ]
    lengths = []
    model = loaded.model
    hook = model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    try:
        params = GenerationParams(max_new_tokens=10)
        batched = Engine(loaded, max_batch=8).generate(prompts, params)
    finally:
        hook.remove()
    assert lengths[0][0] == 1 and lengths[0][1] >= 20, "the shared prefix runs once, as one row"
    assert lengths[1] == (len(prompts), max(len(engine.encode(p)) for p in prompts) - lengths[0][1])
    single = [Engine(loaded, max_batch=1).generate([p], params)[0] for p in prompts]
    assert batched == single
    assert [g.text for g in batched] == as_texts(loaded, hf_generate(loaded, prompts, 10))


def test_stop_strings_cut_before_the_stop(engine, prompts):
    full = engine.generate(prompts, GenerationParams(max_new_tokens=16))
    text = full[2].text
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip() and len(text) > 4
    cut = engine.generate(prompts, GenerationParams(max_new_tokens=16, stop=(stop, "\u2603never")))
    assert cut[2].finish_reason == "stop"
    assert cut[2].text == text[: text.find(stop)]
    assert cut[2].new_tokens < 16
    for before, after in zip(full, cut):
        if stop in before.text:
            assert (
                after.finish_reason == "stop"
                and after.text == before.text[: before.text.find(stop)]
            )
        else:
            assert after == before


def test_max_new_tokens_is_respected(engine, prompts):
    for limit in (1, 5):
        out = engine.generate(prompts, GenerationParams(max_new_tokens=limit))
        assert all(g.new_tokens == limit and g.finish_reason == "length" for g in out)
    none = engine.generate(prompts[:2], GenerationParams(max_new_tokens=0))
    assert [(g.text, g.new_tokens, g.finish_reason) for g in none] == [("", 0, "length")] * 2


def test_deterministic_and_progress_callback(engine, prompts):
    seen: list[int] = []
    first = engine.generate(prompts, GenerationParams(max_new_tokens=8), on_done=seen.append)
    second = engine.generate(prompts, GenerationParams(max_new_tokens=8))
    assert first == second
    assert sum(seen) == len(prompts) and all(n > 0 for n in seen)


def test_generation_params_are_validated():
    with pytest.raises(ConfigError, match="max_new_tokens"):
        GenerationParams(max_new_tokens=-1)
    with pytest.raises(ConfigError, match="stop"):
        GenerationParams(stop=("",))
    assert GenerationParams(stop="\n").stop == ("\n",)
    assert GenerationParams(stop=["a", "b"]).stop == ("a", "b")  # type: ignore[arg-type]


def test_too_long_prompt_is_a_config_error(engine):
    with pytest.raises(ConfigError, match="window"):
        engine.generate(["abc " * 600], GenerationParams(max_new_tokens=4))


# -- scoring ---------------------------------------------------------------------------------------


def naive_loglikelihood(loaded, context: str, continuation: str) -> tuple[float, bool]:
    """Unbatched, unpadded reference: full forward, full log-softmax."""
    tok = loaded.tokenizer
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logprobs = torch.log_softmax(loaded.model(input_ids=ids).logits[0].float(), dim=-1)
    rows = logprobs[len(ctx) - 1 : len(ctx) + len(cont) - 1]
    targets = torch.tensor(cont)
    total = rows.gather(-1, targets[:, None]).sum().item()
    return total, bool((rows.argmax(-1) == targets).all())


def naive_token_logprobs(loaded, text: str) -> list[float]:
    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logprobs = torch.log_softmax(
            loaded.model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1
        )
    return [logprobs[i - 1, ids[i]].item() for i in range(1, len(ids))]


def option_letters(engine: Engine) -> list[str]:
    """Four single-token continuations (" A" is two tokens in the tiny tokenizer, "A" is one)."""
    for letters in ([" A", " B", " C", " D"], ["A", "B", "C", "D"]):
        if all(len(engine.encode(letter)) == 1 for letter in letters):
            return letters
    raise AssertionError("no single-token option letters in this tokenizer")


def mixed_requests(engine: Engine) -> list[tuple[str, str]]:
    letters = option_letters(engine)
    requests = []
    for q in QUESTIONS[:4]:
        requests += [(f"Question: {q}\nAnswer:", letter) for letter in letters]
        requests.append((f"Question: {q}\nAnswer:", " The answer is A, B, C or D."))
    requests += [
        ("The capital of France is", " Paris."),
        ("abc", "defghijklmnop"),
        ("", "hello there"),
    ]
    return requests


def test_loglikelihood_equals_naive_computation(loaded, engine):
    requests = mixed_requests(engine)
    seen: list[int] = []
    got = engine.loglikelihood(requests, on_done=seen.append)
    assert sum(seen) == len(requests)
    for (context, continuation), (logprob, greedy) in zip(requests, got):
        if not context:  # the engine conditions an empty context on the BOS/EOS token
            context = loaded.tokenizer.decode([engine.prefix_id])
        ref_logprob, ref_greedy = naive_loglikelihood(loaded, context, continuation)
        assert logprob == pytest.approx(ref_logprob, abs=1e-4)
        assert greedy == ref_greedy


def test_loglikelihood_greedy_flag_matches_greedy_generation(loaded, engine, prompts):
    checked = 0
    for prompt in prompts:
        greedy_ids = hf_generate(loaded, [prompt], 3)[0]
        continuation = loaded.tokenizer.decode(greedy_ids)
        # Only continuations that re-tokenise to the same ids are the greedy decode token for token.
        if engine.encode(continuation) != greedy_ids:
            continue
        ((logprob, greedy),) = engine.loglikelihood([(prompt, continuation)])
        assert greedy and logprob < 0
        other = loaded.tokenizer.decode([(greedy_ids[0] + 1) % 300 + 3, *greedy_ids[1:]])
        if engine.encode(other) != greedy_ids:
            ((_, not_greedy),) = engine.loglikelihood([(prompt, other)])
            assert not not_greedy
        checked += 1
    assert checked >= 2


def test_single_token_grouped_path_equals_general_path(loaded, engine):
    requests = [
        (f"Question: {q}\nAnswer:", letter) for q in QUESTIONS for letter in option_letters(engine)
    ]
    for q in QUESTIONS:  # plus each context's own greedy next token, where it round-trips
        context = f"Question: {q}\nAnswer:"
        token = loaded.tokenizer.decode(hf_generate(loaded, [context], 1)[0])
        if len(engine.encode(token)) == 1:
            requests.append((context, token))
    grouped = engine.loglikelihood(requests)
    general: list = [None] * len(requests)
    items = []
    for i, (context, continuation) in enumerate(requests):
        ids = engine.encode(context) + engine.encode(continuation)
        items.append((i, ids, 1))
    with torch.inference_mode():
        engine._score_general(items, general, None)
    for (a_logprob, a_greedy), (b_logprob, b_greedy) in zip(grouped, general):
        assert a_logprob == pytest.approx(b_logprob, abs=1e-4)
        assert a_greedy == b_greedy
    assert any(greedy for _, greedy in grouped)


def test_loglikelihood_with_shared_few_shot_prefixes_equals_naive(loaded, engine):
    """Two 'subjects' whose contexts share long few-shot prefixes: each prefix is computed once
    per batch and reused through the KV cache; the scores must not change."""
    letters = option_letters(engine)
    shots = {
        "orders": "Q: My order ORD-123456 has not arrived yet, where is it?\nA: B\n\n" * 2,
        "capital": "Q: The capital of France is Paris. The answer is A, B, C or D.\nA: A\n\n" * 2,
    }
    requests = []
    for header in shots.values():
        for q in QUESTIONS[:3]:
            context = f"{header}Q: {q}\nA:"
            requests += [(context, letter) for letter in letters]
            requests.append((context, " The answer is A, B, C or D."))
    batch_rows: list[int] = []
    hook = loaded.model.register_forward_pre_hook(
        lambda module, args, kwargs: batch_rows.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        got = Engine(loaded).loglikelihood(requests)
    finally:
        hook.remove()
    assert 1 in batch_rows and max(batch_rows) > 1, "prefixes run once (1 row), then the batch"
    for (context, continuation), (logprob, greedy) in zip(requests, got):
        ref_logprob, ref_greedy = naive_loglikelihood(loaded, context, continuation)
        assert logprob == pytest.approx(ref_logprob, abs=1e-4)
        assert greedy == ref_greedy


def test_prefix_runs_keep_long_shared_prefixes_together(engine):
    header = [7] * 10
    few_shot_a = header + [1] * 40
    few_shot_b = header + [2] * 40
    seqs = [
        few_shot_a + [5, 6],
        few_shot_b + [5],
        few_shot_a + [9],
        [3, 3],
        few_shot_b + [8, 8],
        [4],
    ]
    runs = engine._prefix_runs(seqs)
    assert sorted(map(sorted, runs)) == [[0, 2], [1, 4], [3, 5]]


def test_loglikelihood_empty_continuation(engine):
    assert engine.loglikelihood([("abc", "")]) == [(0.0, True)]


def test_token_logprobs_equal_naive(loaded, engine):
    texts = [*QUESTIONS, "a", ""]
    got = engine.token_logprobs(texts)
    for text, values in zip(texts, got):
        reference = naive_token_logprobs(loaded, text) if text else []
        assert len(values) == len(reference)
        assert values == pytest.approx(reference, abs=1e-4)


def test_bfloat16_engine_runs_and_batches_consistently(chat_model_dir, prompts):
    resolved = resolve_model(str(chat_model_dir), chat_model_dir.parent / "cache-bf16")
    loaded = load_model(resolved, ModelSettings(dtype="bfloat16", device="cpu"))
    assert loaded.dtype == "bfloat16" and loaded.model.dtype == torch.bfloat16
    out = Engine(loaded, max_batch=4).generate(prompts, GenerationParams(max_new_tokens=6))
    assert all(g.new_tokens == 6 for g in out)
    scores = Engine(loaded).loglikelihood([("Question: hello\nAnswer:", "A")])
    assert scores[0][0] < 0


def test_each_result_is_handed_over_as_it_finishes(engine, prompts):
    handed: dict[int, object] = {}
    results = engine.generate(prompts, GenerationParams(max_new_tokens=8),
                              on_result=lambda i, g: handed.setdefault(i, g))
    assert handed == dict(enumerate(results))
