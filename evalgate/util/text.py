"""Text normal forms shared across evalgate: accent folding (Turkish and European text) and
the case-, accent-, punctuation- and whitespace-insensitive form used to compare texts."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def fold_accents(text: str) -> str:
    """Drop combining marks after NFKD decomposition: "İade süreci" → "Iade sureci"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_text(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form used for overlap checks."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", fold_accents(text.casefold()))).strip()
