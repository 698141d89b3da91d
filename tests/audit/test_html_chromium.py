"""The audit page in a real headless Chromium (Debian's): it renders, it prints, and under
`airgap egress run` it makes no network attempt at all, while a page that does load something
is caught doing it (so a zero means something).

Chromium phones home on its own (time, component updates, account lists); `QUIET_BROWSER` are
the switches that silence it, checked here on about:blank, and documented in docs/report.md
for reviewers who open the report on an air-gapped workstation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airgap_cli.core.findings import Finding, Location, Severity
from tests.audit.test_report import egress_result, lint_result, save

CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
        if os.path.exists(p)
    ),
    "",
)
"""The browser binary itself: Debian's /usr/bin/chromium wrapper adds flags that fetch."""
REQUIRED = os.environ.get("AIRGAP_REQUIRE_CHROMIUM") == "1"
AIRGAP = str(Path(sys.executable).parent / "airgap")
QUIET_BROWSER = (
    "--headless",
    "--no-sandbox",  # root in a test namespace; the page is our own file
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-pings",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,"
    "OptimizationGuideModelDownloading,MediaRouter,DialMediaRouteProvider,Translate,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--gaia-url=http://127.0.0.1:9",  # the account list it fetches at start-up: to loopback
    "--component-updater=url-source=http://127.0.0.1:9",
)
FAIL_RED = (0xCF, 0x22, 0x2E)
PASS_GREEN = (0x1A, 0x7F, 0x37)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM and not REQUIRED,
        reason="Debian's chromium is not installed (`make test` installs it as root)",
    ),
]


def browse(page: Path, tmp_path: Path, *action: str, audited: bool = False) -> Any:
    """Run Chromium on ``page`` with ``action`` (e.g. --screenshot=F); with ``audited``, inside
    `airgap egress run` and return its JSON report."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    browser = [CHROMIUM, *QUIET_BROWSER, f"--user-data-dir={profile}", *action, page.as_uri()]
    if not audited:
        done = subprocess.run(browser, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return None
    record = tmp_path / f"egress-{profile.name}.json"
    done = subprocess.run(
        [AIRGAP, "egress", "run", "--capture", "-q", "--fail-on", "never", "-f", "json",
         "-o", str(record), "--", *browser],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(record.read_text())["details"]["egress"]


def audit_page(tmp_path: Path, name: str, *reports: Any, fmt_args: tuple[str, ...] = ()) -> Path:
    paths = [str(save(tmp_path, f"{name}-{i}.json", r)) for i, r in enumerate(reports)]
    page = tmp_path / f"{name}.html"
    done = subprocess.run(
        [AIRGAP, "report", *paths, "-o", str(page), "-q", *fmt_args],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return page


def failing_results() -> tuple[Any, ...]:
    leaky = Finding(
        rule_id="external-url",
        severity=Severity.HIGH,
        title="External URL",
        message="External URL https://api.openai.com/v1 (and an <img src=https://x.example/p>)",
        location=Location("k8s/app.yaml", 12, None, "ConfigMap/shop/llm", "/data/BASE_URL"),
        evidence="https://api.openai.com/v1",
        compliance=("NIST-800-53:SC-7",),
    )
    return lint_result(leaky), egress_result(destinations=("pypi.example.org",))


def colour_share(png: Path, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> float:
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").crop(box).getcolors(maxcolors=1 << 24) or []
    close = sum(
        n for n, c in colours if all(abs(a - b) <= 6 for a, b in zip(c, colour, strict=True))
    )
    return close / sum(n for n, _c in colours)


def test_the_report_renders_with_its_verdict_banner(tmp_path: Path) -> None:
    fail = audit_page(tmp_path, "fail", *failing_results())
    shot = tmp_path / "fail.png"
    browse(fail, tmp_path, "--window-size=1280,900", f"--screenshot={shot}")
    banner = (0, 40, 1280, 200)  # below the title: the coloured verdict banner
    assert colour_share(shot, FAIL_RED, banner) > 0.15
    assert colour_share(shot, PASS_GREEN, banner) < 0.01
    assert colour_share(shot, (255, 255, 255), (0, 0, 1280, 900)) > 0.5  # a page, not a blank

    passing = audit_page(
        tmp_path, "pass", egress_result(), fmt_args=("--control", "AU-2", "--control", "SC-7")
    )
    shot = tmp_path / "pass.png"
    browse(passing, tmp_path, "--window-size=1280,900", f"--screenshot={shot}")
    assert colour_share(shot, PASS_GREEN, banner) > 0.15
    assert colour_share(shot, FAIL_RED, banner) < 0.01


def test_the_report_prints_to_pages(tmp_path: Path) -> None:
    page = audit_page(tmp_path, "print", *failing_results())
    pdf = tmp_path / "report.pdf"
    browse(page, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type /Page>")
    assert pages >= 2  # the controls, then the findings from a new page


def test_the_dom_holds_every_control(tmp_path: Path) -> None:
    page = audit_page(tmp_path, "dom", *failing_results())
    profile = tmp_path / "profile-dom"
    done = subprocess.run(
        [CHROMIUM, *QUIET_BROWSER, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    dom = done.stdout
    for control in ("SC-7", "AU-2", "CM-6", "CM-7", "SI-4", "SR-3", "SR-4", "SR-11", "LLM03:2025"):
        assert f'id="control-{control}"' in dom
    assert "&lt;img src=https://x.example/p&gt;" in dom  # shown as text, never an element


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="egress run as root builds the namespace here")
def test_opening_the_report_makes_no_network_attempt(tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>blank</title>")
    quiet = browse(blank, tmp_path, f"--screenshot={tmp_path / 'b.png'}", audited=True)
    assert quiet["attempts"] == [], "the browser itself phoned home; QUIET_BROWSER is stale"

    page = audit_page(tmp_path, "audited", *failing_results())
    shot = tmp_path / "audited.png"
    record = browse(page, tmp_path, "--window-size=1280,900", f"--screenshot={shot}", audited=True)
    assert record["rung"] == "netns+tun"
    assert record["attempts"] == []
    assert shot.stat().st_size > 10_000  # it did render, inside the sandbox

    pdf = tmp_path / "audited.pdf"
    printed = browse(page, tmp_path, f"--print-to-pdf={pdf}", audited=True)
    assert printed["attempts"] == [] and pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="egress run as root builds the namespace here")
def test_a_page_that_fetches_is_caught_fetching(tmp_path: Path) -> None:
    """The control for the zero above: the same browser and switches on a page that loads a
    stylesheet and an image from outside."""
    page = tmp_path / "fetching.html"
    page.write_text(
        '<!DOCTYPE html><link rel="stylesheet" href="https://fonts.cdn.example/a.css">'
        '<img src="http://198.51.100.7/pixel.png">'
    )
    record = browse(page, tmp_path, f"--screenshot={tmp_path / 'f.png'}", audited=True)
    seen = {(a["protocol"], a["destination"], a["http_path"]) for a in record["attempts"]}
    assert ("tcp", "198.51.100.7", "/pixel.png") in seen
    assert ("dns", "fonts.cdn.example", "") in seen
    assert {d for _p, d, _h in seen} == {"198.51.100.7", "fonts.cdn.example"}
