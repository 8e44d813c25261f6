"""Personal data in datasets (the PII part of the leakage issue): the checksums, detection in
Turkish and English text without flagging order numbers, dates or tracking codes, scrubbing
with consistent placeholders, and `evalgate pii scan` exit codes (0 clean · 1 found · 2 bad
input, never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.pii import (
    find_pii,
    iban_valid,
    luhn_valid,
    mask,
    normalise,
    scan_file,
    scrub_file,
    tc_kimlik_valid,
)

REPO = Path(__file__).resolve().parents[1]


def make_iban(country: str, bban: str) -> str:
    """An IBAN with its check digits computed here (ISO 13616), independently of the code."""
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def make_tc_kimlik(first_nine: str) -> str:
    d = [int(c) for c in first_nine]
    tenth = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    eleventh = (sum(d) + tenth) % 10
    return f"{first_nine}{tenth}{eleventh}"


TR_IBAN = make_iban("TR", "0006100519786457841326")
DE_IBAN = make_iban("DE", "370400440532013000")


def spaced(iban: str) -> str:
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in find_pii(text)]


# -- validators --------------------------------------------------------------------------------


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")  # one digit changed
    assert luhn_valid("378282246310005")  # Amex test number
    assert not luhn_valid("")
    assert not luhn_valid("4111 1111 1111 1111")  # separators are the caller's to remove
    assert not luhn_valid("４１１１１１１１１１１１１１１１")  # full-width: not digits here


def test_iban_valid_with_computed_check_digits():
    assert TR_IBAN == "TR330006100519786457841326"  # the published example
    assert len(TR_IBAN) == 26 and len(DE_IBAN) == 22
    for iban in (TR_IBAN, DE_IBAN, spaced(TR_IBAN), spaced(DE_IBAN).lower(),
                 make_iban("GB", "NWBK60161331926819"), make_iban("FR", "20041010050500013M02606"),
                 make_iban("NL", "ABNA0417164300"), make_iban("ES", "21000418450200051332"),
                 make_iban("IT", "X0542811101000000123456")):
        assert iban_valid(iban), iban


def test_iban_invalid():
    changed = TR_IBAN[:-1] + str((int(TR_IBAN[-1]) + 1) % 10)
    assert not iban_valid(changed)  # one digit changed: mod-97 fails
    assert not iban_valid(make_iban("TR", "000610051978645784132"))  # TR must be 26 long
    assert not iban_valid(make_iban("DE", "3704004405320130001"))  # DE must be 22 long
    assert not iban_valid("TR33")
    assert not iban_valid("33TR0006100519786457841326")


def test_iban_other_countries_use_the_generic_lengths():
    assert iban_valid(make_iban("XY", "1234567890ABCDEF"))  # 20 characters
    assert not iban_valid(make_iban("XY", "123456789A"))  # 14: below the 15 minimum
    assert not iban_valid(make_iban("XY", "1" * 31))  # 35: above the 34 maximum


def test_tc_kimlik():
    assert tc_kimlik_valid("10000000146")
    assert not tc_kimlik_valid("10000000145")  # 11th digit wrong
    assert not tc_kimlik_valid("10000000156")  # 10th digit wrong
    assert not tc_kimlik_valid("01000000146")  # first digit 0
    assert not tc_kimlik_valid("1000000014")  # 10 digits
    assert not tc_kimlik_valid("1000000014a")
    for first_nine in ("123456789", "987654321", "555555555", "100000001"):
        assert tc_kimlik_valid(make_tc_kimlik(first_nine)), first_nine


# -- detection ---------------------------------------------------------------------------------


def test_turkish_sentence():
    text = ("Merhaba, TC kimlik numaram 10000000146, telefonum 0 (532) 123 45 67. "
            f"E-posta: ayse.yilmaz@ornek.com.tr, IBAN: {spaced(TR_IBAN)} numaralı hesaba iade "
            "bekliyorum. Sipariş no ORD-48213, 18.05.2024 tarihinde 1.250,00 TL ödedim.")
    assert kinds(text) == [("tc_kimlik", "10000000146"), ("phone", "0 (532) 123 45 67"),
                           ("email", "ayse.yilmaz@ornek.com.tr"), ("iban", spaced(TR_IBAN))]


def test_english_sentence():
    text = ("Hi, I'm John. Call me on +44 7700 900123 or (434) 555-9264, or write to "
            "John.Smith@Example.org. I paid with card 4111 1111 1111 1111 on 2024-09-14; "
            f"refund to {DE_IBAN} please. Order #563126, tracking 1ZMK7MW87081093871.")
    assert kinds(text) == [("phone", "+44 7700 900123"), ("phone", "(434) 555-9264"),
                           ("email", "John.Smith@Example.org"),
                           ("card", "4111 1111 1111 1111"), ("iban", DE_IBAN)]


@pytest.mark.parametrize("phone", [
    "+90 532 123 45 67", "+90-532-123-45-67", "+90.532.123.45.67", "+905321234567",
    "+90 (532) 123 45 67", "0 (532) 123 45 67", "(0532) 123 45 67", "0532 123 45 67",
    "0532-123-45-67", "05321234567", "0212 555 12 34", "+1 (434) 555-9264", "434-555-9264",
    "(434) 555-9264", "+44 (0)20 7946 0958", "+44 7700 900123", "07700 900123",
    "+49 151 36809049",
])
def test_phone_formats(phone: str):
    assert kinds(f"Bana {phone} numarasından ulaşın.") == [("phone", phone)]


@pytest.mark.parametrize("text", [
    "Order ORD-48213 is late", "order #563126 and ORD 327159", "ordered on 2024-09-14",
    "18.05.2024 tarihinde", "01.09.2025", "in 1999 and 2024", "customer number 23725783",
    "müşteri no 12345678901",  # 11 digits that fail the T.C. Kimlik checksum
    "tracking 1ZMK7MW87081093871", "takip no 565213123645", "AR379729822TR",
    "kod C-07534802", "tutar 1.250,00 TL", "kart 4111111111111112",  # fails Luhn
    "Posta kodum 64158", "verification code 936708", "v10.0.0.1",
    "0284639568267",  # 13 digits starting 0: not a phone layout
    "ORD-123-456-7890", "20.08.2024 10:30",
])
def test_not_personal_data(text: str):
    assert find_pii(text) == []


def test_tc_kimlik_only_as_a_whole_number():
    assert kinds("TC: 10000000146.") == [("tc_kimlik", "10000000146")]
    assert find_pii("110000000146") == []  # inside a longer digit run
    assert find_pii("X10000000146") == []
    assert find_pii("10000000146X") == []


def test_overlaps_resolve_to_the_longest():
    assert kinds("10000000146@example.com") == [("email", "10000000146@example.com")]
    assert kinds("+90 10000000146") == [("phone", "+90 10000000146")]
    # the IBAN's digits hold card- and phone-shaped runs; the IBAN is what is reported
    assert [f.kind for f in find_pii(f"IBAN {spaced(TR_IBAN)}")] == ["iban"]


def test_iban_ends_at_its_country_length():
    text = f"{spaced(TR_IBAN)} THEN and {spaced(DE_IBAN)} 12 more"
    assert kinds(text) == [("iban", spaced(TR_IBAN)), ("iban", spaced(DE_IBAN))]
    broken = spaced(TR_IBAN[:-1] + str((int(TR_IBAN[-1]) + 1) % 10))
    assert "iban" not in [f.kind for f in find_pii(broken)]
    assert find_pii(TR_IBAN.lower()) == []  # free text: upper case only, as IBANs are printed


def test_card_followed_by_another_number():
    assert kinds("card 4111 1111 1111 1111 12 items") == [("card", "4111 1111 1111 1111")]
    assert kinds("card 3782-822463-10005") == [("card", "3782-822463-10005")]


def test_normalise_counts_one_value_written_two_ways_once():
    def norm(text: str) -> set[str]:
        return {normalise(f) for f in find_pii(text)}

    assert norm("+90 532 123 45 67 / 0 (532) 123 45 67 / 05321234567") == {"905321234567"}
    assert norm("+1 (434) 555-9264 and 434-555-9264") == {"14345559264"}
    assert norm(f"{TR_IBAN} and {spaced(TR_IBAN)}") == {TR_IBAN}
    assert norm("Ayse@Example.COM and ayse@example.com") == {"ayse@example.com"}
    assert norm("4111-1111-1111-1111 and 4111111111111111") == {"4111111111111111"}


def test_mask_never_shows_the_value():
    text = (f"ayse@example.com +90 532 123 45 67 10000000146 {spaced(TR_IBAN)} "
            "4111 1111 1111 1111")
    masked = {f.kind: mask(f) for f in find_pii(text)}
    assert masked == {"email": "ay***@example.com", "phone": "+90 5** *** ** 67",
                      "tc_kimlik": "10*******46", "iban": "TR33 **** **** **** **** **** 26",
                      "card": "**** **** **** 1111"}
    for finding in find_pii(text):
        assert mask(finding) != finding.value


# -- scanning and scrubbing files --------------------------------------------------------------


def write(path: Path, rows: list[object], *, extra: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n"
                              for row in rows) + extra)
    return path


CHAT = [
    {"id": 1, "messages": [{"role": "user", "content": "Numaram 0532 123 45 67, mail A@B.com"},
                           {"role": "assistant", "content": "Teşekkürler, not aldım."}]},
    {"id": 2, "messages": [{"role": "user", "content": "Yeni numara değil: +90 532 123 45 67"},
                           {"role": "assistant", "content": "a@b.com ve c@d.org kayıtlı"}],
     "meta": {"first name": "Ayşe", "iban": [TR_IBAN]}},
    {"id": 3, "text": "Sipariş ORD-48213 nerede?"},
]


def test_scan_reports_field_paths_and_counts(tmp_path: Path):
    report = scan_file(write(tmp_path / "chat.jsonl", CHAT))
    assert (report.rows, report.found, report.rows_with_pii) == (3, True, 2)
    rows = [(r.field, r.kind, r.count, r.distinct, r.lines) for r in report.by_field()]
    assert rows == [
        ("messages[0].content", "phone", 2, 1, (1, 2)),
        ("messages[0].content", "email", 1, 1, (1,)),
        ("messages[1].content", "email", 2, 2, (2,)),
        ("meta.iban[0]", "iban", 1, 1, (2,)),
    ]
    assert report.kind_counts()["email"] == (3, 2)  # A@B.com and a@b.com are one address
    assert report.distinct == 4


def test_field_paths_quote_keys_that_are_not_names(tmp_path: Path):
    report = scan_file(write(tmp_path / "x.jsonl", [{"first name": "x@y.com"}]))
    assert [r.field for r in report.by_field()] == ['["first name"]']


def test_scrub_uses_one_placeholder_per_value(tmp_path: Path):
    source = write(tmp_path / "chat.jsonl", CHAT)
    before = source.read_bytes()
    result = scrub_file(source, tmp_path / "out" / "chat.scrubbed.jsonl")
    assert source.read_bytes() == before
    assert (result.replaced, result.placeholders) == (6, 4)
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert rows[0]["messages"][0]["content"] == "Numaram <PHONE_1>, mail <EMAIL_1>"
    assert rows[1]["messages"][0]["content"] == "Yeni numara değil: <PHONE_1>"
    assert rows[1]["messages"][1]["content"] == "<EMAIL_1> ve <EMAIL_2> kayıtlı"
    assert rows[1]["meta"] == {"first name": "Ayşe", "iban": ["<IBAN_1>"]}
    assert not scan_file(result.path).found


def test_scrub_keeps_clean_lines_and_line_numbers(tmp_path: Path):
    source = tmp_path / "d.jsonl"
    source.write_text('{"id": 1,   "t": "no data here"}\n\n{"id": 2, "t": "x@y.com"}\n',
                      encoding="utf-8")
    out = scrub_file(source, tmp_path / "s.jsonl").path
    assert out.read_text(encoding="utf-8") == (
        '{"id": 1,   "t": "no data here"}\n\n{"id": 2, "t": "<EMAIL_1>"}\n')


def test_scrub_refuses_to_overwrite_the_source(tmp_path: Path):
    source = write(tmp_path / "d.jsonl", CHAT)
    before = source.read_bytes()
    with pytest.raises(ConfigError, match="overwrite the file being scanned"):
        scrub_file(source, tmp_path / "." / "d.jsonl")
    assert source.read_bytes() == before
    with pytest.raises(ConfigError, match="folder"):
        scrub_file(source, tmp_path)
    scrub_file(source, source, overwrite_source=True)
    assert not scan_file(source).found


def test_example_project_data_has_no_checksum_false_positives():
    """The example tickets are full of order, customer and tracking numbers, amounts and dates
    (synthetic distractors): none may be reported as an ID, IBAN or card."""
    files = sorted((REPO / "training" / "data").glob("*.jsonl")) + sorted(
        (REPO / "suites" / "data").glob("*.jsonl"))
    if not files:
        pytest.skip("the example project's data is not here")
    for path in files:
        found = {o.finding.kind for o in scan_file(path).occurrences}
        assert not found & {"tc_kimlik", "iban", "card"}, (path, found)


# -- the command -------------------------------------------------------------------------------


def test_cli_clean_file_exits_0(tmp_path: Path, capsys):
    path = write(tmp_path / "clean.jsonl", [{"id": 1, "t": "Order ORD-48213, 2024-09-14"}])
    assert main(["pii", "scan", str(path)]) == 0
    assert "no personal data found" in capsys.readouterr().out


def test_cli_found_exits_1_and_shows_values_masked(tmp_path: Path, capsys):
    path = write(tmp_path / "chat.jsonl", CHAT)
    assert main(["pii", "scan", str(path)]) == 1
    out = capsys.readouterr().out
    assert "messages[0].content" in out and "A***@B.com" in out and "053* *** ** 67" in out
    for value in ("A@B.com", "0532 123 45 67", "+90 532 123 45 67", TR_IBAN, "c@d.org"):
        assert value not in out


def test_cli_json_summary(tmp_path: Path, capsys):
    path = write(tmp_path / "chat.jsonl", CHAT)
    assert main(["pii", "scan", str(path), "--json", "--scrub", str(tmp_path / "s.jsonl")]) == 1
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["pii_found"] is True
    assert (summary["rows"], summary["findings"], summary["distinct"]) == (3, 6, 4)
    assert summary["kinds"]["phone"] == {"count": 2, "distinct": 1}
    assert summary["fields"][0]["lines"] == [1, 2]
    assert summary["scrubbed"]["placeholders"] == 4
    assert "A@B.com" not in out and TR_IBAN not in out


def test_cli_scrub_says_where(tmp_path: Path, capsys):
    path = write(tmp_path / "chat.jsonl", CHAT)
    out_path = tmp_path / "chat.scrubbed.jsonl"
    assert main(["pii", "scan", str(path), "--scrub", str(out_path)]) == 1
    assert "scrubbed copy written to" in capsys.readouterr().out
    assert main(["pii", "scan", str(out_path)]) == 0


def _evalgate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed `evalgate` script next to this Python, else the same entry point."""
    script = Path(sys.executable).with_name("evalgate")
    entry = "import sys; from evalgate.cli import main; sys.exit(main())"
    command = [str(script)] if script.is_file() else [sys.executable, "-c", entry]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_exit_codes_in_a_subprocess(tmp_path: Path):
    write(tmp_path / "clean.jsonl", [{"t": "nothing to see"}])
    write(tmp_path / "dirty.jsonl", [{"t": "TC 10000000146"}])
    assert _evalgate("pii", "scan", "clean.jsonl", cwd=tmp_path).returncode == 0
    done = _evalgate("pii", "scan", "dirty.jsonl", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "10*******46" in done.stdout and "10000000146" not in done.stdout


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("missing.jsonl", None, "missing.jsonl: file not found"),
    ("latin.jsonl", b'{"t": "ok"}\n{"t": "m\xfd\xfeteri"}\n', "latin.jsonl:2: not UTF-8"),
    ("broken.jsonl", b'{"t": "ok"}\n{"t": "no end\n', "broken.jsonl:2: malformed JSON"),
    ("array.jsonl", b'[{"t": "a"}]\n', "array.jsonl:1: each line must be a JSON object"),
    ("table.csv", b"id,text\n1,hello\n", "table.csv:1: malformed JSON"),
    ("empty.jsonl", b"\n\n", "empty.jsonl: the file has no rows"),
])
def test_cli_bad_input_exits_2_without_traceback(tmp_path: Path, name: str,
                                                 content: bytes | None, expected: str):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    done = _evalgate("pii", "scan", name, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "fix:" in done.stderr, done.stderr
    assert expected in " ".join(done.stderr.split()), done.stderr
    assert done.stdout == ""


def test_cli_scrub_onto_the_source_exits_2(tmp_path: Path):
    source = write(tmp_path / "d.jsonl", [{"t": "x@y.com"}])
    before = source.read_bytes()
    done = _evalgate("pii", "scan", "d.jsonl", "--scrub", "./d.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and "--overwrite-source" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and source.read_bytes() == before
    done = _evalgate("pii", "scan", "d.jsonl", "--scrub", "d.jsonl", "--overwrite-source",
                     cwd=tmp_path)
    assert done.returncode == 1 and "<EMAIL_1>" in source.read_text()
