from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.models import TicketStatus


class ReplyForm(forms.Form):
    kind = forms.ChoiceField(choices=[("reply", _("Public reply")), ("note", _("Internal note"))], initial="reply")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=200_000, label=_("Message"))
    status = forms.ChoiceField(
        choices=[("", _("Keep status"))] + [(value, label) for value, label in TicketStatus.choices if value != "bot"],
        required=False,
        label=_("Then set status"),
    )


class CustomerReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=200_000, label=_("Message"))
