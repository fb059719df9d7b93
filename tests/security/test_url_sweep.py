"""Every URL pattern of the site (walked from the resolver, so new ones are covered) with hostile
path values, as anonymous, buyer, seller and staff: no 500, ever. Each parameter in turn gets each
hostile value while the others hold a plausible one."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from tests.factories import StaffFactory, UserFactory
from tests.sellers.factories import ListingFactory, SellerFactory

HOSTILE = [
    "\x00",
    "a\x00b",
    "acct_\x00",
    "ch_\x00",
    "cs_test_\x00",
    "x" * 4000,
    "ch_" + "a" * 4000,
    "é☃𝄞",
    "\ud800",
    "..",
    "../../etc/passwd",
    "-1",
    "0",
    "9" * 40,
    str(2**63),
    "1e9",
    "' OR 1=1--",
    "<script>alert(1)</script>",
    "%00",
    " ",
]
PLAUSIBLE = "1"


def _route_template(route: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), names


def _regex_template(regex: str) -> tuple[str, list[str]]:
    """``^a/(?P<x>[0-9]+)/$`` -> ``a/{x}/``: named groups become slots (balanced parentheses)."""
    out, names, i = [], [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name = regex[i + 4 : regex.index(">", i)]
            depth, j = 0, i
            while True:
                if regex[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append("{" + name + "}")
            names.append(name)
            i = j
        else:
            out.append(regex[i])
            i += 1
    text = "".join(out).lstrip("^").removesuffix("$").removesuffix("\\Z")
    return re.sub(r"\\(.)", r"\1", text), names


def templates() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []

    def walk(patterns, prefix, names):
        for p in patterns:
            if isinstance(p.pattern, RoutePattern):
                text, more = _route_template(str(p.pattern))
            else:
                assert isinstance(p.pattern, RegexPattern)
                text, more = _regex_template(str(p.pattern))
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + text, names + more)
            else:
                assert isinstance(p, URLPattern)
                found.append(("/" + prefix + text, names + more))

    walk(get_resolver().url_patterns, "", [])
    return found


def urls_to_try() -> list[str]:
    urls = []
    for template, names in templates():
        if not names:
            urls.append(template)
            continue
        for name in dict.fromkeys(names):
            for value in HOSTILE:
                values = {n: PLAUSIBLE for n in names}
                values[name] = quote(value.encode("utf-8", "surrogatepass"), safe="")
                urls.append(template.format(**values))
    return list(dict.fromkeys(urls))


@pytest.mark.django_db
def test_every_url_with_hostile_path_values_never_500(settings):
    settings.DEBUG = False
    settings.SANDBOX_HTTP_OPEN = True  # the widest surface; closed, /sandbox/ is all 404s
    listing = ListingFactory()
    people = {
        "anonymous": None,
        "buyer": UserFactory(),
        "seller": listing.seller.user,
        "staff": StaffFactory(),
    }
    assert SellerFactory._meta.model.objects.count() == 1
    urls = urls_to_try()
    assert len(templates()) > 50  # the walk found the site, admin and allauth included
    tried, failures = 0, []
    for who, user in people.items():
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        for url in urls:
            for method in (client.get, client.post):
                response = method(url)
                tried += 1
                if response.status_code >= 500:
                    failures.append((who, method.__name__, url[:120], response.status_code))
    print(f"URL sweep: {len(templates())} patterns, {len(urls)} URLs, {tried} requests, "
          f"{len(failures)} answered 5xx")  # fmt: skip
    assert failures == []
