"""`evalgate pii scan`: personal data in a JSONL file, per field and kind, before it is trained
on (a fine-tune can memorise and repeat it; KVKK/GDPR). Exit 1 when any is found, so CI can
block the data like a failed check; values are shown masked, never whole."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evalgate.cli.output import EXIT_PASS, EXIT_REJECT, console, shown

if TYPE_CHECKING:
    from evalgate.pii.scan import ScanReport, ScrubResult

_KIND_NAMES = {"email": "e-mail", "phone": "phone", "tc_kimlik": "T.C. Kimlik",
               "iban": "IBAN", "card": "card"}
_LINES_SHOWN = 5


def run_scan(args: argparse.Namespace) -> int:
    from evalgate.pii.scan import check_scrub_target, scan_file, scrub_file

    if args.scrub is not None:  # refused before the scan, not after a table of results
        check_scrub_target(args.file, args.scrub, overwrite_source=args.overwrite_source)
    report = scan_file(args.file)
    scrubbed = (scrub_file(args.file, args.scrub, overwrite_source=args.overwrite_source)
                if args.scrub is not None else None)
    if args.json:
        console.out(json.dumps(_summary(report, scrubbed), indent=2, ensure_ascii=False),
                    highlight=False)
    else:
        _print_report(report, scrubbed)
    return EXIT_REJECT if report.found else EXIT_PASS


def _print_report(report: ScanReport, scrubbed: ScrubResult | None) -> None:
    name = escape(shown(report.path))  # printed with markup: a "[x]" in a path is text
    if not report.found:
        console.print(f"[bold green]no personal data found[/] in {name}: {report.rows} rows, "
                      f"{report.strings} strings scanned", highlight=False)
    else:
        table = Table(title=f"personal data in {name}", title_justify="left",
                      header_style="bold")
        for column in ("field", "kind", "found", "distinct", "lines", "examples (masked)"):
            table.add_column(column, no_wrap=column in ("field", "kind"),
                             justify="right" if column in ("found", "distinct") else "left")
        for row in report.by_field():
            lines = ", ".join(str(line) for line in row.lines[:_LINES_SHOWN])
            if len(row.lines) > _LINES_SHOWN:
                lines += f", … ({len(row.lines)} lines)"
            table.add_row(Text(_short(row.field)), _KIND_NAMES[row.kind], str(row.count),
                          str(row.distinct), lines, Text(", ".join(row.examples)))
        console.print(table)
        kinds = ", ".join(f"{_KIND_NAMES[kind]} {count}"
                          for kind, (count, _) in report.kind_counts().items() if count)
        console.print(f"[bold red]personal data found:[/] {len(report.occurrences)} value(s), "
                      f"{report.distinct} distinct, in {report.rows_with_pii} of {report.rows} "
                      f"rows ({kinds})", highlight=False)
    if scrubbed is not None:
        console.print(f"scrubbed copy written to [bold]{escape(shown(scrubbed.path))}[/]: "
                      f"{scrubbed.replaced} value(s) replaced by {scrubbed.placeholders} "
                      "placeholder(s)", highlight=False)
    elif report.found:
        console.print("[dim]write a copy with placeholders: --scrub OUT.jsonl[/]")


def _short(field: str, limit: int = 60) -> str:
    """A field path that fits a table column: its start and end, which say where it is."""
    if len(field) <= limit:
        return field
    half = (limit - 1) // 2
    return field[:half] + "…" + field[-half:]


def _summary(report: ScanReport, scrubbed: ScrubResult | None) -> dict[str, Any]:
    """The machine-readable form: counts, lines and masked examples, never a plain value."""
    return {
        "file": shown(report.path),
        "pii_found": report.found,
        "rows": report.rows,
        "strings": report.strings,
        "rows_with_pii": report.rows_with_pii,
        "findings": len(report.occurrences),
        "distinct": report.distinct,
        "kinds": {kind: {"count": count, "distinct": distinct}
                  for kind, (count, distinct) in report.kind_counts().items()},
        "fields": [{"field": row.field, "kind": row.kind, "count": row.count,
                    "distinct": row.distinct, "lines": list(row.lines),
                    "examples": list(row.examples)} for row in report.by_field()],
        "scrubbed": None if scrubbed is None else {
            "path": shown(scrubbed.path), "replaced": scrubbed.replaced,
            "placeholders": scrubbed.placeholders},
    }


def register(commands) -> None:
    parser = commands.add_parser(
        "pii", help="find personal data (e-mail, phone, T.C. Kimlik, IBAN, card) in JSONL data")
    actions = parser.add_subparsers(dest="pii_command", required=True, metavar="ACTION")
    scan = actions.add_parser(
        "scan", help="scan every string field of a JSONL file (exit 1 if personal data is found)",
        description="Scan every string field of a JSONL file for e-mail addresses, phone "
                    "numbers, T.C. Kimlik numbers, IBANs and card numbers (checksums confirm "
                    "IDs, IBANs and cards). Exit 0: none found · 1: found · 2: bad input.")
    scan.add_argument("file", type=Path, metavar="FILE", help="the JSONL file to scan")
    scan.add_argument("--scrub", type=Path, default=None, metavar="OUT",
                      help="also write a copy with each value replaced by a placeholder "
                           "(<EMAIL_1>, <PHONE_2>: the same value gets the same placeholder)")
    scan.add_argument("--overwrite-source", action="store_true",
                      help="allow --scrub to be FILE itself (replaces the original)")
    scan.add_argument("--json", action="store_true",
                      help="print a machine-readable summary instead of the table")
    scan.set_defaults(handler=run_scan)
