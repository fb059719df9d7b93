"""``{% fixed_url 'name' %}``: ``{% url 'name' %}`` for a URL without arguments, reversed once
(see marketplace/links.py). Escaped like ``{% url %}``."""

from __future__ import annotations

from django import template

from marketplace.links import fixed_url as _fixed_url

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    return _fixed_url(name)
