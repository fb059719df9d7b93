"""Stripe's account requirements in plain words, and the onboarding banner built from them.

Stripe names what it needs with dotted field paths (``individual.verification.document``,
``external_account``); sellers need to read "an identity document". Unknown names fall back to a
readable form of the path, so a new requirement never hides from the seller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sellers.models import Seller

# Exact requirement names first, then prefixes (longest first). The person paths are the same
# under individual., representative., and person_xxx. (people of a company).
EXACT: dict[str, str] = {
    "external_account": "a bank account for your payouts",
    "business_type": "whether you sell as an individual or a company",
    "business_profile.url": "your shop's website (or a short description of what you sell)",
    "business_profile.product_description": "a short description of what you sell",
    "business_profile.mcc": "the category of your business",
    "business_profile.name": "your business name",
    "business_profile.support_phone": "a customer support phone number",
    "tos_acceptance.date": "acceptance of Stripe's services agreement",
    "tos_acceptance.ip": "acceptance of Stripe's services agreement",
    "settings.payments.statement_descriptor": "the name shown on your buyers' card statements",
    "company.name": "your company's legal name",
    "company.tax_id": "your company's tax ID",
    "company.phone": "your company's phone number",
    "company.owners_provided": "the list of your company's owners",
    "company.directors_provided": "the list of your company's directors",
    "company.executives_provided": "the list of your company's executives",
    "company.verification.document": "a document proving your company's registration",
}
PERSON_FIELDS: dict[str, str] = {
    "first_name": "the legal name",
    "last_name": "the legal name",
    "dob": "the date of birth",
    "address": "the home address",
    "email": "the email address",
    "phone": "the phone number",
    "id_number": "the national ID number",
    "ssn_last_4": "the last 4 digits of the social security number",
    "verification.document": "an identity document (passport or ID card)",
    "verification.additional_document": "a proof of address (utility bill or bank statement)",
    "relationship": "the role in the company",
    "political_exposure": "whether they hold a public office",
}
PREFIXES: dict[str, str] = {
    "company.address": "your company's address",
    "company.verification": "a document proving your company's registration",
    "business_profile": "details about your business",
    "settings": "your account settings",
}
DISABLED_REASONS: dict[str, str] = {
    "requirements.past_due": "required information is overdue",
    "requirements.pending_verification": "Stripe is verifying the details you gave",
    "listed": "Stripe has flagged the account for review",
    "under_review": "Stripe is reviewing the account",
    "rejected.fraud": "Stripe rejected the account",
    "rejected.incomplete_verification": "Stripe could not verify the account",
    "rejected.listed": "Stripe rejected the account",
    "rejected.other": "Stripe rejected the account",
    "rejected.terms_of_service": "Stripe rejected the account (terms of service)",
    "platform_paused": "the platform has paused the account",
    "action_required.requested_capabilities": "Stripe needs more information to enable payments",
    "other": "Stripe has restricted the account",
}


def _person_text(is_individual: bool, rest: str) -> str | None:
    for name, text in PERSON_FIELDS.items():
        if rest == name or rest.startswith(name + "."):
            if text.startswith("the "):
                whose = "your" if is_individual else "a company representative's"
                return whose + text[3:]
            return text if is_individual else f"{text} for a company representative"
    return None


def requirement_text(name: str) -> str:
    """One Stripe requirement name in plain words."""
    if name in EXACT:
        return EXACT[name]
    owner, _, rest = name.partition(".")
    if owner in {"individual", "representative"} or owner.startswith("person_"):
        text = _person_text(owner == "individual", rest)
        if text:
            return text
    for prefix in sorted(PREFIXES, key=len, reverse=True):
        if name.startswith(prefix + ".") or name == prefix:
            return PREFIXES[prefix]
    readable = name.rsplit(".", 1)[-1].replace("_", " ")
    return f"more details ({readable})"


def requirements_text(names: list[str]) -> list[str]:
    """Plain-word texts of ``names``, without repeats, in Stripe's order."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(requirement_text(name), None)
    return list(seen)


def disabled_reason_text(reason: str) -> str:
    if not reason:
        return ""
    return DISABLED_REASONS.get(reason, DISABLED_REASONS["other"])


@dataclass(frozen=True)
class Banner:
    """What the seller dashboard says about the account: ``level`` is ok, warning or error;
    ``action`` names the button ("onboarding" = a fresh account link) or is empty."""

    level: str
    headline: str
    detail: str = ""
    missing: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    deadline: datetime | None = None
    action: str = ""
    action_label: str = ""


def onboarding_banner(seller: Seller) -> Banner:
    """The banner for ``seller``'s mirrored account state, in plain words."""
    from sellers.models import Seller as SellerModel

    later = requirements_text(seller.requirements_eventually_due or [])
    if seller.status == SellerModel.Status.DISCONNECTED:
        return Banner(
            "error",
            "Your Stripe account is disconnected from this marketplace.",
            "Your listings are hidden and nobody can buy from you. Contact us to set up a new account.",
        )
    if seller.status == SellerModel.Status.SUSPENDED:
        return Banner(
            "error",
            "Your shop is suspended by the platform.",
            (seller.status_reason + " " if seller.status_reason else "")
            + "Your listings are hidden until we reinstate your shop.",
        )
    if not seller.stripe_account_id:
        return Banner(
            "warning",
            "Set up payments with Stripe to start selling.",
            "Stripe collects your identity and bank details on its own secure pages.",
            action="onboarding",
            action_label="Set up payments",
        )
    past_due = requirements_text(seller.requirements_past_due or [])
    currently_due = requirements_text(seller.requirements_currently_due or [])
    reason = disabled_reason_text(seller.requirements_disabled_reason)
    deadline = seller.requirements_current_deadline
    if not seller.details_submitted:
        return Banner(
            "warning",
            "Finish your Stripe onboarding to start selling.",
            "You can pick up where you left off at any time.",
            missing=currently_due or past_due,
            deadline=deadline,
            action="onboarding",
            action_label="Continue onboarding",
        )
    if past_due or not seller.charges_enabled:
        if past_due or currently_due:
            return Banner(
                "error",
                "Buyers cannot pay you right now: Stripe needs more information.",
                (reason[0].upper() + reason[1:] + ". " if reason else "")
                + "Your listings show as temporarily unavailable until this is fixed.",
                missing=past_due or currently_due,
                deadline=deadline,
                later=later,
                action="onboarding",
                action_label="Fix it now",
            )
        return Banner(
            "warning",
            "Stripe is checking your details.",
            (reason[0].upper() + reason[1:] + ". " if reason else "")
            + "Buyers can pay you as soon as Stripe enables payments; this page updates by itself.",
            later=later,
        )
    if currently_due:
        return Banner(
            "warning",
            "Stripe needs more information to keep your account working.",
            "You can still sell; give these details before the deadline to avoid a pause.",
            missing=currently_due,
            deadline=deadline,
            later=later,
            action="onboarding",
            action_label="Add the missing details",
        )
    if not seller.payouts_enabled:
        return Banner(
            "warning",
            "You can sell, but Stripe has not enabled payouts to your bank yet.",
            reason[0].upper() + reason[1:] + "." if reason else "",
            later=later,
        )
    return Banner(
        "ok",
        "Your account is ready: buyers can pay you and payouts reach your bank.",
        later=later,
    )
