"""Rebuild the help center search index from the published articles (after an import, or a change to
how text is cut into terms)."""

from django.core.management.base import BaseCommand

from knowledge_base.search import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the help center search index from every published article translation."

    def handle(self, *args, **options):
        translations, terms = rebuild_index()
        self.stdout.write(self.style.SUCCESS(f"Indexed {translations} translation(s), {terms} term(s)."))
