"""IMAP polling of configured mailboxes (a Celery beat schedule runs `poll_all`).

Each unseen message is fetched, stored through `ingest_raw`, then flagged \\Seen. A message that
fails is quarantined by `ingest_raw` and flagged too, so one bad message never stops the poller;
a connection failure is recorded on the mailbox and retried at the next poll.
"""

from __future__ import annotations

import imaplib
import logging
import ssl

from django.utils import timezone

from channels_app.email.inbound import ingest_raw
from channels_app.models import ImapSecurity, Mailbox

logger = logging.getLogger(__name__)

BATCH = 200  # messages per poll and mailbox; the rest waits for the next poll
TIMEOUT = 30


def poll_all() -> int:
    stored = 0
    for mailbox in Mailbox.objects.filter(is_active=True).exclude(imap_host="").select_related("inbox"):
        stored += poll_mailbox(mailbox)
    return stored


def poll_mailbox(mailbox: Mailbox) -> int:
    """Fetch and store the mailbox's unseen messages; returns how many were handled."""
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
                outcome = ingest_raw(raw, mailbox=mailbox)
                logger.info("mailbox %s uid %s: %s", mailbox, uid.decode(), outcome.outcome)
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
