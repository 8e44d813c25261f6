"""Findings as they may be shown: enough to recognise the value, never the value itself.

A scan's output ends up in CI logs, which are kept and read more widely than the data; printing
the personal data it found would leak it a second time.
"""

from __future__ import annotations

from evalgate.pii.detect import Finding

# (characters kept at the start, at the end), counted over letters and digits only
_KEEP: dict[str, tuple[int, int]] = {
    "phone": (3, 2),      # +90 5** *** ** 67: the country, the last two digits
    "tc_kimlik": (2, 2),  # 10*******46
    "iban": (4, 2),       # TR33 **** … **26: the country and check digits
    "card": (0, 4),       # **** **** **** 1111, as receipts print it
}


def mask(finding: Finding) -> str:
    """`finding.value` with most letters and digits replaced by `*` and the layout kept:
    `ay***@example.com`, `+90 5** *** ** 67`, `**** **** **** 1111`."""
    value = finding.value
    if finding.kind == "email":
        local, _, domain = value.rpartition("@")
        shown = local[:2] if len(local) > 2 else local[:1]
        return f"{shown}***@{domain}"
    head, tail = _KEEP.get(finding.kind, (2, 2))
    total = sum(char.isalnum() for char in value)
    if head + tail >= total:  # too short to keep both ends and still hide something
        head, tail = 0, min(tail, max(0, total - 4))
    out: list[str] = []
    seen = 0
    for char in value:
        if char.isalnum():
            seen += 1
            out.append(char if seen <= head or seen > total - tail else "*")
        else:
            out.append(char)
    return "".join(out)
