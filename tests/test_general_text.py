"""General-text perplexity: the packaged text set, bad input files, the overlap guard against
training data, and the per-document NLL against a hand computation on a tiny random Llama."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from evalgate.capability.general_text import (
    TextSet,
    check_no_overlap,
    load_general_text,
    mean_nll,
    packaged_path,
    score_perplexity,
)
from evalgate.errors import ConfigError
from evalgate.models import Engine, ModelSettings, load_model, resolve_model

REPO = Path(__file__).resolve().parents[1]

# Support-ticket and shop vocabulary: the example project trains on support tickets, so the
# general text must not even talk about them.
SUPPORT_WORDS = re.compile(
    r"\b(refund\w*|returns?|returned|orders?|ordered|ordering|tickets?|shipping|shipped|"
    r"shipments?|invoices?|customers?|deliver\w*|warrant\w*|parcels?|checkout|carts?|"
    r"purchas\w*|shop\w*|stores?|accounts?|passwords?|subscriptions?|e-?commerce|"
    r"discounts?|couriers?|tracking|complaints?|cancel\w*|receipts?)\b", re.IGNORECASE)


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value (a record's text fields, nested ones included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# -- the packaged set ----------------------------------------------------------------------------


def test_packaged_set_loads_with_its_source_and_hash():
    text_set = load_general_text()
    assert text_set.path == packaged_path() and text_set.path.name == "general_text.jsonl"
    assert text_set.source == ("evalgate general text v1 (60 documents written for evalgate, "
                               "CC0)")
    assert text_set.sha256 == hashlib.sha256(text_set.path.read_bytes()).hexdigest()
    assert len(text_set) == 60
    ids = [d.id for d in text_set.documents]
    assert ids == [f"gt-{i:03d}" for i in range(1, 61)]
    assert [d.line for d in text_set.documents] == list(range(1, 61))
    for document in text_set.documents:
        words = len(document.text.split())
        assert 90 <= words <= 140, (document.id, words)
        assert not SUPPORT_WORDS.search(document.text), (
            document.id, SUPPORT_WORDS.findall(document.text))


def test_packaged_set_spreads_over_topics_and_is_packaged():
    rows = [json.loads(line) for line in packaged_path().read_text("utf-8").splitlines()]
    assert all(set(row) == {"id", "topic", "text"} for row in rows)
    topics = Counter(row["topic"] for row in rows)
    assert set(topics) == {"natural science", "history", "geography", "everyday life",
                           "cooking", "sport", "arts", "technology", "health", "economics",
                           "language"}
    assert max(topics.values()) <= 6
    texts = [" ".join(row["text"].casefold().split()) for row in rows]
    assert len(set(texts)) == 60
    # Installed from a wheel too, not only from a source checkout.
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["evalgate"]
    assert any(packaged_path().relative_to(REPO / "evalgate").match(g) for g in globs)


# -- a user's file -------------------------------------------------------------------------------


def test_users_file_loads_with_ids_or_line_numbers(tmp_path: Path):
    path = _write(tmp_path / "own.jsonl", [{"id": "a", "text": "First text."}, "",
                                           {"text": "Second text.", "topic": "x"},
                                           {"id": 7, "text": "Third."}])
    text_set = load_general_text(path)
    assert text_set.source == str(path) and text_set.path == path
    assert [(d.id, d.text, d.line) for d in text_set.documents] == [
        ("a", "First text.", 1), ("doc-3", "Second text.", 3), ("7", "Third.", 4)]


def _config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load_general_text(path)
    assert error.value.path == os.path.normpath(str(path))
    assert error.value.fix
    return error.value


def test_bad_files_are_config_errors_naming_file_and_line(tmp_path: Path):
    error = _config_error(tmp_path / "missing.jsonl")
    assert "not found" in str(error) and error.key == "general_text"
    assert "general_text:" in str(error.fix)

    for name, content in (("zero.jsonl", b""), ("blank.jsonl", b"\n  \n")):
        (tmp_path / name).write_bytes(content)
        error = _config_error(tmp_path / name)
        assert "no documents" in str(error) and error.key == "general_text"

    (tmp_path / "latin1.jsonl").write_bytes(
        b'{"text": "fine"}\n{"text": "caf\xe9 au lait"}\n')
    error = _config_error(tmp_path / "latin1.jsonl")
    assert "not UTF-8" in str(error) and error.line == 2

    _write(tmp_path / "broken.jsonl", [{"text": "fine"}, "{not json"])
    error = _config_error(tmp_path / "broken.jsonl")
    assert "malformed JSON" in str(error) and error.line == 2

    for row, message in (({"id": "a"}, "missing field `text`"),
                         ({"text": "   "}, "non-empty `text`"),
                         ({"text": ["a", "list"]}, "non-empty `text`"),
                         ({"text": "ok", "id": ""}, "`id` must be")):
        error = _config_error(_write(tmp_path / "rows.jsonl", [{"text": "fine"}, row]))
        assert message in str(error) and error.line == 2 and error.key == "general_text"

    error = _config_error(_write(tmp_path / "dupes.jsonl", [
        {"id": "x", "text": "one"}, {"id": "y", "text": "two"}, {"id": "x", "text": "three"}]))
    assert "duplicate document id 'x' (first on line 1)" in str(error) and error.line == 3
    # A written id that collides with a generated one is a duplicate too.
    error = _config_error(_write(tmp_path / "dupes2.jsonl", [
        {"text": "one"}, {"id": "doc-1", "text": "two"}]))
    assert "duplicate document id 'doc-1'" in str(error) and error.key == "general_text"


# -- overlap with the training data --------------------------------------------------------------


def _training_texts() -> tuple[list[str], list[Path]]:
    paths = sorted((REPO / "training" / "data").glob("*.jsonl"))
    texts = [s for path in paths for line in path.read_text("utf-8").splitlines()
             if line.strip() for s in _strings(json.loads(line))]
    return texts, paths


def test_packaged_set_shares_no_text_with_the_example_training_data():
    texts, paths = _training_texts()
    assert paths and len(texts) > 1000  # tickets, labels and tags of every record
    text_set = load_general_text()
    for path in paths:
        check_no_overlap(text_set, texts, path)


def _overlap_error(text_set: TextSet, training: list[str], path: Path | None) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        check_no_overlap(text_set, training, path)
    assert error.value.key == "general_text"
    assert error.value.path == os.path.normpath(str(text_set.path))
    return error.value


def test_overlap_catches_copied_documents_and_long_spans(tmp_path: Path):
    text_set = load_general_text()
    tickets, _ = _training_texts()
    training_path = tmp_path / "train.jsonl"
    doc = text_set.documents[9]

    # The same text, re-cased and re-punctuated.
    copied = doc.text.upper().replace(",", "")
    error = _overlap_error(text_set, [*tickets, copied], training_path)
    assert f"document {doc.id} is the same text" in str(error)
    assert str(training_path) in str(error) and error.line == doc.line

    # A near duplicate: one sentence dropped, a greeting added.
    sentences = doc.text.split(". ")
    edited = "Hello team, " + ". ".join(sentences[:2] + sentences[3:])
    error = _overlap_error(text_set, [*tickets, edited], training_path)
    assert f"document {doc.id} is a near duplicate" in str(error)

    # A 20-word span pasted into a long ticket: too little for the near-duplicate test
    # (containment far below 50%), caught as a verbatim span.
    other = text_set.documents[41]
    span = " ".join(other.text.split()[30:50])
    words = " ".join(t for t in tickets if len(t.split()) > 20).split()
    ticket = " ".join([*words[:100], span, *words[100:140]])
    error = _overlap_error(text_set, [ticket], None)
    assert f"document {other.id} shares a 20-word verbatim span" in str(error)
    assert "in the training data:" in str(error)

    # Several documents: the first named, the others counted.
    error = _overlap_error(text_set, [d.text for d in text_set.documents[3:10]], training_path)
    assert "document gt-004" in str(error) and "6 more documents overlap: gt-005" in str(error)

    # A 12-word phrase in a long ticket, shorter than the span, is no overlap.
    phrase = " ".join(other.text.split()[30:42])
    ticket = " ".join([*words[:100], phrase, *words[100:140]])
    check_no_overlap(text_set, [*tickets, ticket], training_path)


# -- scoring -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharp_loaded(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny Llama with weights re-drawn at unit scale (as in test_capability.py): its
    default init gives near-uniform log-probs, which would agree with anything."""
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("sharp-general-text")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, parameter.shape[-1] ** -0.5, generator=generator)
    model.save_pretrained(folder)
    resolved = resolve_model(str(folder), tmp_path_factory.mktemp("cache"))
    return load_model(resolved, ModelSettings(dtype="float32", device="cpu"))


