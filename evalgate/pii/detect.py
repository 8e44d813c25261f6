"""Personal data in free text: e-mail addresses, phone numbers, Turkish national IDs, IBANs
and payment card numbers, found by shape and then confirmed by checksum where one exists.

Why shape *and* checksum: support tickets are full of numbers (orders, tracking, amounts,
dates). A scan that flags every long number fails every dataset and gets switched off, so each
kind needs either an unmistakable shape (an `@`, a `+CC` or trunk-0 phone layout) or a valid
checksum (Luhn, mod-97, the T.C. Kimlik digits). Digits are ASCII `[0-9]` throughout: `\\d`
would also take Arabic-Indic and other Unicode digits, which no checksum here is defined on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from evalgate.pii.validators import (
    IBAN_LENGTHS,
    IBAN_MAX_LENGTH,
    IBAN_MIN_LENGTH,
    iban_valid,
    luhn_valid,
    tc_kimlik_valid,
)

Kind = Literal["email", "phone", "tc_kimlik", "iban", "card"]
KINDS: tuple[Kind, ...] = ("email", "phone", "tc_kimlik", "iban", "card")

# When two findings of the same length overlap, the one confirmed by the stronger evidence wins
# (a checksum over many digits beats a layout).
_SPECIFICITY: dict[str, int] = {"iban": 5, "card": 4, "tc_kimlik": 3, "email": 2, "phone": 1}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, the text as written, and where it is (`text[start:
    end] == value`)."""

    kind: Kind
    value: str
    start: int
    end: int


_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]+@(?:[^\W_](?:[\w\-]*[^\W_])?\.)+[A-Za-z]{2,24}(?![\w\-@])")

# +CC then groups, an optional "(0)" trunk and "(area)": +90 532 123 45 67, +1 (434) 555-9264,
# +44 (0)20 7946 0958, +905321234567. The digit count (8–15, E.164) is checked afterwards.
_PHONE_INTL = re.compile(
    r"(?<![\w+])\+[0-9]{1,3}(?:[ .\-]?\(0\))?(?:[ .\-]?\([0-9]{1,4}\))?"
    r"(?:[ .\-]?[0-9]{1,5}){1,6}(?!\w)")
# Trunk 0 then an area or operator code: 0532 123 45 67, 0 (532) 123 45 67, (0532) 123 45 67,
# 0212-555-12-34, 07700 439505, 05321234567. Not after a digit, sign or separator (the
# "05.2024" of a date), not followed by more digits across a separator; 10–11 digits are
# checked afterwards.
_PHONE_NATIONAL = re.compile(
    r"(?<![\w+\-.,/])(?:0[ ]?(?:\([0-9]{2,4}\)|[0-9]{2,4})|\(0[0-9]{2,4}\))"
    r"(?:[ .\-]?[0-9]{2,4}){1,4}(?!\w|[.,\-/][0-9])")
# Without any separator only a mobile layout counts: 05xx… (TR) or 07xxx… (UK); a bare
# 11-digit number starting 0 could be anything.
_BARE_MOBILE = re.compile(r"0[57][0-9]{9}")
# North American: (434) 555-9264, 434-555-9264, 434.555.9264 (same separator twice).
_PHONE_NANP = re.compile(
    r"(?<![\w+\-.(])"
    r"(?:\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}[\-. ]|[2-9][0-9]{2}([\-.])[2-9][0-9]{2}\1)"
    r"[0-9]{4}(?!\w|[.\-][0-9])")

_TC_KIMLIK = re.compile(r"(?<!\w)[1-9][0-9]{10}(?!\w)")

# Cards as printed: 4-4-4-4(-1..3), 4-4-4-1..7, Amex/Diners 4-6-5/4 with one separator kind,
# or 13–19 digits in a row.
_CARD = re.compile(
    r"(?<![\w+\-])(?:"
    r"[0-9]{4}([ \-])[0-9]{4}\1[0-9]{4}\1[0-9]{4}\1[0-9]{1,3}"
    r"|[0-9]{4}([ \-])[0-9]{4}\2[0-9]{4}\2[0-9]{1,7}"
    r"|[0-9]{4}([ \-])[0-9]{6}\3[0-9]{4,5}"
    r"|[0-9]{13,19})(?!\w)")

# Two letters, two check digits, then up to 32 characters with single spaces anywhere; the
# country's length decides where the IBAN ends (see _iban_end). Upper case only, as IBANs are
# printed: in lower case, ordinary words after "ab12" would be tried at every length and pass
# mod-97 about once in a hundred tries each.
_IBAN_START = re.compile(r"(?<!\w)[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,32}")


