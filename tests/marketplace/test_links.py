"""``fixed_url`` (marketplace/links.py, the top bar's links): what ``reverse`` gives, under the
script prefix and URLconf of the request, although reversed once."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import clear_script_prefix, path, reverse, set_script_prefix

from marketplace.links import fixed_url


def _nowhere(request):  # pragma: no cover - never served
    raise AssertionError


urlpatterns = [path("elsewhere/", _nowhere, name="home")]


@pytest.mark.parametrize("name", ["home", "buyers:cart", "account_login", "account_signup"])
def test_fixed_url_is_reverse(name):
    assert fixed_url(name) == reverse(name)
    assert fixed_url(name) == reverse(name)  # and again, from the memo


def test_fixed_url_follows_the_script_prefix():
    assert fixed_url("buyers:cart") == "/cart/"
    set_script_prefix("/shop-app/")
    try:
        assert fixed_url("buyers:cart") == reverse("buyers:cart") == "/shop-app/cart/"
    finally:
        clear_script_prefix()
    assert fixed_url("buyers:cart") == "/cart/"


def test_fixed_url_follows_the_urlconf():
    assert fixed_url("home") == "/"
    with override_settings(ROOT_URLCONF=__name__):
        assert fixed_url("home") == "/elsewhere/"
    assert fixed_url("home") == "/"


def test_tag_escapes_like_url():
    html = Template("{% load links %}<a href=\"{% fixed_url 'home' %}\">").render(Context())
    assert html == '<a href="/">'


def test_a_page_links_as_before(client, db):
    page = client.get("/").content.decode()
    for name in ("buyers:cart", "account_login", "account_signup"):
        assert f'href="{reverse(name)}"' in page
    assert 'class="brand" href="/"' in page
