from rest_framework import serializers

from channels_app.phone import CallDirection
from customers.api.fields import BoundedPrimaryKeyRelatedField, StrictCharField, StrictSerializer
from customers.models import IdentityKind
from helpdesk.models import Inbox


class InboundMessageSerializer(StrictSerializer):
    inbox = BoundedPrimaryKeyRelatedField(queryset=Inbox.objects.filter(is_active=True))
    identity_kind = serializers.ChoiceField(choices=IdentityKind.choices)
    identity_value = StrictCharField(max_length=320)
    name = StrictCharField(max_length=200, required=False, default="")
    subject = StrictCharField(max_length=255, required=False, default="")
    body_text = StrictCharField(max_length=200_000, required=False, allow_blank=True, default="")
    body_html = StrictCharField(max_length=400_000, required=False, allow_blank=True, default="")
    external_id = StrictCharField(max_length=200, help_text="Your id of this message: sending it again stores it once.")

    def validate(self, attrs):
        if not (attrs["body_text"].strip() or attrs["body_html"].strip()):
            raise serializers.ValidationError("A message needs body_text or body_html.")
        return attrs


class InboundResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["stored", "duplicate"])
    ticket = serializers.IntegerField()
    message = serializers.IntegerField()
    seq = serializers.IntegerField()
    new_ticket = serializers.BooleanField()


class CallSerializer(StrictSerializer):
    inbox = BoundedPrimaryKeyRelatedField(queryset=Inbox.objects.filter(is_active=True))
    call_id = StrictCharField(max_length=120, help_text="The telephony system's call id (idempotency).")
    direction = serializers.ChoiceField(choices=CallDirection.choices)
    number = StrictCharField(max_length=40, help_text="The customer's number; E.164 or national (default region).")
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86_400, default=0)
    started_at = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(
        choices=["completed", "missed", "busy", "failed", "voicemail"], default="completed"
    )
    recording_url = serializers.URLField(required=False, default="", max_length=1000)
    notes = StrictCharField(max_length=20_000, required=False, allow_blank=True, default="")
    ticket = serializers.IntegerField(
        required=False, min_value=1, help_text="For outbound calls: the ticket discussed."
    )
