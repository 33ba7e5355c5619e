"""Periodic work through Celery: a real worker over Redis when REDIS_URL is set, in-process otherwise."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from helpdesk.celery import app
from helpdesk.models import Ticket, TicketStatus
from helpdesk.services.tickets import change_status, open_ticket
from helpdesk.tasks import close_solved_tickets
from tests.helpers import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue(transactional_db):
    """A Celery worker against the test database, on a queue of its own (so no stray worker steals the task)."""
    if app.conf.task_always_eager:
        yield None
        return
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": url_of_test_database(), "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    command = [
        *(sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-P", "solo"),
        *("-Q", queue, "-n", f"{queue}@%h", "--loglevel", "WARNING"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
            assert process.poll() is None, "the Celery worker exited"
            assert time.monotonic() < deadline, "the Celery worker did not answer"
        yield queue
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.celery_worker
def test_the_close_solved_task_closes_old_solved_tickets_through_the_worker(worker_queue, inbox, customer, settings):
    settings.HELPDESK_CLOSE_SOLVED_AFTER_HOURS = 96  # the worker reads the same default
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Solved long ago")
    change_status(ticket=ticket, status=TicketStatus.SOLVED)
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(days=5))

    close_solved_tickets.apply_async(queue=worker_queue) if worker_queue else close_solved_tickets.delay()

    deadline = time.monotonic() + 30
    while Ticket.objects.get(pk=ticket.pk).status != TicketStatus.CLOSED:
        assert time.monotonic() < deadline, "the task did not close the ticket"
        time.sleep(0.2)
    assert ticket.messages.filter(event="status_changed", data__to="closed").exists()


def test_the_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