def find_pii(text: str) -> list[Finding]:
    """Every piece of personal data in `text`, in text order, without overlaps: where two
    candidates overlap the longer one wins (a phone number around an 11-digit ID), and at
    equal length the more specific kind (checksum-confirmed before layout-only)."""
    candidates = [*_emails(text), *_phones(text), *_tc_kimliks(text), *_cards(text),
                  *_ibans(text)]
    chosen: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (f.start - f.end, -_SPECIFICITY[f.kind],
                                                     f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def normalise(finding: Finding) -> str:
    """The canonical form of a finding, so one value written two ways counts (and is scrubbed)
    as one: e-mail lower-cased; IBAN upper-case without spaces; phone, ID and card as digits
    only. A phone written nationally gets its country code where the layout is unambiguous
    (05… → 90, 07… → 44, a North American 10-digit number → 1), so "0532 123 45 67" and
    "+90 532 123 45 67" are the same number."""
    if finding.kind == "email":
        return finding.value.lower()
    if finding.kind == "iban":
        return re.sub(r"\s+", "", finding.value).upper()
    if finding.kind == "phone":
        return _phone_digits(finding.value)
    return _digits(finding.value)


def _phone_digits(value: str) -> str:
    if value.startswith("+"):
        return _digits(value.replace("(0)", ""))  # "+44 (0)20…": the (0) is not dialled
    digits = _digits(value)
    if digits.startswith("05") and len(digits) == 11:
        return "90" + digits[1:]
    if digits.startswith("07") and len(digits) == 11:
        return "44" + digits[1:]
    if len(digits) == 10 and not digits.startswith("0"):
        return "1" + digits
    return digits


def _digits(value: str) -> str:
    return re.sub(r"[^0-9]", "", value)


def _finding(kind: Kind, text: str, start: int, end: int) -> Finding:
    return Finding(kind=kind, value=text[start:end], start=start, end=end)


def _emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        yield _finding("email", text, match.start(), match.end())


def _phones(text: str) -> Iterator[Finding]:
    for match in _PHONE_INTL.finditer(text):
        value = match.group()
        if 8 <= len(_digits(value.replace("(0)", ""))) <= 15:
            yield _finding("phone", text, match.start(), match.end())
    for match in _PHONE_NATIONAL.finditer(text):
        value = match.group()
        digits = _digits(value)
        if not 10 <= len(digits) <= 11 or digits[1] == "0":  # "00…" is an international prefix
            continue
        if value == digits and not _BARE_MOBILE.fullmatch(value):
            continue
        yield _finding("phone", text, match.start(), match.end())
    for match in _PHONE_NANP.finditer(text):
        yield _finding("phone", text, match.start(), match.end())


def _tc_kimliks(text: str) -> Iterator[Finding]:
    for match in _TC_KIMLIK.finditer(text):
        if tc_kimlik_valid(match.group()):
            yield _finding("tc_kimlik", text, match.start(), match.end())


def _cards(text: str) -> Iterator[Finding]:
    for match in _CARD.finditer(text):
        start, end = match.start(), match.end()
        value = match.group()
        # "4111 1111 1111 1111 12 items": the separated form may have taken a number after it
        spans = [end]
        last_sep = max(value.rfind(" "), value.rfind("-"))
        if last_sep > 0:
            spans.append(start + last_sep)
        for stop in spans:
            digits = _digits(text[start:stop])
            # An 11-digit T.C. Kimlik can never be 13+ digits; said here so a change to the
            # lengths cannot let an ID be reported as a card.
            if 13 <= len(digits) <= 19 and luhn_valid(digits) and not tc_kimlik_valid(digits):
                yield _finding("card", text, start, stop)
                break


def _ibans(text: str) -> Iterator[Finding]:
    position = 0
    while match := _IBAN_START.search(text, position):
        end = _iban_end(text, match.start(), match.end())
        if end is None:
            position = match.start() + 1
            continue
        yield _finding("iban", text, match.start(), end)
        position = end


def _iban_end(text: str, start: int, limit: int) -> int | None:
    """Where the IBAN starting at `start` ends, or None: the candidate may run on into the next
    words ("TR33 0006 … 26 THEN"), so every end within it that is not followed by a letter or
    digit is tried; a listed country needs its exact length, any other the longest valid one."""
    country = text[start:start + 2]
    lengths = ([IBAN_LENGTHS[country]] if country in IBAN_LENGTHS
               else range(IBAN_MAX_LENGTH, IBAN_MIN_LENGTH - 1, -1))
    ends: dict[int, int] = {}  # compact length → end offset
    count = 0
    for offset in range(start, limit):
        if text[offset] != " ":
            count += 1
            ends[count] = offset + 1
    for length in lengths:
        end = ends.get(length)
        if end is None or (end < len(text) and text[end].isalnum()):
            continue
        if iban_valid(text[start:end]):
            return end
    return None
