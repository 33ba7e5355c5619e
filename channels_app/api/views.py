"""The API channel (any system posts customer messages) and the phone call log."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.adapters import InboundMessage, Sender
from channels_app.api.serializers import CallSerializer, InboundMessageSerializer, InboundResultSerializer
from channels_app.models import PhoneLine
from channels_app.phone import Call, log_call
from channels_app.pipeline import receive
from customers.identities import normalize_identity
from customers.models import ChannelKind
from helpdesk.api.permissions import IsStaffRole
from helpdesk.api.serializers import MessageSerializer
from helpdesk.models import Ticket
from helpdesk.selectors.access import ticket_access

INVALID = OpenApiResponse(description="Invalid input, with the reasons per field.")


class InboundMessageView(APIView):
    """Post a message written by a customer (known by one of their identities) into an inbox, through
    the same pipeline as every channel: deduplicated by `external_id`, threaded, routed."""

    permission_classes = [IsStaffRole]

    @extend_schema(
        request=InboundMessageSerializer,
        responses={201: InboundResultSerializer, 200: InboundResultSerializer, 400: INVALID},
    )
    def post(self, request):
        serializer = InboundMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            address = normalize_identity(data["identity_kind"], data["identity_value"])
        except DjangoValidationError as error:
            raise ValidationError({"identity_value": error.messages}) from None
        received = receive(
            inbox=data["inbox"],
            inbound=InboundMessage(
                channel=ChannelKind.API,
                external_id=f"api:{request.user.pk}:{data['external_id']}",
                sender=Sender(kind=data["identity_kind"], address=address, name=data["name"]),
                subject=data["subject"],
                text=data["body_text"],
                html=data["body_html"],
            ),
        )
        body = {
            "outcome": received.outcome,
            "ticket": received.ticket.pk,
            "message": received.message.pk,
            "seq": received.message.seq,
            "new_ticket": received.new_ticket,
        }
        return Response(body, status=status.HTTP_201_CREATED if received.outcome == "stored" else status.HTTP_200_OK)


class CallLogView(APIView):
    """Log a phone call on the customer's history (an agent's entry, or a telephony integration's)."""

    permission_classes = [IsStaffRole]

    @extend_schema(request=CallSerializer, responses={201: MessageSerializer, 400: INVALID})
    def post(self, request):
        serializer = CallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ticket = None
        if data.get("ticket"):
            try:
                ticket = ticket_access(user=request.user, ticket_id=data["ticket"])
            except Ticket.DoesNotExist:
                raise NotFound("No such ticket.") from None
        call = Call(
            call_id=data["call_id"], direction=data["direction"], number=data["number"],
            duration_seconds=data["duration_seconds"], started_at=data.get("started_at"),
            recording_url=data["recording_url"], status=data["status"], notes=data["notes"],
        )  # fmt: skip
        try:
            ticket, message = log_call(
                inbox=data["inbox"], call=call, agent=request.user, ticket=ticket,
                line=PhoneLine.objects.filter(inbox=data["inbox"]).first(),
            )  # fmt: skip
        except DjangoValidationError as error:
            raise ValidationError({"number": error.messages}) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
