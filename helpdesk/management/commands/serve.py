"""Serve the whole helpdesk from one process: HTTP and websockets through Daphne, and, when no
Celery worker is configured (embedded mode), the periodic jobs in a background thread."""

import logging

from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.management.base import BaseCommand

from helpdesk.celery import app as celery_app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve HTTP and websockets with Daphne; run periodic jobs in-process when embedded."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self._start_embedded_beat()
        self.stdout.write(f"Serving the helpdesk at http://{host}:{port}/")
        CommandLineInterface().run(
            ["--bind", host, "--port", str(port), settings.ASGI_APPLICATION.replace(".application", ":application")]
        )

    def _start_embedded_beat(self) -> None:
        from celery.beat import EmbeddedService

        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        beat = EmbeddedService(
            celery_app,
            thread=True,
            scheduler_cls="celery.beat:PersistentScheduler",
            schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule"),
        )
        beat.start()
        logger.info("periodic jobs run in-process: %s", ", ".join(settings.CELERY_BEAT_SCHEDULE))
