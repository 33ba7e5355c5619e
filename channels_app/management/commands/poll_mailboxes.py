from django.core.management.base import BaseCommand

from channels_app.email.imap import poll_all


class Command(BaseCommand):
    help = "Fetch unseen mail from every active mailbox with IMAP settings, once."

    def handle(self, *args, **options):
        self.stdout.write(f"{poll_all()} message(s) handled")
