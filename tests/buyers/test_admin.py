from __future__ import annotations

import pytest

from buyers import services
from tests.factories import StaffFactory, log_in_with_totp

pytestmark = pytest.mark.django_db


def test_orders_in_admin_are_read_only(client, buyer, listing):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    log_in_with_totp(client, StaffFactory())
    listing_page = client.get("/admin/buyers/order/?q=Blue")
    assert listing_page.status_code == 200 and "Blue mug" in listing_page.content.decode()
    detail = client.get(f"/admin/buyers/order/{order.pk}/change/")
    assert detail.status_code == 200
    assert client.get("/admin/buyers/order/add/").status_code == 403
    response = client.post(f"/admin/buyers/order/{order.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
