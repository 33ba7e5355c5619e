"""The intake: inbound items stored first, then processed in batches through the pipeline; a failing item
never holds up the others, and a batch costs the same few queries however many messages it carries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app import intake
from channels_app.email.inbound import incoming_email
from channels_app.models import InboundItem, IntakeSource, Quarantine
from helpdesk.celery import app
from helpdesk.models import Message, Ticket
from tests.channels_app.mail import mail
from tests.helpers import run_concurrently


@pytest.fixture
def queued(monkeypatch):
    """Workers elsewhere: accepting only stores items and queues a task (which nobody runs here)."""
    queued_tasks = []
    app.conf.task_always_eager = False  # the autouse fixture in tests/conftest.py puts it back
    monkeypatch.setattr("channels_app.tasks.process_inbound.delay", lambda: queued_tasks.append("process_inbound"))
    return queued_tasks


def accept_mail(*raws: bytes) -> None:
    intake.accept([incoming_email(raw, source=IntakeSource.PROVIDER) for raw in raws])


@pytest.mark.django_db(transaction=True)
def test_accepted_mail_waits_safely_until_a_worker_stores_it(mailbox, queued):
    accept_mail(mail(message_id="<a@example.jp>"), mail(sender="b@example.com", message_id="<b@example.jp>"))
    accept_mail(mail(message_id="<a@example.jp>"))  # the same bytes again: an MTA retry

    assert InboundItem.objects.filter(status="pending").count() == 2
    assert not Message.objects.exists()
    assert queued == ["process_inbound"]  # one task for the burst, not one per item

    assert intake.process_pending() == 2
    assert set(InboundItem.objects.values_list("status", "outcome")) == {("done", "stored")}
    assert Ticket.objects.count() == 2
    assert all(item.message_id for item in InboundItem.objects.all())


def test_a_reply_in_the_same_batch_as_the_mail_it_answers_joins_its_ticket(mailbox):
    first = mail(message_id="<question@example.jp>", subject="Invoice", body="Please send the invoice.")
    answer = mail(message_id="<more@example.jp>", subject="Re: Invoice", body="For order A-1.",
                  in_reply_to="<question@example.jp>", references="<question@example.jp>")  # fmt: skip
    intake.accept([incoming_email(raw, source=IntakeSource.IMAP, inbox=mailbox.inbox) for raw in (first, answer)],
                  schedule=False)  # fmt: skip

    intake.process_pending()

    ticket = Ticket.objects.get()
    assert list(ticket.messages.values_list("seq", "body_text")) == [
        (1, "Please send the invoice."),
        (2, "For order A-1."),
    ]


def test_an_item_the_pipeline_cannot_store_is_quarantined_and_the_rest_of_its_batch_is_stored(mailbox, monkeypatch):
    from channels_app import pipeline

    receive_all = pipeline.receive_all

    def failing_on_poison(arrivals):
        if any(arrival.inbound.external_id == "poison@example.jp" for arrival in arrivals):
            raise RuntimeError("a bug in the pipeline")
        return receive_all(arrivals)

    monkeypatch.setattr(intake, "receive_all", failing_on_poison)
    raws = [mail(sender=f"c{n}@example.com", message_id=f"<ok{n}@example.jp>") for n in range(3)]
    raws.insert(1, mail(sender="p@example.com", message_id="<poison@example.jp>"))
    intake.accept([incoming_email(raw, source=IntakeSource.MTA) for raw in raws], schedule=False)

    assert intake.process_pending() == 4

    assert Ticket.objects.count() == 3
    [quarantined] = Quarantine.objects.all()
    assert "a bug in the pipeline" in quarantined.reason
    assert bytes(quarantined.raw) == raws[1]
    outcomes = sorted(InboundItem.objects.values_list("outcome", flat=True))
    assert outcomes == ["quarantined", "stored", "stored", "stored"]


def test_a_line_event_that_fails_is_retried_with_backoff_then_left_failed_for_an_admin(db, monkeypatch):
    from helpdesk.models import Inbox

    inbox = Inbox.objects.create(name="LINE", kind="line")
    item = intake.Incoming(channel="line", key="line:1:x", source=IntakeSource.LINE, payload=b"{}", inbox_id=inbox.pk)
    intake.accept([item], schedule=False)
    monkeypatch.setattr(intake._channels["line"], "arrivals", lambda items: 1 / 0)

    intake.process_pending()
    stored = InboundItem.objects.get()
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.not_before > timezone.now() + timedelta(seconds=20)
    assert intake.process_pending() == 0  # not due yet

    for _ in range(intake.MAX_ATTEMPTS - 1):
        InboundItem.objects.update(not_before=None)
        intake.process_pending()
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.detail) == ("failed", intake.MAX_ATTEMPTS, "division by zero")
    assert intake.requeue(stored.key)
    assert InboundItem.objects.get().status == "pending"


def test_processed_items_are_purged_after_the_retention_failed_ones_are_kept(mailbox, settings):
    settings.HELPDESK_INBOUND_RETENTION_DAYS = 14
    accept_mail(mail(message_id="<old@example.jp>"))
    intake.process_pending()
    InboundItem.objects.create(channel="line", key="line:0:failed", source="line", payload=b"{}", status="failed")
    InboundItem.objects.filter(status="done").update(processed_at=timezone.now() - timedelta(days=15))

    assert intake.purge() == 1
    assert list(InboundItem.objects.values_list("status", flat=True)) == ["failed"]
    assert Message.objects.filter(external_id="old@example.jp").exists()


def test_a_batch_costs_the_same_queries_for_ten_messages_as_for_thirty(mailbox):
    def queries_for(count: int, tag: str) -> int:
        raws = [mail(sender=f"{tag}{n}@example.com", message_id=f"<{tag}{n}@example.jp>") for n in range(count)]
        intake.accept([incoming_email(raw, source=IntakeSource.MTA) for raw in raws], schedule=False)
        with CaptureQueriesContext(connection) as queries:
            assert intake.process_pending() == count
        return len(queries)

    queries_for(2, "warm")  # first use: content types and the like are cached
    assert queries_for(10, "ten") == queries_for(30, "thirty")


@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_at_once_store_every_item_once(mailbox):
    raws = [mail(sender=f"w{n % 7}@example.com", message_id=f"<w{n}@example.jp>") for n in range(40)]
    intake.accept([incoming_email(raw, source=IntakeSource.MTA) for raw in raws], schedule=False)

    processed = run_concurrently([lambda: intake.process_pending(batch_size=5) for _ in range(2)])

    assert sum(processed) == 40
    assert Message.objects.filter(kind="message").count() == 40
    assert set(InboundItem.objects.values_list("outcome", flat=True)) == {"stored"}
    assert Ticket.objects.count() == 7  # one per sender: their later mail continues it


@pytest.mark.django_db(transaction=True)
def test_two_members_of_a_new_group_written_by_two_workers_at_once_share_one_ticket(db):
    """Members of a group are different customers, so nothing else makes the second batch wait for the
    first: without the group's own lock each would open a ticket for the group."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time")
    import threading

    from django.db import transaction

    from channels_app.adapters import InboundMessage, Sender
    from channels_app.pipeline import receive
    from customers.models import ChannelKind, IdentityKind
    from helpdesk.models import Inbox

    inbox = Inbox.objects.create(name="LINE", kind="line")
    first_in, first_may_commit = threading.Event(), threading.Event()

    def member_writes(user: str, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                receive(inbox=inbox, inbound=InboundMessage(
                    channel=ChannelKind.LINE, external_id=f"line:{user}", text=f"hello from {user}",
                    sender=Sender(kind=IdentityKind.LINE, address=user, name=user), conversation_key="group:G1",
                ))  # fmt: skip
                if hold:
                    first_in.set()
                    first_may_commit.wait(10)
        finally:
            connection.close()

    one, two = "U" + "1" * 32, "U" + "2" * 32
    first = threading.Thread(target=member_writes, args=(one,), kwargs={"hold": True})
    first.start()
    assert first_in.wait(10)
    second = threading.Thread(target=member_writes, args=(two,), kwargs={"hold": False})
    second.start()
    second.join(1)
    assert second.is_alive()  # waiting for the first batch's group
    first_may_commit.set()
    first.join(10)
    second.join(10)

    [ticket] = Ticket.objects.all()
    assert sorted(ticket.messages.filter(kind="message").values_list("body_text", flat=True)) == [
        f"hello from {one}", f"hello from {two}"
    ]  # fmt: skip
