"""The public support form pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from channels_app.acknowledge import acknowledge
from channels_app.adapters import InboundAttachment, InboundMessage, Sender
from channels_app.models import WebForm
from channels_app.pipeline import receive
from channels_app.web_form import SupportRequestForm
from customers.models import ChannelKind, IdentityKind

RATE_PER_IP = "10/h"
RATE_PER_ADDRESS = "5/h"


def _web_form(slug: str | None) -> WebForm:
    forms = WebForm.objects.select_related("inbox").filter(is_active=True)
    form = forms.filter(slug=slug).first() if slug else forms.order_by("pk").first()
    if form is None:
        raise Http404("No support form here.")
    return form


def _limited(request: HttpRequest, address: str) -> bool:
    by_ip = is_ratelimited(request, group="web-form-ip", key="ip", rate=RATE_PER_IP, increment=True)
    by_address = is_ratelimited(
        request, group="web-form-address", key=lambda group, request: address, rate=RATE_PER_ADDRESS, increment=True
    )
    return by_ip or by_address


@require_http_methods(["GET", "POST"])
def support_request(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    web_form = _web_form(slug)
    form = SupportRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        if form.is_robot:
            return _framed(render(request, "channels_app/support_thanks.html", {"web_form": web_form}), web_form)
        data = form.cleaned_data
        if _limited(request, data["email"]):
            response = render(
                request,
                "channels_app/support_form.html",
                {"form": form, "web_form": web_form, "limited": True},
                status=429,
            )
            return _framed(response, web_form)
        received = receive(
            inbox=web_form.inbox,
            inbound=InboundMessage(
                channel=ChannelKind.WEB_FORM,
                external_id=f"web-form:{data['submission']}",
                sender=Sender(kind=IdentityKind.EMAIL, address=data["email"], name=data["name"]),
                subject=data["subject"],
                text=data["message"],
                attachments=tuple(
                    InboundAttachment(
                        filename=upload.name, content=upload.read(), content_type=upload.content_type or ""
                    )
                    for upload in data["attachments"]
                ),
            ),
            config=web_form,
        )
        if received.new_ticket:
            acknowledge(ticket=received.ticket, channel=ChannelKind.WEB_FORM)
        context = {"web_form": web_form, "ticket_number": received.ticket.pk}
        return _framed(render(request, "channels_app/support_thanks.html", context), web_form)
    status = 400 if request.method == "POST" else 200
    return _framed(
        render(request, "channels_app/support_form.html", {"form": form, "web_form": web_form}, status=status), web_form
    )


def _framed(response: HttpResponse, web_form: WebForm) -> HttpResponse:
    """Let the company's own sites (and only them) show the form in a frame."""
    ancestors = " ".join(["'self'", *web_form.frame_ancestors])
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    response.xframe_options_exempt = bool(web_form.frame_ancestors)
    return response
