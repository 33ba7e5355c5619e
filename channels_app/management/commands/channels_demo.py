"""Demo channel settings (run by `manage.py demo`): the support mailbox, the web form, a phone line and the
website chat (with a page to try it on: /chat/try/)."""

from django.core.management.base import BaseCommand

from channels_app.models import ChatIntent, ChatWidget, Mailbox, PhoneLine, WebForm
from helpdesk.models import Inbox


class Command(BaseCommand):
    help = "Channel settings for the demo inboxes (idempotent)."

    def handle(self, *args, **options):
        names = ["Support email", "Web form", "Phone", "Website chat"]
        inboxes = {inbox.name: inbox for inbox in Inbox.objects.filter(name__in=names)}
        if len(inboxes) < len(names):
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
        ChatWidget.objects.get_or_create(
            inbox=inboxes["Website chat"],
            defaults={"allowed_origins": "http://127.0.0.1:8000\nhttp://localhost:8000", "ask_name": True},
        )
        ChatIntent.objects.get_or_create(
            name="Opening hours of the shop",
            defaults={
                "keywords": "shop hours, store hours, 店舗の営業時間, 営業時間",
                "answer_en": "Our Tokyo store is open every day from 10:00 to 20:00.",
                "answer_ja": "東京店は毎日10時から20時まで営業しています。",
            },
        )
        self.stdout.write(
            "  Support form: http://127.0.0.1:8000/support/new   Mail in: manage.py ingest_email < message.eml\n"
            "  Chat widget: http://127.0.0.1:8000/chat/try/   Agents' chat console: http://127.0.0.1:8000/agent/chats/"
        )
