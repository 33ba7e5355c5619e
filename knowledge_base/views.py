"""The public help center: the article list, search and article pages."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from customers.models import Language
from helpdesk.sanitize import strip_nul
from knowledge_base import selectors
from knowledge_base.models import Article
from knowledge_base.search import MAX_QUERY_LENGTH, search_articles

SEARCH_RESULTS = 10


def _reader_language() -> str:
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return language if language in Language.values else Language.ENGLISH


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    categories = selectors.help_center_categories(language=_reader_language())
    return render(request, "knowledge_base/home.html", {"categories": categories, "max_query_length": MAX_QUERY_LENGTH})


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = strip_nul(request.GET.get("q", "")).strip()
    context = {"query": query, "max_query_length": MAX_QUERY_LENGTH, "hits": [], "problem": ""}
    if not query:
        context["problem"] = "empty"
        return render(request, "knowledge_base/search.html", context)
    if len(query) > MAX_QUERY_LENGTH:
        context["problem"] = "too_long"
        context["query"] = query[:MAX_QUERY_LENGTH]
        return render(request, "knowledge_base/search.html", context, status=400)
    context["hits"] = search_articles(query=query, language=_reader_language(), limit=SEARCH_RESULTS)
    return render(request, "knowledge_base/search.html", context)


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    requested = request.GET.get("lang", "")
    try:
        page = selectors.article_page(
            slug=slug,
            language=_reader_language(),
            requested=requested if requested in Language.values else "",
        )
    except Article.DoesNotExist:
        raise Http404("No such article.") from None
    return render(
        request,
        "knowledge_base/article.html",
        {"page": page, "language_names": dict(Language.choices), "max_query_length": MAX_QUERY_LENGTH},
    )
