from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sellers.models import Seller
from sellers.requirements import onboarding_banner, requirement_text, requirements_text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("external_account", "a bank account for your payouts"),
        ("individual.verification.document", "an identity document (passport or ID card)"),
        ("business_profile.url", "your shop's website (or a short description of what you sell)"),
        ("tos_acceptance.date", "acceptance of Stripe's services agreement"),
        ("individual.dob.day", "your date of birth"),
        ("representative.address.city", "a company representative's home address"),
        (
            "person_1Abc.verification.document",
            "an identity document (passport or ID card) for a company representative",
        ),
        ("company.address.line1", "your company's address"),
        ("something.brand_new", "more details (brand new)"),
    ],
)
def test_requirement_names_in_plain_words(name, text):
    assert requirement_text(name) == text


def test_repeats_are_merged_in_order():
    assert requirements_text(
        ["individual.dob.day", "individual.dob.month", "tos_acceptance.date", "tos_acceptance.ip"]
    ) == ["your date of birth", "acceptance of Stripe's services agreement"]


def seller(**fields):
    base = {
        "status": Seller.Status.ACTIVE,
        "stripe_account_id": "acct_1",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
    }
    base.update(fields)
    return Seller(**base)


def test_banner_states():
    deadline = timezone.now() + timedelta(days=5)
    assert onboarding_banner(seller(stripe_account_id=None)).action_label == "Set up payments"
    unfinished = onboarding_banner(
        seller(
            details_submitted=False,
            charges_enabled=False,
            requirements_currently_due=["external_account"],
        )
    )
    assert unfinished.action_label == "Continue onboarding"
    assert unfinished.missing == ["a bank account for your payouts"]
    restricted = onboarding_banner(
        seller(
            charges_enabled=False,
            requirements_past_due=["individual.id_number"],
            requirements_current_deadline=deadline,
            requirements_disabled_reason="requirements.past_due",
        )
    )
    assert restricted.level == "error" and restricted.deadline == deadline
    assert restricted.missing == ["your national ID number"]
    assert "overdue" in restricted.detail.lower()
    pending = onboarding_banner(
        seller(
            charges_enabled=False, requirements_disabled_reason="requirements.pending_verification"
        )
    )
    assert pending.level == "warning" and pending.action == "" and "verifying" in pending.detail
    due_soon = onboarding_banner(seller(requirements_currently_due=["business_profile.url"]))
    assert due_soon.level == "warning" and due_soon.action == "onboarding"
    assert onboarding_banner(seller(payouts_enabled=False)).level == "warning"
    assert onboarding_banner(seller()).level == "ok"
    assert onboarding_banner(seller(status=Seller.Status.SUSPENDED)).level == "error"
    assert "disconnected" in onboarding_banner(seller(status=Seller.Status.DISCONNECTED)).headline
