"""URLs without arguments, reversed once per URLconf and script prefix instead of once per link.

Every page carries a few (the top bar's Browse, Cart, Log in...): a reversal walks the resolver
for each, which costs as much as the rest of a small template (bench/catalogue_page.py). The
result depends only on the name, the URLconf and the script prefix, which are part of the key.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


def fixed_url(name: str) -> str:
    """``reverse(name)`` for a URL pattern without arguments."""
    return _reversed(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@functools.lru_cache(maxsize=256)
def _reversed(name: str, urlconf: str, prefix: str) -> str:
    del prefix  # part of the key: reverse() reads the current one
    return reverse(name, urlconf=urlconf)
