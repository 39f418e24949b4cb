"""Every page a demo role reaches from its home page and menu is in French: no raw state, action, result,
tool value or snake_case key left in the visible text."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest

from asset_tracker.demo import DEMO_PASSWORD, USERS, load_demo
from tests.conftest import csrf_token

MAX_PAGES = 90  # per role, breadth first from the home page and the menu
NOT_PAGES = (
    ".pdf",
    ".csv",
    ".xlsx",
    ".zip",
    ".json",
    ".jsonl",
    ".pem",
    "/api/",
    "/logout",
    "/export",
    "export=",
    "/static/",
)
# Stored values and English words that must never reach a French page as they are.
RAW_WORDS = {
    "registered", "collected", "received", "diagnosed", "wiped", "refurbished", "reserved", "returned", "recycled",
    "receive", "diagnose", "refurbish", "reserve", "recycle", "lookup", "passed", "failed", "sent", "pending",
    "open", "closed", "gift", "loan", "laptop", "desktop", "tablet", "phone", "Year", "Ram gb", "Fill With Zeros",
    "PRNG Stream", "Secure Erase", "last pass", "True", "False", "None",
}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
NUMBER_WITH_POINT = re.compile(r"\b\d+\.\d+\s?(?:%|j\b)")


class _Text(HTMLParser):
    """The visible text of a page (not scripts, styles or attribute values)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "pre", "template"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " | ".join(parser.parts)


def raw_identifiers(text: str) -> list[str]:
    # Examples of what to type in a field are literal input ("Par exemple : Fill With Zeros, …"), up to the
    # end of that text (" | " joins texts; a bare "|" may be part of the example, as in "laptop|desktop").
    text = re.sub(r"Par exemple\s?:.*?(?= \| |$)", "", text)
    found = [m.group(0) for m in SNAKE.finditer(text) if "@" not in text[max(0, m.start() - 40):m.end() + 40]]
    for word in RAW_WORDS:
        # A tool's own label may follow its French translation in parentheses: "Réécriture… (Fill With Zeros)".
        if re.search(rf"(?<![\w@.(-]){re.escape(word)}(?![\w@.-])", text):
            found.append(word)
    found += NUMBER_WITH_POINT.findall(text)
    return sorted(set(found))


def links(html: str) -> list[str]:
    out = []
    for href in re.findall(r'<a\b[^>]*\bhref="([^"#][^"]*)"', html):
        href = href.replace("&amp;", "&")
        if href.startswith(("http", "mailto:")) or any(n in href for n in NOT_PAGES):
            continue
        out.append(href)
    return out


@pytest.fixture
def demo(app, db):
    load_demo(30)


@pytest.mark.parametrize("email", [u[0] for u in USERS])
def test_french_pages_of_every_demo_role_show_no_raw_identifier(demo, client, email):
    token = csrf_token(client)
    resp = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    seen, queue, problems = set(), ["/home"], {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        key = urlparse(path).path
        # One page per kind of address is enough: /devices/RB-… once, each list with one set of filters.
        kind = re.sub(r"RB-\d+-\w|\d+", "N", key)
        if kind in seen:
            continue
        seen.add(kind)
        resp = client.get(path, headers={"Accept-Language": "fr"})
        assert resp.status_code < 400, f"{email} {path}: {resp.status_code}"
        if "text/html" not in resp.content_type:
            continue
        html = resp.get_data(as_text=True)
        raw = raw_identifiers(visible_text(html))
        if raw:
            problems[path] = raw
        queue += [link for link in links(html) if re.sub(r"RB-\d+-\w|\d+", "N", urlparse(link).path) not in seen]
    assert len(seen) > 5
    assert problems == {}, "\n".join(f"{p}: {r}" for p, r in problems.items())


FRENCH_WORDS = re.compile(r"\b(?:les|des|une|pour|avec|sont|appareils?|lots?|État|étapes?|Atelier|Effacement|"
                          r"Réceptionner|Réception|Rechercher|Chercher|Accueil|Déconnexion)\b")


@pytest.mark.parametrize("email", ["admin@demo.reboot.example", "donateur@demo.reboot.example",
                                   "coordinatrice@demo.reboot.example"])
def test_english_pages_of_demo_roles_show_no_french_words(demo, client, email):
    token = csrf_token(client, "/login?lang=en")  # the tests share one app context: the first page sets the language
    assert (
        client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token}).status_code == 302
    )
    seen, queue, problems = set(), ["/home"], {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0).split("#")[0]
        kind = re.sub(r"RB-\d+-\w|\d+", "N", urlparse(path).path)
        if kind in seen:
            continue
        seen.add(kind)
        resp = client.get(path + ("&" if "?" in path else "?") + "lang=en")
        if "text/html" not in resp.content_type or resp.status_code != 200:
            continue
        html = resp.get_data(as_text=True)
        assert '<html lang="en">' in html, path
        french = sorted(set(FRENCH_WORDS.findall(visible_text(html))))
        if french:
            problems[path] = french
        queue += links(html)
    assert len(seen) > 5
    assert problems == {}, "\n".join(f"{p}: {r}" for p, r in problems.items())
