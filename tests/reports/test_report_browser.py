"""The quick run's report in a real headless Chromium: it loads, every embedded figure
decodes, every section is there, and the console stays silent.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# A page next to the report that loads it in a frame and writes what it finds into its own
# DOM, where --dump-dom can read it back. The report itself holds no script.
PROBE = """<!DOCTYPE html><html><body>
<iframe id="report" src="index.html" width="1300" height="900"></iframe>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  const images = Array.from(doc.images);
  document.body.setAttribute("data-probe", JSON.stringify({
    title: doc.title,
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
    sections: Array.from(doc.querySelectorAll("section h2")).map(h => h.textContent),
    width: doc.documentElement.scrollWidth,
  }));
});
</script></body></html>
"""


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if BROWSER is None:
        pytest.skip("headless Chromium not found (chromium or chromium-browser on PATH); "
                    "`make browser` installs it")
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_report_renders_in_chromium_without_console_errors(
    quick_run: Path, tmp_path: Path
) -> None:
    page = tmp_path / "site"
    page.mkdir()
    shutil.copy(quick_run / "index.html", page / "index.html")
    (page / "probe.html").write_text(PROBE)
    result = chromium(
        ["--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=10000", "--dump-dom", (page / "probe.html").as_uri()],
        tmp_path / "profile",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert found, "the probe did not run: " + result.stdout[:500]
    probe = json.loads(htmllib.unescape(found.group(1)))
    assert probe["title"].startswith("auditbench")
    assert probe["images"] >= 16 and probe["broken"] == 0
    assert probe["sections"][:9] == ["Audit card", "Run", "What the network represents",
                                     "Where the model looks: attribution maps",
                                     "Agreement with Captum", "Is the map any good?",
                                     "Images made by optimisation",
                                     "Generative methods under stress",
                                     "The linear toy example"]
    assert len(probe["sections"]) == 17
    assert probe["sections"][-2:] == ["What each method costs", "Suite file"]
    assert probe["width"] <= 1300  # nothing forces a horizontal scroll at a laptop width
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, "\n".join(console)


def test_report_screenshot_is_not_blank(quick_run: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = chromium(
        [f"--screenshot={shot}", "--window-size=1300,2400", "--hide-scrollbars",
         (quick_run / "index.html").as_uri()],
        tmp_path / "profile",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1300, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text and figures, not an empty page
