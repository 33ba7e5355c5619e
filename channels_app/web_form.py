"""The support web form: a hostile-caller public endpoint. Rate-limited per IP and per address,
size-bounded, header-injection-proof, double-submit-safe, and its confirmation never repeats what was
submitted (so it cannot be used to send our mail with someone else's text to a stranger)."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_FILES = 5


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > MAX_FILES:
            raise ValidationError(_("At most %(count)s files.") % {"count": MAX_FILES})
        limit = settings.HELPDESK_MAX_ATTACHMENT_BYTES
        for upload in files:
            super().clean(upload, initial)
            if upload.size > limit:
                raise ValidationError(_("%(name)s is too large.") % {"name": upload.name})
        return files


def _single_line(value: str) -> str:
    if any(char in value for char in "\r\n\x00"):
        raise ValidationError(_("This field must be a single line."))
    return value.strip()


class SupportRequestForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(label=_("Email address"), max_length=254)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    message = forms.CharField(label=_("How can we help?"), widget=forms.Textarea(attrs={"rows": 8}), max_length=20_000)
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    # A field people never see; robots fill it in.
    website = forms.CharField(required=False, widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))
    # One id per rendered form: submitting the same form twice stores one request.
    submission = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_name(self):
        return _single_line(self.cleaned_data["name"])

    def clean_subject(self):
        return _single_line(self.cleaned_data["subject"])

    def clean_email(self):
        return _single_line(self.cleaned_data["email"]).lower()

    def clean_message(self):
        return self.cleaned_data["message"].replace("\x00", "")

    @property
    def is_robot(self) -> bool:
        return bool(self.cleaned_data.get("website"))
