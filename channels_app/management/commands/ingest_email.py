"""Read one raw RFC 822 message from stdin and store it (for an MTA pipe, e.g. Postfix aliases:
`support: "|/srv/helpdesk/.venv/bin/python /srv/helpdesk/manage.py ingest_email"`).

Exit status 0 when the message was stored, recognized as a duplicate, a loop or a bounce, or
quarantined; non-zero only when it could be neither stored nor quarantined (the MTA then retries).
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from channels_app.email.inbound import ingest_raw
from helpdesk.models import Inbox


class Command(BaseCommand):
    help = "Store one raw email read from standard input."

    def add_arguments(self, parser):
        parser.add_argument("--inbox", type=int, help="Inbox id for mail that no mailbox address claims.")

    def handle(self, *args, inbox=None, **options):
        chosen = None
        if inbox is not None:
            chosen = Inbox.objects.filter(pk=inbox).first()
            if chosen is None:
                raise CommandError(f"No inbox with id {inbox}.")
        raw = sys.stdin.buffer.read()
        if not raw:
            raise CommandError("Nothing on standard input.")
        outcome = ingest_raw(raw, inbox=chosen)
        self.stdout.write(f"{outcome.outcome} {outcome.detail}".strip())
