"""Checksums that tell a real identifier from a number that only looks like one.

A regex alone flags every 11-digit order number as a Turkish ID and every 16-digit tracking
number as a card; the checksum is what keeps the scan's false positives rare enough that a
failing scan means something. Pure functions on strings: no regexes over free text here.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "²" and "١"
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")

# IBAN length per country (ISO 13616 registry). A known country must have exactly its length:
# a TR IBAN one character short is a typo, not a shorter IBAN.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "XK": 20,
}
# Countries not in the table: any length the standard allows.
IBAN_MIN_LENGTH, IBAN_MAX_LENGTH = 15, 34


def luhn_valid(digits: str) -> bool:
    """Whether `digits` (ASCII digits only, separators already removed) passes the Luhn check
    that every payment card number carries. Anything that is not a digit string is invalid."""
    if not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:  # every second digit from the right is doubled
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_length_ok(compact: str) -> bool:
    """Whether an upper-case IBAN without spaces has the length its country requires (15–34
    for a country not in `IBAN_LENGTHS`)."""
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None:
        return len(compact) == expected
    return IBAN_MIN_LENGTH <= len(compact) <= IBAN_MAX_LENGTH


def iban_valid(text: str) -> bool:
    """Whether `text` is an IBAN (ISO 13616): spaces are ignored and letters may be lower case;
    the country's length must match and the mod-97 check must give 1."""
    compact = re.sub(r"\s+", "", text).upper()
    if not _IBAN_SHAPE.fullmatch(compact) or not iban_length_ok(compact):
        return False
    if not 2 <= int(compact[2:4]) <= 98:  # check digits are 02–98 by construction
        return False
    return iban_mod97(compact) == 1


def iban_mod97(compact: str) -> int:
    """The ISO 7064 mod-97 remainder of an IBAN-shaped string: the first four characters moved
    to the end, letters as numbers (A=10 … Z=35). A valid IBAN gives 1."""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def tc_kimlik_valid(digits: str) -> bool:
    """Whether `digits` is a Turkish national ID (T.C. Kimlik No): 11 ASCII digits, the first not
    0; the 10th is ((d1+d3+d5+d7+d9)·7 − (d2+d4+d6+d8)) mod 10 and the 11th is the sum of the
    first ten mod 10. About one random 11-digit number in a hundred passes."""
    if len(digits) != 11 or not _DIGITS.fullmatch(digits) or digits[0] == "0":
        return False
    d = [int(char) for char in digits]
    odd = d[0] + d[2] + d[4] + d[6] + d[8]
    even = d[1] + d[3] + d[5] + d[7]
    return (odd * 7 - even) % 10 == d[9] and sum(d[:10]) % 10 == d[10]
