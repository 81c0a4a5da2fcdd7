"""Remake the screenshots in this folder: the HTML report, a letter in each language, a statement.

    python docs/screenshots/make_screenshots.py [--cache-url URL]

Without --cache-url it runs `qbsync demo` (a 2,000-customer sandbox company) in a temporary folder
first. It then records a few losses and languages in the customer file, creates a campaign four
months back, exports it and marks it sent (so that returns, lift and its interval have something to
show), writes `report html`, letters and statements, and takes pictures: the HTML page in headless
Chromium (playwright, Debian's /usr/bin/chromium), the PDFs with pdftoppm.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: the first page of a PDF as a small PNG (pdftoppm adds the .png)
PDFTOPPM = ["pdftoppm", "-png", "-r", "60", "-singlefile", "-f", "1", "-l", "1"]
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def qbsync(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "qbsync", "-q", *args], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"qbsync {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-url")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = opts.cache_url
        if url is None:
            qbsync("demo", "--dir", str(tmp / "demo"))
            url = f"sqlite:///{tmp / 'demo' / 'cache.sqlite3'}"
        top = qbsync("report", "aging", "--format", "csv", "--limit", "6",
                     "--cache-url", url).splitlines()[1:6]
        ids = [line.split(",")[0].strip('"') for line in top]
        for cid, lang in zip(ids, ("pt", "zh", "fr", "es"), strict=False):
            qbsync("customer", "language", cid, lang, "--cache-url", url)
        best = qbsync("report", "best", "--format", "csv", "--limit", "40", "--cache-url", url).splitlines()
        for n, line in enumerate(best[20:32]):
            cid = line.split(",")[1].strip('"')
            qbsync("customer", "lost", cid, "--reason", ("price", "service", "moved", "competitor")[n % 4],
                   "--cache-url", url)
        # a campaign four months old, sent the day after: returns, lift and its interval to draw
        since = date.today() - timedelta(days=120)
        qbsync("campaign", "create", "spring", "--kind", "all", "--where", "days_inactive_min=60",
               "--control", "0.3", "--seed", "5", "--as-of", since.isoformat(), "--cache-url", url)
        said = qbsync("campaign", "export", "spring", "--dir", str(tmp / "spring"), "--as-of",
                      since.isoformat(), "--cache-url", url)
        batch = said.split("batch ")[1].split()[0]
        qbsync("sent", batch, "--on", (since + timedelta(days=1)).isoformat(), "--cache-url", url)
        page = tmp / "report.html"
        qbsync("report", "html", "-o", str(page), "--top", "12", "--cache-url", url)
        letters = tmp / "letters"
        qbsync("documents", "letters", "--dir", str(letters), "--cache-url", url)
        statements = tmp / "statement.pdf"
        qbsync("documents", "statements", ids[0], "-o", str(statements), "--cache-url", url)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            view = browser.new_page(viewport={"width": 1000, "height": 1300}, device_scale_factor=1)
            view.goto(page.as_uri())
            view.screenshot(path=str(HERE / "report-html.png"), full_page=False)
            for section in ("best", "cross", "disappearing", "duplicates", "campaigns", "lost"):
                found = view.query_selector(f"section#{section}")
                assert found is not None
                box = found.bounding_box()
                assert box is not None
                clip = {"x": box["x"], "y": box["y"], "width": box["width"],
                        "height": min(box["height"], 1600)}
                view.screenshot(path=str(HERE / f"report-{section}.png"), clip=clip, full_page=True)
            browser.close()
        for lang, cid in zip(("pt", "zh", "fr", "es"), ids, strict=False):
            found = sorted(letters.glob(f"*-{cid}-*.pdf"))
            if found:
                subprocess.run([*PDFTOPPM, str(found[0]), str(HERE / f"letter-{lang}")], check=True)
        english = sorted(p for p in letters.glob("first-*.pdf") if not any(f"-{c}-" in p.name for c in ids))
        if english:
            subprocess.run([*PDFTOPPM, str(english[0]), str(HERE / "letter-en")], check=True)
        subprocess.run([*PDFTOPPM, str(statements), str(HERE / "statement")], check=True)
    print(f"screenshots written to {HERE}")


if __name__ == "__main__":
    main()
