"""Acknowledgements: once per new ticket, a short public system message telling the customer that we
have their request and when to expect an answer. Never to automated senders."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import override

from helpdesk.models import AuthorType, Ticket
from helpdesk.services.messages import post_message


def acknowledge(*, ticket: Ticket, channel: str) -> None:
    """Post the acknowledgement (delivered by the channel like any answer). Idempotent per ticket."""
    language = ticket.customer.preferred_language or "en"
    with override(language):
        text = _(
            "Thank you for contacting us. We have received your request and it has the number #%(number)s. "
            "Please keep this number in the subject when you write to us about it."
        ) % {"number": ticket.pk}
        # A subject of our own: repeating the customer's could make us relay a stranger's text.
        subject = _("We have received your request")
    post_message(
        ticket=ticket,
        author_type=AuthorType.SYSTEM,
        body_text=text,
        channel=channel,
        external_id=f"ack:{ticket.pk}",
        event="acknowledgement",
        data={"subject": subject},
        is_public=True,
    )
