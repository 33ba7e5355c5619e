"""Real mail servers for tests: a private Dovecot (IMAP) and an aiosmtpd SMTP server, on free loopback ports."""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller

MAIL_USER, MAIL_GROUP = "nobody", "nogroup"  # Dovecot wants mail owned by an unprivileged user


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            return self.refuse_with
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received.append(message_from_bytes(envelope.original_content, policy=default))
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(host="127.0.0.1", port=free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class ImapServer:
    host: str
    port: int
    username: str
    password: str

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with imaplib.IMAP4(self.host, self.port) as imap:
            imap.login(self.username, self.password)
            imap.append(folder, None, None, raw)

    def unseen_count(self, folder: str = "INBOX") -> int:
        with imaplib.IMAP4(self.host, self.port) as imap:
            imap.login(self.username, self.password)
            imap.select(folder)
            _, data = imap.search(None, "UNSEEN")
            return len(data[0].split()) if data and data[0] else 0


def dovecot_unavailable() -> str | None:
    if shutil.which("dovecot") is None:
        return "Dovecot is not installed (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "a private Dovecot needs root here (it drops to unprivileged users)"
    return None


@contextlib.contextmanager
def imap_server() -> Iterator[ImapServer]:
    server = ImapServer(host="127.0.0.1", port=free_port(), username="support@example.com", password="imap-secret")
    # Dovecot's unprivileged processes must be able to reach the folder (pytest's tmp_path is 0700).
    tmp = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    tmp.chmod(0o755)
    (tmp / "mail").mkdir(parents=True)
    (tmp / "run").mkdir()
    (tmp / "users").write_text(f"{server.username}:{{PLAIN}}{server.password}\n")
    shutil.chown(tmp / "mail", MAIL_USER, MAIL_GROUP)
    config = tmp / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{tmp}/mail/%u
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_GROUP} home={tmp}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    subprocess.run(["dovecot", "-c", str(config)], check=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((server.host, server.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        (tmp / "dovecot.log").read_text() if (tmp / "dovecot.log").exists() else "no log"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        pid_file = tmp / "run" / "master.pid"
        if pid_file.exists():
            subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
