#!/usr/bin/env python3
"""Check an mcdnn catalog report (report.html) in headless Chromium.

    python3 tools/check_report.py REPORT.html --expect-variants N [--screenshot OUT.png] [--chromium PATH]

Loads the page with --dump-dom and checks the rendered DOM: <body data-variants> is N, every
<svg class="panel"> holds exactly N elements of class "pt" with N distinct data-id values,
<body data-panels> is the number of panels, no src/href/srcset/... attribute or CSS url()
points at http:// or https:// (the report must work offline), no text on the page shows a number
with 7 or more decimals (numbers are formatted for people, e.g. mean 0.286, not
0.28604020714759827), and the page logged no uncaught JavaScript error. Prints one summary line and exits 0, or prints what failed and exits 1;
exits 2 when Chromium cannot be found or started. --screenshot also writes a 1400x1100 PNG.
Standard library only.
"""
import argparse
import html.parser
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 60
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
URL_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background"}
REMOTE = re.compile(r"https?://", re.I)
CSS_REMOTE = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*https?://", re.I)
LONG_NUMBER = re.compile(r"(?<![\w.])\d+\.\d{7,}")  # 0.28604020714759827: a number nobody formatted


class NoChromium(Exception):
    pass


def find_chromium(explicit):
    if explicit:
        path = shutil.which(explicit) or (explicit if os.access(explicit, os.X_OK) else None)
        if not path:
            raise NoChromium(f"--chromium {explicit}: not an executable")
        return path
    for name in [os.environ.get("CHROMIUM")] + list(NAMES):
        if name and shutil.which(name):
            return shutil.which(name)
    raise NoChromium("no Chromium found (tried $CHROMIUM, " + ", ".join(NAMES) + "); "
                     "Debian: apt-get install chromium, or pass --chromium PATH")


