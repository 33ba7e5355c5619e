"""Normalizing channel addresses, so one address always names the same identity row."""

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from customers.models import IdentityKind

_LINE_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.:]{8,128}$")
_HANDLE = re.compile(r"^[a-z0-9_][a-z0-9_.\-]{0,63}:@?[\w.\-]{1,100}$")
_EXTERNAL = re.compile(r"^[a-z0-9_][a-z0-9_.\-]{0,63}:\S{1,200}$")


def normalize_identity(kind: str, value: str) -> str:
    """The canonical form of `value` for identities of `kind`; ValidationError when it is not one."""
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationError("Identity values cannot contain NUL characters.")
    if not value:
        raise ValidationError("An identity needs a value.")
    match kind:
        case IdentityKind.EMAIL:
            validate_email(value)
            return value.lower()
        case IdentityKind.PHONE:
            return normalize_phone(value)
        case IdentityKind.LINE:
            if not _LINE_ID.match(value):
                raise ValidationError("A LINE id is U, C or R followed by 32 hexadecimal digits.")
            return value
        case IdentityKind.CHAT_VISITOR:
            if not _TOKEN.match(value):
                raise ValidationError("A chat visitor token is 8 to 128 letters, digits, '_', '-', '.' or ':'.")
            return value
        case IdentityKind.SOCIAL:
            normalized = value.lower()
            if not _HANDLE.match(normalized):
                raise ValidationError("A social handle is written 'network:handle', e.g. 'x:@acme'.")
            network, handle = normalized.split(":", 1)
            return f"{network}:{handle.lstrip('@')}"
        case IdentityKind.EXTERNAL:
            system, _, external_id = value.partition(":")
            normalized = f"{system.lower()}:{external_id}"
            if not _EXTERNAL.match(normalized):
                raise ValidationError("An external id is written 'system:id', e.g. 'shop:12345'.")
            return normalized
    raise ValidationError(f"Unknown identity kind {kind!r}.")


def normalize_phone(value: str) -> str:
    """E.164, reading numbers without a country code as numbers of PHONENUMBER_DEFAULT_REGION."""
    region = getattr(settings, "PHONENUMBER_DEFAULT_REGION", None) or "JP"
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(f"Not a phone number: {error}") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
