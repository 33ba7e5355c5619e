import pytest

from channels_app.models import ChatWidget, Mailbox
from helpdesk.models import Inbox
from tests.channels_app.mailservers import dovecot_unavailable, imap_server, smtp_server
from tests.factories import TeamFactory

SITE = "https://shop.example.com"  # the company site the chat widget is on


@pytest.fixture
def support_inbox(db, team):
    return Inbox.objects.create(name="Support email", kind="email", team=team)


@pytest.fixture
def mailbox(support_inbox):
    return Mailbox.objects.create(inbox=support_inbox, address="support@example.com", from_name="Example Support")


@pytest.fixture
def smtp(settings):
    """A real SMTP server; Django's SMTP backend sends to it."""
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


@pytest.fixture
def imap():
    reason = dovecot_unavailable()
    if reason:
        pytest.skip(reason)
    with imap_server() as server:
        yield server


@pytest.fixture
def support(transactional_db):
    """A chat widget on the company site (and the helpdesk's own pages), for a team's website chat inbox."""
    team = TeamFactory(name="Chat team")
    inbox = Inbox.objects.create(name="Website chat", kind="chat", team=team)
    return ChatWidget.objects.create(inbox=inbox, allowed_origins=f"{SITE}\nhttp://localhost:8000", ask_name=False)
