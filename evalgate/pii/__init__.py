"""Personal data in training and evaluation data (KVKK/GDPR): a fine-tune must not memorise
it. `find_pii` finds it in text, `scan_file` in every string of a JSONL file, `scrub_file`
writes a copy with placeholders; the checksums are in `validators`."""

from evalgate.pii.detect import KINDS, Finding, Kind, find_pii, normalise
from evalgate.pii.mask import mask
from evalgate.pii.scan import (
    FieldSummary,
    Occurrence,
    ScanReport,
    ScrubResult,
    check_scrub_target,
    iter_strings,
    scan_file,
    scrub_file,
)
from evalgate.pii.validators import iban_valid, luhn_valid, tc_kimlik_valid

__all__ = [
    "KINDS", "FieldSummary", "Finding", "Kind", "Occurrence", "ScanReport", "ScrubResult",
    "check_scrub_target", "find_pii", "iban_valid", "iter_strings", "luhn_valid", "mask",
    "normalise", "scan_file", "scrub_file", "tc_kimlik_valid",
]
