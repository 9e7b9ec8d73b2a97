"""Render /docs and /redoc in headless Chromium with every host but this machine unreachable.

Checks that Swagger UI lists every operation of openapi.json (by operationId) and that
ReDoc lists every operation (by summary): both pages render from assets the service
serves itself. With a key (its own service's development key, or --key), it then seeds
the documented examples and, in Swagger UI, does Authorize -> Try it out -> Execute on
every GET operation without typing (scripts/try_it_out.py). Not part of `./scripts/test`:
it needs a Chromium, which the project does not install (`apt-get install chromium`).

    .venv/bin/python scripts/check_docs_in_browser.py                 # starts its own service
    .venv/bin/python scripts/check_docs_in_browser.py --url http://127.0.0.1:8000 [--key tsk_...]
    .venv/bin/python scripts/check_docs_in_browser.py --screenshots /tmp/docs   # also PNGs
"""

import argparse
import html
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from try_it_out import seed, try_every_get

ROOT = Path(__file__).resolve().parents[1]
# Every name resolves to nothing except the loopback: a page that needs a CDN stays blank.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    sys.exit("no Chromium found: `apt-get install chromium` (Debian) and run again")


def browse(browser: str, url: str, *extra: str) -> str:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        OFFLINE,
        "--virtual-time-budget=20000",  # let the page's scripts fetch the spec and render
        "--window-size=1280,2400",
        *extra,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the service exited while starting:\n" + log.read_text(errors="replace"))
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("the service did not start within 120 s")


def check(url: str, screenshots: Path | None, key: str | None) -> list[str]:
    with urllib.request.urlopen(url + "/openapi.json", timeout=10) as response:
        spec = json.load(response)
    operations = [op for item in spec["paths"].values() for op in item.values()]
    browser = chromium()
    problems = []
    swagger = html.unescape(browse(browser, url + "/docs", "--dump-dom"))
    for operation in operations:
        if operation["operationId"] not in swagger:
            problems.append(f"/docs does not list {operation['operationId']}")
    redoc = html.unescape(browse(browser, url + "/redoc", "--dump-dom"))
    for operation in operations:
        if operation["summary"] not in redoc:
            problems.append(f"/redoc does not list {operation['summary']!r}")
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        for page in ("docs", "redoc"):
            target = screenshots / f"{page}.png"
            browse(browser, f"{url}/{page}", f"--screenshot={target}")
            print("screenshot:", target)
    print(f"{len(operations)} operations; /docs and /redoc rendered with no host but 127.0.0.1 reachable")
    if key is not None:
        seed(url, key, spec)
        print("Try it out, on every GET operation (path parameters as Swagger UI filled them in):")
        problems += try_every_get(browser, url, key, spec, OFFLINE)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", help="a running service; default: start one on an empty embedded database")
    parser.add_argument("--screenshots", type=Path, help="also save docs.png and redoc.png in this folder")
    parser.add_argument("--key", help="with --url: an all-scopes key, to also Try it out (writes examples)")
    args = parser.parse_args()
    if args.url:
        problems = check(args.url.rstrip("/"), args.screenshots, args.key)
    else:
        with tempfile.TemporaryDirectory(prefix="toolsets-docs-check-") as data:
            port = free_port()
            env = {**os.environ, "TOOLSETS_DATA_DIR": str(Path(data) / "postgres")}
            env.pop("DATABASE_URL", None)
            toolsets = ROOT / ".venv" / "bin" / "toolsets"
            log = Path(data) / "serve.log"
            with log.open("wb") as output:
                server = subprocess.Popen(
                    [str(toolsets), "serve", "--port", str(port)], env=env, stdout=output, stderr=output
                )
                try:
                    url = f"http://127.0.0.1:{port}"
                    wait_until_up(url, server, log)
                    key = next(line for line in log.read_text().splitlines() if line.startswith("tsk_"))
                    problems = check(url, args.screenshots, key)
                finally:
                    server.terminate()
                    server.wait(timeout=60)
    for problem in problems:
        print("FAIL:", problem)
    print("ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
