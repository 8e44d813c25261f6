"""Chunking boundaries and retrieval correctness on a small known corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalgate.errors import ConfigError
from evalgate.systems.retrieval import (
    Retriever,
    chunk_document,
    load_corpus,
    split_sections,
    tokenize,
    window,
)

CORPUS = {
    "returns.md": "# Returns\n\n## Shoes\nShoes can be returned within 30 days of delivery.\n\n"
                  "## Electronics\nElectronics can be returned within 14 days if unopened.\n",
    "shipping.md": "# Shipping\n\nStandard shipping costs 4.99 EUR. Orders above 50 EUR ship "
                   "free.\n",
    "kargo.tr.md": "# Kargo\n\nSiparişler 2 iş gününde kargoya verilir. Kargo ücreti 39 TL.\n",
}


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    for name, text in CORPUS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_sections_carry_their_heading_path():
    sections = split_sections(CORPUS["returns.md"])
    assert sections == [("Returns > Shoes", "Shoes can be returned within 30 days of delivery."),
                        ("Returns > Electronics",
                         "Electronics can be returned within 14 days if unopened.")]


def test_window_overlaps_and_cuts_at_spaces():
    text = " ".join(f"w{i:03d}" for i in range(100))  # 499 characters
    pieces = window(text, size=100, overlap=30)
    assert all(len(piece) <= 100 for piece in pieces)
    assert all(not piece.startswith(" ") and " w" not in piece[-1:] for piece in pieces)
    for left, right in zip(pieces, pieces[1:]):
        assert right.split()[0] in left.split()  # the next piece starts inside the previous one
    assert pieces[0].split()[0] == "w000" and pieces[-1].split()[-1] == "w099"
    words = {word for piece in pieces for word in piece.split()}
    assert len(words) == 100  # nothing lost at a boundary


def test_short_text_is_one_chunk():
    assert window("short text", 100, 10) == ["short text"]
    chunks = chunk_document("a.md", "# T\nshort body", 100, 10)
    assert [c.id for c in chunks] == ["a.md#0"] and chunks[0].text == "T\nshort body"


def test_known_query_finds_known_chunk(docs: Path):
    retriever = Retriever(load_corpus(docs, 200, 40))
    assert retriever.search("How long can I return shoes?", 1)[0].chunk.id == "returns.md#0"
    assert retriever.search("return window for electronics", 1)[0].chunk.id == "returns.md#1"
    assert retriever.search("free shipping threshold", 1)[0].chunk.doc == "shipping.md"
    # Accent folding + prefix stems: "siparisim" finds "Siparişler".
    assert retriever.search("siparisim ne zaman kargoda", 1)[0].chunk.doc == "kargo.tr.md"


def test_no_match_returns_nothing(docs: Path):
    assert Retriever(load_corpus(docs, 200, 40)).search("quantum chromodynamics", 3) == []


def test_tokenize_folds_case_accents_and_stems():
    assert tokenize("Siparişlerim İADE") == ["siparislerim", "sipar~", "iade"]


def test_bad_corpora(tmp_path: Path):
    with pytest.raises(ConfigError, match="document folder not found"):
        load_corpus(tmp_path / "missing", 200, 40)
    with pytest.raises(ConfigError, match="no .md or .txt documents"):
        load_corpus(tmp_path, 200, 40)
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read document"):
        load_corpus(tmp_path, 200, 40)


@pytest.mark.parametrize("method", ["dense", "hybrid"])
def test_dense_and_hybrid_find_known_chunks_offline(docs: Path, method: str,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the packaged MiniLM, never a hub
    retriever = Retriever(load_corpus(docs, 200, 40), method=method)
    assert retriever.search("How long can I return shoes?", 1)[0].chunk.id == "returns.md#0"
    assert retriever.search("free shipping threshold", 1)[0].chunk.doc == "shipping.md"
    hits = retriever.search("free shipping threshold", 3)
    assert len(hits) == 3 and len({h.chunk.id for h in hits}) == 3
