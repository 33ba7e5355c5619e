"""Email through the real paths: `ingest_email` on stdin, IMAP against Dovecot, SMTP to aiosmtpd."""

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from channels_app.email.inbound import ingest_raw
from channels_app.models import Delivery, DeliveryStatus, Mailbox, Quarantine
from channels_app.pipeline import FLAG_TAG
from channels_app.tasks import retry_due_deliveries
from customers.models import Customer, Identity
from helpdesk.models import Message, Ticket, TicketStatus
from helpdesk.services.tickets import change_status, reply
from tests.channels_app.mail import mail
from tests.helpers import api_as, url_of_test_database

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ingest(monkeypatch):
    """Run `manage.py ingest_email` with `raw` on its standard input, as an MTA pipe would."""

    def run(raw: bytes, *args: str) -> str:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
        out = io.StringIO()
        call_command("ingest_email", *args, stdout=out)
        return out.getvalue()

    return run


def test_a_new_mail_opens_a_ticket_for_the_sender_and_the_same_mail_again_changes_nothing(mailbox, ingest):
    raw = mail(message_id="<first@example.jp>")

    assert ingest(raw).startswith("stored")
    assert ingest(raw).startswith("duplicate")

    ticket = Ticket.objects.get()
    assert (ticket.inbox, ticket.channel, ticket.subject) == (mailbox.inbox, "email", "Order A-1029 has not arrived")
    assert ticket.customer.name == "Hanako Tanaka"
    assert Identity.objects.get(kind="email").value == "hanako@example.jp"
    assert list(ticket.messages.values_list("body_text", "external_id")) == [
        ("My order has not arrived yet.", "first@example.jp")
    ]


def test_an_answer_goes_out_by_smtp_with_threading_headers_and_the_customers_reply_continues_the_ticket(
    mailbox, smtp, agent, ingest
):
    ingest(mail(message_id="<question@example.jp>"))
    ticket = Ticket.objects.get()

    reply(ticket=ticket, agent=agent, body_text="We are checking with the carrier.")

    [sent] = smtp.received
    assert sent["To"] == "hanako@example.jp"
    assert sent["From"] == "Example Support <support@example.com>"
    assert sent["Subject"] == f"Re: Order A-1029 has not arrived [#{ticket.pk}]"
    assert sent["In-Reply-To"] == "<question@example.jp>"
    assert "<question@example.jp>" in sent["References"]
    assert sent["Auto-Submitted"] == "no"
    assert sent.get_content().strip() == "We are checking with the carrier."
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT
    assert sent["Message-ID"] == f"<{delivery.provider_id}>"

    # The customer answers from her mail client, which quotes our Message-ID.
    answer = mail(
        subject=f"Re: {sent['Subject']}",
        body="Thank you!\n\nOn Tue, Support wrote:\n> We are checking with the carrier.",
        in_reply_to=sent["Message-ID"],
        references=f"<question@example.jp> {sent['Message-ID']}",
    )
    ingest(answer)
    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(author_type="customer").last().body_text == "Thank you!"


