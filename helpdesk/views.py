"""Server-rendered pages: the inbox and a ticket's timeline, for agents and for portal customers."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found

from helpdesk.filters import TicketFilter
from helpdesk.forms import CustomerReplyForm, ReplyForm
from helpdesk.models import Ticket
from helpdesk.selectors.access import is_staff_role, role_of, ticket_access
from helpdesk.selectors.tickets import ticket_list, ticket_timeline
from helpdesk.services import tickets as ticket_services
from helpdesk.workflow import TransitionNotAllowed

PAGE_SIZE = 50


@require_GET
def health(request) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@login_required
def inbox(request):
    if role_of(request.user) is None:
        return render(request, "helpdesk/no_access.html", status=403)
    filterset = TicketFilter(request.GET or None, queryset=ticket_list(user=request.user))
    tickets = filterset.qs if filterset.is_bound and filterset.is_valid() else ticket_list(user=request.user)
    return render(
        request,
        "helpdesk/inbox.html",
        {
            "filterset": filterset,
            "tickets": tickets[:PAGE_SIZE],
            "is_staff": is_staff_role(request.user),
        },
    )


@login_required
def ticket_detail(request, ticket_id: int):
    try:
        ticket = ticket_access(user=request.user, ticket_id=ticket_id)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    is_staff = is_staff_role(request.user)
    form_class = ReplyForm if is_staff else CustomerReplyForm
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _post_from_form(request, ticket, form.cleaned_data, is_staff)
        except (ValidationError, TransitionNotAllowed) as error:
            flash.error(request, "; ".join(getattr(error, "messages", [str(error)])))
        else:
            return redirect("ticket-page", ticket_id=ticket.pk)
    return render(
        request,
        "helpdesk/ticket.html",
        {
            "ticket": ticket_list(user=request.user).get(pk=ticket.pk),
            "timeline": ticket_timeline(user=request.user, ticket=ticket),
            "form": form,
            "is_staff": is_staff,
        },
    )


def _post_from_form(request, ticket: Ticket, data: dict, is_staff: bool) -> None:
    if not is_staff:
        ticket_services.receive_customer_message(ticket=ticket, body_text=data["body"], channel="web_form")
    elif data["kind"] == "note":
        ticket_services.add_internal_note(ticket=ticket, agent=request.user, body_text=data["body"])
        if data["status"]:
            ticket_services.change_status(ticket=ticket, status=data["status"], actor=request.user)
    else:
        ticket_services.reply(ticket=ticket, agent=request.user, body_text=data["body"], status=data["status"] or None)


def not_found(request, exception=None):
    """404s under /api/ speak JSON like the rest of the API; pages get the HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
