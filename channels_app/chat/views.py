"""HTTP around the live chat: files from the widget (cross-origin, for the widget's allowed origins only),
attachments for the visitor (by signed link), and the agents' chat console page."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from channels_app.chat import frames, identity
from channels_app.chat.serializers import read_attachment_token
from channels_app.models import ChatSession, ChatWidget
from customers.models import ChannelKind, IdentityKind
from helpdesk.models import AgentProfile, Attachment, AuthorType, Team
from helpdesk.selectors.access import is_staff_role
from helpdesk.services.messages import NewAttachment, post_message

# What a visitor may send: pictures, PDFs, text and office documents (never HTML or scripts).
UPLOAD_TYPES = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "application/pdf", "text/plain",
    "text/csv", "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}  # fmt: skip
UPLOADS_PER_MINUTE = "10/m"


def _cors(response: HttpResponse, widget: ChatWidget | None, origin: str) -> HttpResponse:
    if widget is not None and origin in widget.origins:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
    return response


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"detail": reason}, status=status)


@csrf_exempt  # no cookies are used: the visitor token in the body is the credential
@require_http_methods(["POST", "OPTIONS"])
def upload(request: HttpRequest, key: str) -> HttpResponse:
    widget = ChatWidget.objects.select_related("inbox").filter(public_key=key, is_active=True).first()
    origin = request.headers.get("Origin", "").rstrip("/")
    if widget is None:
        return _error(404, "Unknown chat.")
    if origin not in widget.origins:
        return _error(403, "This site may not use this chat.")
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), widget, origin)
    return _cors(_store_upload(request, widget), widget, origin)


def _store_upload(request: HttpRequest, widget: ChatWidget) -> JsonResponse:
    visitor = request.POST.get("visitor", "")
    if not identity.VISITOR_TOKEN.match(visitor):
        return _error(400, "visitor: the token the chat gave you.")
    limited = is_ratelimited(
        request, group="chat-upload", key=lambda group, request: visitor, rate=UPLOADS_PER_MINUTE, increment=True
    )
    if limited:
        return _error(429, "Too many files; wait a minute.")
    try:
        client_id = frames.client_id({"client_id": request.POST.get("client_id")})
    except frames.FrameError as error:
        return _error(400, error.detail)
    upload_file = request.FILES.get("file")
    if upload_file is None:
        return _error(400, "file: the file to send.")
    if upload_file.size > settings.HELPDESK_MAX_ATTACHMENT_BYTES:
        return _error(413, f"The file is larger than {settings.HELPDESK_MAX_ATTACHMENT_BYTES} bytes.")
    content_type = (upload_file.content_type or mimetypes.guess_type(upload_file.name)[0] or "").lower()
    if content_type not in UPLOAD_TYPES:
        return _error(415, "Send a picture, a PDF, a text or an office document.")
    session = (
        ChatSession.objects.filter(
            widget=widget,
            ticket__customer__identities__kind=IdentityKind.CHAT_VISITOR,
            ticket__customer__identities__value=visitor,
        )
        .select_related("ticket")
        .order_by("-created_at")
        .first()
    )
    if session is None:
        return _error(404, "Write a first message before sending files.")
    try:
        with transaction.atomic():
            posted = post_message(
                ticket=session.ticket, author_type=AuthorType.CUSTOMER, author_customer=session.ticket.customer,
                channel=ChannelKind.CHAT, external_id=f"chat:{visitor}:{client_id}", inbox=widget.inbox,
                attachments=[NewAttachment(upload_file.name, upload_file.read(), content_type)],
            )  # fmt: skip
    except ValidationError as error:
        return _error(400, "; ".join(error.messages))
    return JsonResponse({"seq": posted.message.seq, "created": posted.created}, status=201 if posted.created else 200)


def attachment(request: HttpRequest, token: str) -> FileResponse:
    """A file of a chat, for the visitor the link was signed for (public messages of their chat only)."""
    signed = read_attachment_token(token)
    if signed is None:
        raise Http404
    found = (
        Attachment.objects.select_related("message")
        .filter(
            pk=signed["attachment"],
            message__is_public=True,
            message__ticket__customer__identities__kind=IdentityKind.CHAT_VISITOR,
            message__ticket__customer__identities__value=signed["visitor"],
        )
        .first()
    )
    if found is None:
        raise Http404
    response = FileResponse(found.file.open("rb"), as_attachment=not found.content_type.startswith("image/"))
    safe = found.content_type in UPLOAD_TYPES
    response["Content-Type"] = found.content_type if safe else "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def agent_console(request: HttpRequest) -> HttpResponse:
    if not is_staff_role(request.user):
        return render(request, "helpdesk/no_access.html", status=403)
    profile = AgentProfile.objects.get(user=request.user)
    agents = AgentProfile.objects.filter(user__is_active=True).select_related("user").order_by("display_name")
    config = {
        "ws_url": "/ws/agent/",
        "me": {"id": request.user.pk, "name": str(profile)},
        "teams": [{"id": team.pk, "name": team.name} for team in Team.objects.order_by("name")],
        "agents": [{"id": agent.user_id, "name": str(agent)} for agent in agents if agent.user_id != request.user.pk],
        "ticket_url": "/tickets/0/",
    }
    return render(request, "channels_app/agent_console.html", {"console_config": config})


def try_page(request: HttpRequest) -> HttpResponse:
    """A page of the helpdesk's own with the chat widget on it, for trying the chat (and for demos): the first
    active widget that allows this site."""
    origin = f"{request.scheme}://{request.get_host()}"
    widget = next((w for w in ChatWidget.objects.filter(is_active=True) if origin in w.origins), None)
    return render(request, "channels_app/chat_try.html", {"widget": widget, "origin": origin})
