from django import template

from helpdesk.event_text import describe

register = template.Library()


@register.filter
def event_text(message) -> str:
    """A system event's words in the reader's language."""
    return describe(message.event, message.data, fallback=message.body_text)
