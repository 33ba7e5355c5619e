from celery import shared_task
from django.utils import timezone

from channels_app import delivery, intake
from channels_app.chat import services as chat_services
from channels_app.models import Delivery, DeliveryStatus


@shared_task(name="channels_app.tasks.deliver")
def deliver(delivery_id: int) -> str:
    """Try one delivery now; a transient failure schedules the next try with backoff."""
    result = delivery.attempt(delivery_id)
    # In-process (eager) mode a countdown would run at once: retry_due_deliveries picks it up instead.
    if result.status == DeliveryStatus.RETRYING and result.next_attempt_at and not deliver.app.conf.task_always_eager:
        countdown = max(0.0, (result.next_attempt_at - timezone.now()).total_seconds())
        deliver.apply_async((delivery_id,), countdown=countdown)
    return result.status


@shared_task(name="channels_app.tasks.retry_due_deliveries")
def retry_due_deliveries() -> int:
    """Periodic safety net: retries whose countdown was lost (a worker restart) are picked up here."""
    due = Delivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lte=timezone.now())
    ids = list(due.values_list("pk", flat=True)[:500])
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)


@shared_task(name="channels_app.tasks.poll_mailboxes")
def poll_mailboxes() -> int:
    from channels_app.email.imap import poll_all

    return poll_all()


@shared_task(name="channels_app.tasks.process_inbound")
def process_inbound() -> int:
    """Turn waiting inbound items (raw mail, LINE events) into messages, batch after batch."""
    return intake.process_pending()


@shared_task(name="channels_app.tasks.sweep_inbound")
def sweep_inbound() -> int:
    """Every minute: purge old items, process what is due (retries, and anything a lost task left waiting)."""
    intake.purge()
    return intake.process_pending()


@shared_task(name="channels_app.tasks.reoffer_chats")
def reoffer_chats() -> int:
    """Waiting chats whose offer ran out go to the next free agent (and those nobody was free for)."""
    return chat_services.reoffer_waiting()
