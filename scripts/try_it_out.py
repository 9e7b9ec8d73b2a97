"""Swagger UI's Authorize -> Try it out -> Execute, in headless Chromium, for every GET operation.

Used by check_docs_in_browser.py. Seeds the service with the documented request-body
examples (project `petstore`, toolset `pets`, …), then in the browser authorizes with the
key, and on each GET operation clicks "Try it out" and "Execute" without typing anything.
An operation passes when every path parameter came filled in and the answer is neither a
422 (the filled-in values were invalid) nor a 5xx. Driven over the DevTools protocol with
the `websockets` package that uvicorn[standard] installs.
"""

import itertools
import json
import subprocess
import time
import urllib.request
from typing import Any

from websockets.sync.client import ClientConnection, connect


def _request(url: str, method: str, key: str, body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def seed(url: str, key: str, spec: dict[str, Any]) -> None:
    """Post the documented examples in order, as a newcomer trying them top down would."""
    schemas = spec["components"]["schemas"]

    def example(name: str) -> Any:
        return schemas[name]["examples"][0]

    project = f"{url}/v1/projects/petstore"
    urn = "tools:http:petstore:get_pet"
    for method, path, body in [
        ("POST", f"{url}/v1/projects", example("ProjectCreate")),
        ("POST", f"{project}/deployments", example("DeploymentCreate")),
        ("POST", f"{project}/prompt-templates", example("PromptTemplateCreate")),
        ("POST", f"{project}/toolsets", example("ToolsetCreate")),
        ("PUT", f"{project}/variations/{urn}", example("VariationFields")),
        ("PUT", f"{project}/toolsets/pets/variations/{urn}", example("VariationFields")),
        ("POST", f"{project}/variations/group-versions", None),
        ("POST", f"{project}/toolsets/pets/releases", example("ReleaseCreate")),
    ]:
        status = _request(path, method, key, body)
        if status >= 300:
            raise RuntimeError(f"seeding: {method} {path} answered {status}")


class Page:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> Any:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self.socket.recv(timeout=60))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(expression)


# Runs in the page: opens one operation, clicks "Try it out", reads what its path
# parameters were filled with, clicks "Execute" and waits for the answer's status.
_TRY = """
(async (id) => {
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  const block = document.querySelector(`[id$="-${id}"].opblock`);
  if (!block) return {error: "not listed"};
  if (!block.classList.contains("is-open")) block.querySelector(".opblock-summary-control").click();
  for (let i = 0; i < 50 && !block.querySelector(".try-out__btn"); i++) await sleep(100);
  block.querySelector(".try-out__btn").click();
  await sleep(300);
  const filled = {};
  for (const row of block.querySelectorAll("tr[data-param-in='path']")) {
    const input = row.querySelector("input");
    filled[row.getAttribute("data-param-name")] = input ? input.value : null;
  }
  block.querySelector(".execute").click();
  for (let i = 0; i < 100; i++) {
    const status = block.querySelector(".live-responses-table tbody .response-col_status");
    if (status) return {filled, status: parseInt(status.textContent.trim(), 10)};
    await sleep(100);
  }
  return {filled, error: "no answer"};
})
"""


def try_every_get(browser: str, url: str, key: str, spec: dict[str, Any], offline: str) -> list[str]:
    port = 9000 + int(time.time()) % 1000
    chrome = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            offline,
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    problems: list[str] = []
    try:
        targets: list[dict[str, Any]] = []
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                    targets = [t for t in json.load(answer) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                time.sleep(0.2)
        with connect(targets[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Page(socket)
            page.call("Page.navigate", url=f"{url}/docs")
            page.wait_for("document.querySelectorAll('.opblock').length > 0")
            page.evaluate(f"ui.preauthorizeApiKey('HTTPBearer', {json.dumps(key)})")
            gets = [
                op["operationId"]
                for path, item in spec["paths"].items()
                if path.startswith("/v1/")
                for method, op in item.items()
                if method == "get"
            ]
            for operation_id in gets:
                result = page.evaluate(f"({_TRY})({json.dumps(operation_id)})")
                print(f"  {operation_id:32} {result}")
                if "error" in result:
                    problems.append(f"Try it out on {operation_id}: {result['error']}")
                elif any(not value for value in result["filled"].values()):
                    problems.append(f"Try it out on {operation_id}: a path parameter was not filled in")
                elif result["status"] in (400, 401, 422) or result["status"] >= 500:
                    problems.append(f"Try it out on {operation_id}: answered {result['status']}")
    finally:
        chrome.terminate()
        chrome.wait(timeout=30)
    return problems
