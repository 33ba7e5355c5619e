"""Demo channel settings (run by `manage.py demo`): the support mailbox, the web form and a phone line."""

from django.core.management.base import BaseCommand

from channels_app.models import Mailbox, PhoneLine, WebForm
from helpdesk.models import Inbox


class Command(BaseCommand):
    help = "Channel settings for the demo inboxes (idempotent)."

    def handle(self, *args, **options):
        inboxes = {inbox.name: inbox for inbox in Inbox.objects.filter(name__in=["Support email", "Web form", "Phone"])}
        if len(inboxes) < 3:
            self.stderr.write("Run `manage.py demo` first: the demo inboxes are missing.")
            return
        Mailbox.objects.get_or_create(
            inbox=inboxes["Support email"],
            defaults={"address": "support@example.com", "from_name": "Example Support", "acknowledge": True},
        )
        WebForm.objects.get_or_create(
            inbox=inboxes["Web form"], defaults={"slug": "support", "title": "Contact support", "acknowledge": True}
        )
        PhoneLine.objects.get_or_create(inbox=inboxes["Phone"], defaults={"number": "+81312345678"})
        self.stdout.write(
            "  Support form: http://127.0.0.1:8000/support/new   Mail in: manage.py ingest_email < message.eml"
        )
