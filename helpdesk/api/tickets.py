"""Tickets and their timeline over REST. Thin: validate, authorize through the selectors, call a service."""

import re

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from helpdesk.api.errors import Conflict
from helpdesk.api.pagination import RecentFirstCursorPagination, TimelineCursorPagination
from helpdesk.api.permissions import HasHelpdeskRole
from helpdesk.api.serializers import (
    AssignmentSerializer,
    AuditEntrySerializer,
    MessageSerializer,
    NewMessageSerializer,
    NewTicketSerializer,
    PostKind,
    StatusChangeSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from helpdesk.filters import TicketFilter
from helpdesk.models import Attachment, AuditEntry, Message, Role, Team, Ticket
from helpdesk.selectors.access import attachment_access, is_staff_role, role_of, ticket_access
from helpdesk.selectors.tickets import ticket_list, ticket_timeline, with_list_relations
from helpdesk.services import tickets as ticket_services
from helpdesk.services.messages import NewAttachment

NOT_FOUND = OpenApiResponse(description="No such ticket, or not one the caller may see.")
INVALID = OpenApiResponse(description="Invalid input, with the reasons per field.")
CONFLICT = OpenApiResponse(description="The ticket's current status does not allow this.")
CHANNEL_OF_PORTAL = "web_form"
SLA_RELATIONS = ("sla__policy",)  # shown on every ticket, joined into the same query


def _attachments(files) -> list[NewAttachment]:
    return [
        NewAttachment(filename=upload.name, content=upload.read(), content_type=upload.content_type or "")
        for upload in files
    ]


@extend_schema_view(
    list=extend_schema(responses={200: TicketSerializer(many=True), 400: INVALID}),
    retrieve=extend_schema(responses={200: TicketSerializer, 404: NOT_FOUND}),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets the caller may see. Agents restricted to their teams and customers see only theirs."""

    serializer_class = TicketSerializer
    lookup_value_regex = "[0-9]{1,18}"
    permission_classes = [HasHelpdeskRole]
    filterset_class = TicketFilter
    extra_query_params: tuple[str, ...] = ()

    def get_queryset(self):
        return ticket_list(user=self.request.user).select_related(*SLA_RELATIONS)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "staff": is_staff_role(self.request.user)}

    def get_object(self) -> Ticket:
        try:
            return ticket_access(user=self.request.user, ticket_id=int(self.kwargs["pk"]))
        except (Ticket.DoesNotExist, ValueError):
            raise NotFound("No such ticket.") from None

    def _require_staff(self):
        if not is_staff_role(self.request.user):
            raise PermissionDenied("Only agents may do this.")

    def _ticket_response(self, ticket, code=status.HTTP_200_OK):
        # Not re-checked for visibility: a restricted agent who just handed the ticket on still gets the result.
        ticket = with_list_relations(Ticket.objects.all()).select_related(*SLA_RELATIONS).get(pk=ticket.pk)
        return Response(TicketSerializer(ticket).data, status=code)

    @extend_schema(request=NewTicketSerializer, responses={201: TicketSerializer, 400: INVALID})
    def create(self, request):
        self._require_staff()
        data = self._valid(NewTicketSerializer)
        with transaction.atomic():
            ticket = ticket_services.open_ticket(
                inbox=data["inbox"],
                customer=data["customer"],
                subject=data["subject"],
                priority=data["priority"],
                actor=request.user,
            )
            if data["body_text"] or data["body_html"]:
                if data["from_customer"]:
                    ticket_services.receive_customer_message(
                        ticket=ticket, body_text=data["body_text"], body_html=data["body_html"]
                    )
                else:
                    ticket_services.reply(
                        ticket=ticket, agent=request.user, body_text=data["body_text"], body_html=data["body_html"]
                    )
        return self._ticket_response(ticket, status.HTTP_201_CREATED)

    @extend_schema(request=TicketUpdateSerializer, responses={200: TicketSerializer, 400: INVALID, 404: NOT_FOUND})
    def partial_update(self, request, pk=None):
        ticket = self.get_object()
        self._require_staff()
        data = self._valid(TicketUpdateSerializer)
        ticket_services.update_ticket(ticket=ticket, actor=request.user, **data)
        return self._ticket_response(ticket)

    @extend_schema(
        request=StatusChangeSerializer,
        responses={200: TicketSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Change the status. Illegal transitions (e.g. closed -> open) answer 409."""
        ticket = self.get_object()
        self._require_staff()
        data = self._valid(StatusChangeSerializer)
        ticket_services.change_status(ticket=ticket, status=data["status"], actor=request.user)
        return self._ticket_response(ticket)

    @extend_schema(request=AssignmentSerializer, responses={200: TicketSerializer, 400: INVALID, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign to an agent and/or a team; null unassigns."""
        ticket = self.get_object()
        self._require_staff()
        data = self._valid(AssignmentSerializer)
        changes = {}
        if "assignee" in data:
            changes["assignee"] = self._lookup(get_user_model(), data["assignee"], "assignee")
        if "team" in data:
            changes["team"] = self._lookup(Team, data["team"], "team")
        ticket_services.assign_ticket(ticket=ticket, actor=request.user, **changes)
        return self._ticket_response(ticket)

    @extend_schema(
        methods=["get"],
        parameters=[OpenApiParameter("after_seq", int, description="Only messages after this sequence number.")],
        responses={200: MessageSerializer(many=True), 404: NOT_FOUND},
    )
    @extend_schema(
        methods=["post"],
        request={"application/json": NewMessageSerializer, "multipart/form-data": NewMessageSerializer},
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="Replay of an external_id: the message stored first."),
            400: INVALID,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=TimelineCursorPagination,
        filterset_class=None,
        extra_query_params=("after_seq",),
    )
    def messages(self, request, pk=None):
        """The ticket's timeline (GET), or a reply or internal note (POST)."""
        ticket = self.get_object()
        if request.method == "POST":
            return self._post_message(ticket)
        messages = ticket_timeline(user=request.user, ticket=ticket)
        after_seq = request.query_params.get("after_seq")
        if after_seq is not None:
            if not re.fullmatch(r"[0-9]{1,10}", after_seq):
                raise self._invalid("after_seq", "A whole number.")
            messages = messages.filter(seq__gt=int(after_seq))
        self.filter_queryset(messages)  # rejects unknown parameters
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    def _post_message(self, ticket):
        data = self._valid(NewMessageSerializer)
        user = self.request.user
        # Idempotency keys live in a namespace of their own per user, apart from channel ids.
        key = f"api:{user.pk}:{data['external_id']}" if data.get("external_id") else None
        if key:
            earlier = Message.objects.filter(inbox_id=ticket.inbox_id, external_id=key).first()
            if earlier is not None:
                if earlier.ticket_id != ticket.pk:
                    raise Conflict(f"This external_id was already used on ticket #{earlier.ticket_id}.")
                earlier = ticket_timeline(user=user, ticket=ticket).get(pk=earlier.pk)
                return Response(MessageSerializer(earlier).data, status=status.HTTP_200_OK)
        files = _attachments(data.get("attachments", []))
        body = {
            "body_text": data["body_text"],
            "body_html": data["body_html"],
            "attachments": files,
            "external_id": key,
        }
        if role_of(user) == Role.CUSTOMER:
            if data["kind"] != PostKind.REPLY or "status" in data:
                raise PermissionDenied("Customers can only reply.")
            message = ticket_services.receive_customer_message(ticket=ticket, channel=CHANNEL_OF_PORTAL, **body)
        elif data["kind"] == PostKind.NOTE:
            with transaction.atomic():
                message = ticket_services.add_internal_note(ticket=ticket, agent=user, **body)
                if "status" in data:
                    ticket_services.change_status(ticket=ticket, status=data["status"], actor=user)
        else:
            message = ticket_services.reply(ticket=ticket, agent=user, status=data.get("status"), **body)
        message = ticket_timeline(user=user, ticket=ticket).get(pk=message.pk)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AuditEntrySerializer(many=True), 404: NOT_FOUND})
    @action(detail=True, pagination_class=RecentFirstCursorPagination, filterset_class=None)
    def audit(self, request, pk=None):
        """Who changed what on this ticket, newest first."""
        ticket = self.get_object()
        self._require_staff()
        entries = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Ticket), object_id=ticket.pk
        ).select_related("actor__agent_profile")
        self.filter_queryset(entries)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 404: NOT_FOUND})
    @action(detail=True, url_path=r"attachments/(?P<attachment_id>[0-9]{1,18})", filterset_class=None)
    def attachment(self, request, pk=None, attachment_id=None):
        """Download an attachment of a message the caller may see."""
        try:
            attachment = attachment_access(user=request.user, ticket_id=int(pk), attachment_id=int(attachment_id))
        except (Ticket.DoesNotExist, Attachment.DoesNotExist):
            raise NotFound("No such attachment.") from None
        response = FileResponse(
            attachment.file.open("rb"), as_attachment=True, filename=attachment.filename,
            content_type=attachment.content_type,
        )  # fmt: skip
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    def _valid(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def _invalid(field, message):
        return ValidationError({field: [message]})

    def _lookup(self, model, pk, field):
        if pk is None:
            return None
        try:
            return model.objects.get(pk=pk)
        except model.DoesNotExist:
            raise self._invalid(field, f"No {field} with id {pk}.") from None
