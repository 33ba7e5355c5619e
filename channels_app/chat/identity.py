"""Who is chatting: the visitor token of a browser, and the users a company's site vouches for.

A visitor token is issued by the server and kept by the widget (localStorage); it names a customer
through an identity of kind `chat_visitor`. A site that knows its logged-in user sends the user id with
`hash = hex(HMAC-SHA256(widget.identity_secret, user id))`, computed on its own server: such a user is the
customer known as `site<widget id>:<user id>` on every device (a verified claim merges the visitor into
them). An email typed into the widget is only ever a contact address of this visitor: it never joins them
to an existing customer's history.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets

from django.core.exceptions import ValidationError

from channels_app.models import ChatWidget
from customers.models import Customer, Identity, IdentityKind
from customers.services import IdentityConflict, claim_identity, identify_customer, update_customer

VISITOR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
USER_ID = re.compile(r"^\S{1,200}$")


def new_visitor_token() -> str:
    return secrets.token_urlsafe(24)


def vouched_user_id(widget: ChatWidget, user: object) -> str | None:
    """The user id, if the hash proves the widget's site vouches for it."""
    if not isinstance(user, dict):
        return None
    user_id, given = user.get("id"), user.get("hash")
    if not isinstance(user_id, str) or not isinstance(given, str) or not USER_ID.match(user_id):
        return None
    expected = hmac.new(widget.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return user_id if hmac.compare_digest(expected, given.strip().lower()) else None


def known_visitor(visitor: str) -> Customer | None:
    """The customer a visitor token already names (None: a token this helpdesk never issued, or unused)."""
    found = Identity.objects.select_related("customer__merged_into").filter(
        kind=IdentityKind.CHAT_VISITOR, value=visitor
    )
    identity = found.first()
    if identity is None:
        return None
    return identity.customer.merged_into or identity.customer


def visitor_customer(widget: ChatWidget, visitor: str, *, user: object = None) -> Customer:
    """The customer behind a visitor token (created with it), joined to the vouched user if the site vouches
    for one."""
    customer = identify_customer(kind=IdentityKind.CHAT_VISITOR, value=visitor).customer
    customer = customer.merged_into or customer
    user_id = vouched_user_id(widget, user)
    if user_id is None:
        return customer
    customer = claim_identity(
        customer=customer, kind=IdentityKind.EXTERNAL, value=f"site{widget.pk}:{user_id}", verified=True
    )
    details = user if isinstance(user, dict) else {}
    name = details.get("name") if isinstance(details.get("name"), str) else ""
    email = details.get("email") if isinstance(details.get("email"), str) else ""
    if email:  # vouched for with the user: a verified claim
        with contextlib.suppress(ValidationError):  # not an address: the user id is enough
            customer = claim_identity(customer=customer, kind=IdentityKind.EMAIL, value=email, verified=True)
    if name.strip() and not customer.name:
        customer = update_customer(customer=customer, name=name.strip()[:200])
    return customer


def remember_contact(customer: Customer, *, name: str = "", email: str = "") -> tuple[str, str]:
    """The pre-chat fields: a name for a nameless customer, and an email address that becomes the visitor's
    own (unverified) address only if nobody else has it. Returns (name, email) as kept for the chat."""
    if name.strip() and not customer.name:
        update_customer(customer=customer, name=name.strip()[:200])
    if email:
        # Someone else's address: kept on the chat for the agent, never joining the histories.
        with contextlib.suppress(IdentityConflict):
            claim_identity(customer=customer, kind=IdentityKind.EMAIL, value=email, verified=False)
    return name.strip()[:200], email.strip().lower()[:254]