def test_a_reference_from_someone_else_never_joins_the_ticket(mailbox, smtp, agent, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()
    reply(ticket=ticket, agent=agent, body_text="Answer")
    our_id = smtp.received[0]["Message-ID"]

    ingest(mail(sender="mallory@evil.example", subject=f"Re: [#{ticket.pk}]", in_reply_to=our_id, body="Let me in"))

    intruder_ticket = Ticket.objects.exclude(pk=ticket.pk).get()
    assert intruder_ticket.customer.identities.get().value == "mallory@evil.example"
    assert FLAG_TAG in intruder_ticket.tags.values_list("name", flat=True)
    assert intruder_ticket.messages.filter(event="unverified_reference").exists()
    assert not ticket.messages.filter(body_text="Let me in").exists()


def test_a_forged_message_id_is_not_trusted(mailbox, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()
    forged = f"<t{ticket.pk}.m1.abcdef.0000000000@example.com>"
    ingest(mail(sender="other@example.org", in_reply_to=forged, body="Forged"))
    assert Ticket.objects.count() == 2
    assert FLAG_TAG not in Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)


def test_the_subject_token_threads_a_reply_whose_client_dropped_the_headers(mailbox, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()
    mailbox.continue_open_ticket_hours = 0
    mailbox.save()  # as the admin does: cached settings follow

    ingest(mail(subject=f"Re: Order [#{ticket.pk}]", body="More details"))

    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(body_text="More details").exists()


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(mailbox, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()
    change_status(ticket=ticket, status=TicketStatus.SOLVED)
    change_status(ticket=ticket, status=TicketStatus.CLOSED)

    ingest(mail(subject=f"Re: [#{ticket.pk}]", body="It broke again"))

    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert follow_up.messages.filter(event="follow_up", data__follow_up_of=ticket.pk).exists()
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.CLOSED


def test_without_a_reference_the_customers_recent_open_ticket_continues_unless_disabled(mailbox, ingest):
    ingest(mail(subject="Question one"))
    ingest(mail(subject="Another thing"))
    assert Ticket.objects.count() == 1

    mailbox.continue_open_ticket_hours = 0
    mailbox.save()  # as the admin does: cached settings follow
    ingest(mail(subject="Separate matter"))
    assert Ticket.objects.count() == 2


def test_mail_from_our_own_address_is_dropped_as_a_loop(mailbox, ingest):
    assert ingest(mail(sender="support@example.com")).startswith("loop")
    assert ingest(mail(headers={"X-Loop": "support@example.com"})).startswith("loop")
    assert not Ticket.objects.exists()


def test_the_inbox_is_chosen_by_recipient_then_option_then_default(mailbox, support_inbox, ingest):
    from helpdesk.models import Inbox

    other = Inbox.objects.create(name="Sales", kind="email")
    Mailbox.objects.create(inbox=other, address="sales@example.com")
    ingest(mail(to="Sales <sales+quote@example.com>", subject="Quote"))
    assert Ticket.objects.get(subject="Quote").inbox == other

    ingest(mail(to="nobody@elsewhere.example", subject="Stray", sender="x@example.org"), "--inbox", str(other.pk))
    assert Ticket.objects.get(subject="Stray").inbox == other


def test_a_fresh_database_accepts_mail_into_a_default_inbox(db, ingest):
    assert ingest(mail()).startswith("stored")
    assert Ticket.objects.get().inbox.kind == "email"


def test_unparseable_mail_is_quarantined_and_ingest_still_succeeds(mailbox, ingest):
    assert ingest(b"this is not an email at all").startswith("quarantined")
    item = Quarantine.objects.get()
    assert bytes(item.raw) == b"this is not an email at all"
    assert not Ticket.objects.exists()


def test_ingest_email_as_an_mta_runs_it(mailbox):
    """The real command line, as Postfix would pipe a message into it."""
    env = {**os.environ, "DATABASE_URL": url_of_test_database()}
    command = [sys.executable, "manage.py", "ingest_email"]
    ok = subprocess.run(command, input=mail(), cwd=ROOT, env=env, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    empty = subprocess.run(command, input=b"", cwd=ROOT, env=env, capture_output=True, check=False)
    assert empty.returncode != 0
    assert Ticket.objects.count() == 1


def test_a_bounce_lands_on_the_ticket_and_marks_the_address(mailbox, smtp, agent, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()
    reply(ticket=ticket, agent=agent, body_text="Answer")
    our_id = smtp.received[0]["Message-ID"]
    bounce = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>\r\n"
        "To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.jp>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mailbox is full.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.jp\r\n\r\n"
        "Final-Recipient: rfc822; hanako@example.jp\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {our_id}\r\nTo: hanako@example.jp\r\n\r\n"
        "--b--\r\n"
    ).encode()

    assert ingest(bounce).startswith("bounce")

    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(event="email_bounce").exists()
    assert Identity.objects.get(value="hanako@example.jp").bouncing_since is not None
    ingest(mail(subject=f"Re: [#{ticket.pk}]", body="I cleaned my mailbox"))
    assert Identity.objects.get(value="hanako@example.jp").bouncing_since is None


def test_transient_smtp_failures_are_retried_and_permanent_ones_shown_on_the_timeline(mailbox, smtp, agent, ingest):
    ingest(mail(message_id="<q@example.jp>"))
    ticket = Ticket.objects.get()

    smtp.refuse_with = "451 4.3.0 Try again later"
    reply(ticket=ticket, agent=agent, body_text="First try")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
    assert "451" in delivery.last_error

    smtp.refuse_with = None
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.next_attempt_at.replace(year=2000))
    assert retry_due_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(smtp.received) == 1

    smtp.refuse_with = "550 5.1.1 No such user"
    reply(ticket=ticket, agent=agent, body_text="Second answer")
    failed = Delivery.objects.exclude(pk=delivery.pk).get()
    assert failed.status == DeliveryStatus.FAILED
    shown = api_as(agent).get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]
    statuses = {item["body_text"]: (item["delivery_status"], item["delivery_detail"]) for item in shown}
    assert statuses["First try"] == ("sent", "")
    assert statuses["Second answer"][0] == "failed"
    assert "550" in statuses["Second answer"][1]
    assert ticket.messages.filter(event="delivery_failed", data__message=failed.message_id).exists()


def test_imap_polling_stores_new_mail_quarantines_bad_mail_and_marks_both_seen(mailbox, imap):
    Mailbox.objects.filter(pk=mailbox.pk).update(
        imap_host=imap.host, imap_port=imap.port, imap_security="none",
        imap_username=imap.username, imap_password=imap.password,
    )  # fmt: skip
    imap.append(mail(message_id="<imap-1@example.jp>"))
    imap.append(b"garbage that no parser can read")

    assert call_command("poll_mailboxes") is None
    assert imap.unseen_count() == 0
    assert Message.objects.get().external_id == "imap-1@example.jp"
    assert Quarantine.objects.count() == 1

    imap.append(mail(message_id="<imap-2@example.jp>", subject="Next"))
    from channels_app.email.imap import poll_all

    assert poll_all() == 1
    assert Message.objects.count() == 2
    mailbox.refresh_from_db()
    assert mailbox.last_error == "" and mailbox.last_polled_at is not None


def test_a_mailbox_whose_server_refuses_is_recorded_and_does_not_stop_the_others(mailbox, imap, support_inbox):
    from channels_app.email.imap import poll_all
    from helpdesk.models import Inbox

    Mailbox.objects.filter(pk=mailbox.pk).update(
        imap_host=imap.host, imap_port=imap.port, imap_security="none", imap_username=imap.username,
        imap_password="wrong password",
    )  # fmt: skip
    good = Mailbox.objects.create(
        inbox=Inbox.objects.create(name="Second", kind="email"), address="other@example.com",
        imap_host=imap.host, imap_port=imap.port, imap_security="none", imap_username=imap.username,
        imap_password=imap.password,
    )  # fmt: skip
    imap.append(mail(message_id="<x@example.jp>"))

    assert poll_all() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_error
    assert "wrong password" not in mailbox.last_error
    assert Ticket.objects.get().inbox == good.inbox


def test_every_real_world_mail_becomes_a_message_or_a_quarantined_item(mailbox):
    folder = ROOT.parent / "shared" / "testdata" / "mail"
    if not folder.is_dir():
        pytest.skip("shared/testdata/mail is not beside the checkout")
    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix.lower() != ".md"]
    assert files
    for path in files:
        outcome = ingest_raw(path.read_bytes(), inbox=mailbox.inbox)
        assert outcome.outcome in {"stored", "duplicate", "bounce", "quarantined", "loop"}, (path, outcome)
    assert Message.objects.filter(kind="message").count() + Quarantine.objects.count() >= len(files) // 2
    japanese = Message.objects.filter(ticket__subject="まみむめも").values_list("body_text", flat=True)
    assert any("かきくえこ" in body for body in japanese)
    assert Message.objects.filter(body_text__contains="すみません。").exists()
    assert Message.objects.filter(body_text__contains="あいうえお").exists()
    assert Customer.objects.exists()


def test_a_provider_inbound_webhook_stores_mail_only_with_the_shared_secret(mailbox, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:s3cret"}
    # Postmark's inbound JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook).
    payload = {
        "FromFull": {"Email": "kenji@example.jp", "Name": "Kenji"},
        "ToFull": [{"Email": "support@example.com", "Name": ""}],
        "CcFull": [],
        "Subject": "請求書の再発行",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Thu, 5 Apr 2026 16:59:01 +0200",
        "TextBody": "請求書を再発行してください。",
        "HtmlBody": "",
        "Headers": [{"Name": "Message-ID", "Value": "<postmark-1@example.jp>"}],
        "Attachments": [],
    }
    url = "/webhooks/email/postmark/inbound/"
    wrong = "Basic " + base64.b64encode(b"postmark:guess").decode()
    right = "Basic " + base64.b64encode(b"postmark:s3cret").decode()
    client = Client()

    assert client.post(url, payload, content_type="application/json").status_code in (400, 401, 403)
    assert client.post(url, payload, content_type="application/json", HTTP_AUTHORIZATION=wrong).status_code in (
        400, 401, 403,
    )  # fmt: skip
    assert not Ticket.objects.exists()
    assert client.post(url, payload, content_type="application/json", HTTP_AUTHORIZATION=right).status_code == 200

    ticket = Ticket.objects.get()
    assert ticket.subject == "請求書の再発行"
    assert ticket.customer.identities.get().value == "kenji@example.jp"
    assert ticket.messages.get(kind="message").body_text == "請求書を再発行してください。"


def test_provider_webhooks_refuse_everyone_until_a_secret_is_configured(mailbox):
    response = Client().post(
        "/webhooks/email/postmark/inbound/", {"Subject": "x"}, content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"any:thing").decode(),
    )  # fmt: skip
    assert response.status_code in (400, 401, 403)
    assert not Ticket.objects.exists()
