"""IMAP polling of configured mailboxes (a Celery beat schedule runs `poll_all`).

Each unseen message is fetched, accepted into the intake (stored raw, so nothing is lost if anything
after fails), then flagged \\Seen; the fetched mail is then stored as messages in batches. A message that
fails is quarantined by the intake, so one bad message never stops the poller; a connection failure is
recorded on the mailbox and retried at the next poll.
"""

from __future__ import annotations

import imaplib
import logging
import ssl

from django.utils import timezone

from channels_app import intake
from channels_app.email.inbound import incoming_email
from channels_app.models import ImapSecurity, IntakeSource, Mailbox

logger = logging.getLogger(__name__)

BATCH = 200  # messages per poll and mailbox; the rest waits for the next poll
TIMEOUT = 30


def poll_all() -> int:
    fetched = 0
    for mailbox in Mailbox.objects.filter(is_active=True).exclude(imap_host="").select_related("inbox"):
        fetched += poll_mailbox(mailbox)
    if fetched:
        intake.process_pending()
    return fetched


def poll_mailbox(mailbox: Mailbox) -> int:
    """Fetch the mailbox's unseen messages into the intake (the caller has them processed); returns how many
    were fetched."""
    handled = 0
    try:
        with _connect(mailbox) as imap:
            imap.login(mailbox.imap_username, mailbox.imap_password)
            status, _ = imap.select(_quoted(mailbox.imap_folder))
            if status != "OK":
                raise imaplib.IMAP4.error(f"cannot open folder {mailbox.imap_folder!r}")
            status, data = imap.uid("SEARCH", None, "UNSEEN")
            uids = data[0].split()[:BATCH] if status == "OK" and data and data[0] else []
            for uid in uids:
                status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((part[1] for part in parts or () if isinstance(part, tuple)), None)
                if status != "OK" or raw is None:
                    logger.warning("mailbox %s: could not fetch uid %s", mailbox, uid)
                    continue
                intake.accept([incoming_email(raw, source=IntakeSource.IMAP, inbox=mailbox.inbox)], schedule=False)
                logger.info("mailbox %s uid %s: accepted", mailbox, uid.decode())
                imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                handled += 1
    except (imaplib.IMAP4.error, OSError) as error:
        # Never log the password; the error text from the server does not contain it.
        logger.warning("mailbox %s: polling failed: %s", mailbox, error)
        Mailbox.objects.filter(pk=mailbox.pk).update(last_error=str(error)[:2000], last_polled_at=timezone.now())
        return handled
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_polled_at=timezone.now())
    return handled


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.imap_security == ImapSecurity.SSL:
        return imaplib.IMAP4_SSL(
            mailbox.imap_host, mailbox.imap_port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
        )
    imap = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT)
    if mailbox.imap_security == ImapSecurity.STARTTLS:
        imap.starttls(ssl_context=ssl.create_default_context())
    return imap


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