def run_chromium(chromium, url, extra, sandbox):
    """Runs headless Chromium in a throw-away profile; returns (returncode, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="check_report-") as profile:
        cmd = [chromium, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=5000"] + ([] if sandbox else ["--no-sandbox"]) + extra + [url]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            raise NoChromium(f"cannot start {chromium}: {e}")
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: Chromium and its helpers
            proc.communicate()
            raise NoChromium(f"{chromium} did not finish within {TIMEOUT_S} s")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # helpers left behind, if any
            except OSError:
                pass
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def chromium_run(chromium, url, extra, want):
    """Sandboxed unless root; retried without the sandbox if that is what keeps it from starting."""
    sandbox = os.geteuid() != 0
    rc, out, err = run_chromium(chromium, url, extra, sandbox)
    if sandbox and not want(rc, out):
        rc, out, err = run_chromium(chromium, url, extra, False)
    if not want(rc, out):
        tail = "\n".join(line for line in err.splitlines()[-8:])
        raise NoChromium(f"{chromium} failed (exit status {rc}):\n{tail}")
    return out, err


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body = None         # attributes of <body>, or of the element with id="report"
        self.panels = []         # [axis, [data-id of each class="pt" element]]
        self.svg_depth = 0       # <svg> nesting inside the current panel
        self.remote = []         # offending attribute / CSS references
        self.in_style = False
        self.in_script = False
        self.long_numbers = []   # numbers shown with too many digits, in their text

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and self.body is None or a.get("id") == "report":
            self.body = a
        for k, v in attrs:
            if v and (k in URL_ATTRS and REMOTE.search(v) or k == "style" and CSS_REMOTE.search(v)):
                self.remote.append(f"<{tag} {k}=\"{v[:80]}\">")
        if tag == "svg":
            if self.svg_depth:
                self.svg_depth += 1
            elif "panel" in (a.get("class") or "").split():
                self.panels.append([a.get("data-axis") or "?", []])
                self.svg_depth = 1
        elif self.svg_depth and a.get("class") == "pt":
            self.panels[-1][1].append(a.get("data-id"))
        self.in_style = tag == "style"
        self.in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg" and self.svg_depth:
            self.svg_depth -= 1

    def handle_endtag(self, tag):
        if tag == "svg" and self.svg_depth:
            self.svg_depth -= 1
        self.in_style = self.in_script = False

    def handle_data(self, data):
        if self.in_style and CSS_REMOTE.search(data):
            self.remote.append("<style> " + CSS_REMOTE.search(data).group(0))
        if not self.in_style and not self.in_script and LONG_NUMBER.search(data):
            self.long_numbers.append(data.strip()[:120])


def check(dom_text, stderr, n):
    dom = Dom()
    dom.feed(dom_text)
    dom.close()
    errors = []
    if dom.body is None:
        errors.append("no <body> in the rendered DOM")
        return errors, dom
    if dom.body.get("data-variants") != str(n):
        errors.append(f"<body data-variants> is {dom.body.get('data-variants')!r}, expected '{n}'")
    if dom.body.get("data-panels") != str(len(dom.panels)):
        errors.append(f"<body data-panels> is {dom.body.get('data-panels')!r}, but the page has {len(dom.panels)} "
                      "<svg class=\"panel\">")
    if not dom.panels:
        errors.append("no <svg class=\"panel\"> drawn")
    for axis, ids in dom.panels:
        if len(ids) != n:
            errors.append(f"panel {axis}: {len(ids)} class=\"pt\" elements, expected {n}")
        if None in ids:
            errors.append(f"panel {axis}: {ids.count(None)} points without data-id")
        if len(set(ids)) != len(ids) or len(set(ids)) != n:
            errors.append(f"panel {axis}: {len(set(ids))} distinct data-id values, expected {n}")
    axes = [a for a, _ in dom.panels]
    if len(set(axes)) != len(axes):
        errors.append(f"panels repeat an axis: {', '.join(axes)}")
    for ref in dom.remote:
        errors.append(f"network reference (the report must work offline): {ref}")
    for text in dom.long_numbers:
        errors.append(f"a number shown unformatted (7 or more decimals) in: {text!r}")
    for line in stderr.splitlines():
        if ":CONSOLE" in line and "Uncaught" in line:
            errors.append("JavaScript error: " + line.split("] ", 1)[-1][:300])
    return errors, dom


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="report.html")
    ap.add_argument("--expect-variants", type=int, required=True, metavar="N")
    ap.add_argument("--screenshot", metavar="OUT.png", help="also write a 1400x1100 screenshot")
    ap.add_argument("--chromium", metavar="PATH", help="the browser (default: $CHROMIUM, then chromium on PATH)")
    a = ap.parse_args(argv)
    report = Path(a.report)
    if not report.is_file():
        print(f"{a.report}: no such file", file=sys.stderr)
        return 1
    url = report.resolve().as_uri()
    try:
        chromium = find_chromium(a.chromium)
        dom_text, stderr = chromium_run(chromium, url, ["--dump-dom"], lambda rc, out: rc == 0 and "<html" in out)
        if a.screenshot:
            shot = Path(a.screenshot).resolve()
            if shot.exists():
                shot.unlink()
            chromium_run(chromium, url, ["--window-size=1400,1100", f"--screenshot={shot}"],
                         lambda rc, out: rc == 0 and shot.is_file() and shot.stat().st_size > 0)
    except NoChromium as e:
        print(f"check_report: {e}", file=sys.stderr)
        return 2
    errors, dom = check(dom_text, stderr, a.expect_variants)
    if errors:
        print(f"{a.report}: FAILED", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"{a.report}: OK: {len(dom.panels)} panels ({', '.join(ax for ax, _ in dom.panels)}), "
          f"{a.expect_variants} points per panel, data-variants {a.expect_variants}, no network references, "
          "no unformatted numbers"
          + (f"; screenshot {a.screenshot}" if a.screenshot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
