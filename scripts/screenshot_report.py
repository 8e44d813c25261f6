"""Render an evalgate HTML report to a PNG with headless Chromium (Debian's `chromium`).

    python scripts/screenshot_report.py reports/gate/<run-id>/report.html [out.png]
    python scripts/screenshot_report.py --demo out.png     # a made-up verdict, no model needed

Look at the PNG: this is how a reviewer sees the report when opening the CI artifact.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no chromium found: apt-get install -y chromium")


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 1400) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        # No background networking: on a closed network Chromium's own calls home stall it.
        subprocess.run([find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--no-first-run", "--disable-quic",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", f"--screenshot={png.resolve()}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    if not png.is_file() or png.stat().st_size == 0:
        sys.exit(f"chromium wrote no screenshot to {png}")
    return png


def demo_html(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from evalgate.gate.run import write_reports
    from tests.test_reports import demo_verdict

    write_reports(demo_verdict(), folder)
    return folder / "report.html"


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        sys.exit(__doc__)
    if argv[0] == "--demo":
        out = Path(argv[1] if len(argv) > 1 else "report.png")
        with tempfile.TemporaryDirectory() as folder:
            print(screenshot(demo_html(Path(folder)), out))
        return
    html = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else html.with_suffix(".png")
    print(screenshot(html, out))


if __name__ == "__main__":
    main(sys.argv[1:])
