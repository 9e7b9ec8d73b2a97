"""/docs and /redoc work without the internet: every asset they load is served by the service."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest


class _Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets and icons (and anything else with src/href)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.spec_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        if tag == "redoc" and values.get("spec-url"):
            self.spec_urls.append(values["spec-url"] or "")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_docs_pages_load_every_script_and_stylesheet_from_the_service(
    client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(response.text)
    names = {url.rsplit("/", 1)[-1] for url in parser.urls}
    assert expected <= names, parser.urls
    for url in parser.urls + parser.spec_urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{page} loads {url} from another host"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    # Nothing else on the page reaches out either (no CDN, no web fonts, no validator badge).
    assert "https://" not in response.text
    assert "http://" not in response.text


async def test_swagger_ui_scripts_and_styles_have_their_media_types(client: httpx.AsyncClient) -> None:
    parser = _Assets()
    parser.feed((await client.get("/docs")).text)
    types = {url.rsplit(".", 1)[-1]: (await client.get(url)).headers["content-type"] for url in parser.urls}
    assert types["js"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert types["css"].startswith("text/css")


async def test_swagger_ui_keeps_the_key_and_fetches_no_validator_badge(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert '"persistAuthorization": true' in page
    assert '"validatorUrl": null' in page