@pytest.fixture()
def small_set(tmp_path: Path) -> TextSet:
    """Documents of different lengths, so rows are padded differently within a batch."""
    texts = ["The capital of France is Paris.",
             "Bread needs flour, water, salt and yeast; the dough rises slowly overnight.",
             "Tides follow the Moon.",
             " ".join(d.text for d in load_general_text().documents[:1])[:300]]
    return load_general_text(_write(tmp_path / "small.jsonl", [{"text": t} for t in texts]))


def test_perplexity_matches_a_hand_computation(sharp_loaded, small_set: TextSet):
    """Each document's NLL is -log_softmax(model(ids).logits) at the next token, summed over
    every token but the first, one unpadded document at a time with plain transformers."""
    counted: list[int] = []
    scores = score_perplexity(Engine(sharp_loaded, token_budget=256), small_set,
                              on_done=counted.append)
    assert sum(counted) == len(small_set) and list(scores) == [d.id for d in small_set.documents]
    model, tokenizer = sharp_loaded.model, sharp_loaded.tokenizer
    means = []
    for document in small_set.documents:
        ids = tokenizer(document.text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(),
                                         dim=-1)
        expected = -sum(logprobs[k, ids[k + 1]].item() for k in range(len(ids) - 1))
        total, count = scores[document.id]
        assert count == len(ids) - 1
        assert total == pytest.approx(expected, rel=1e-5, abs=1e-3)
        assert mean_nll(scores[document.id]) == pytest.approx(expected / count, rel=1e-5)
        means.append(expected / count)
    assert max(means) - min(means) > 0.1  # the model tells the documents apart
    one_by_one = score_perplexity(Engine(sharp_loaded, max_batch=1), small_set)
    for doc_id, (total, count) in one_by_one.items():
        assert count == scores[doc_id][1]
        assert total == pytest.approx(scores[doc_id][0], rel=1e-5, abs=1e-3)


def test_documents_the_model_cannot_score_are_config_errors(sharp_loaded, tmp_path: Path):
    engine = Engine(sharp_loaded)
    tiny = load_general_text(_write(tmp_path / "tiny.jsonl", [{"text": "Fine text here."},
                                                              {"id": "one", "text": "a"}]))
    with pytest.raises(ConfigError, match="document one is 1 token") as error:
        score_perplexity(engine, tiny)
    assert error.value.line == 2 and error.value.key == "general_text"
    long = load_general_text(_write(tmp_path / "long.jsonl", [{"id": "big",
                                                               "text": "zq " * 600}]))
    with pytest.raises(ConfigError, match="document big is .* tokens long, more than the "
                                          "model's window of 512") as error:
        score_perplexity(engine, long)
    assert error.value.path == os.path.normpath(str(tmp_path / "long.jsonl"))
    with pytest.raises(ValueError):
        mean_nll((0.0, 0))
