from django import template

from portal import dates
from scheduling import notifications

register = template.Library()


@register.filter
def day_name(value):
    return dates.day_name(value) if value else ""


@register.filter
def short_day(value):
    return dates.short_day(value) if value else ""


@register.filter
def clock(value):
    return dates.clock(value) if value else ""


@register.filter
def countdown(value):
    return dates.countdown(value) if value else ""


@register.filter
def pre_treatment(session):
    """The booking email's pre-treatment instructions, with this session's real dates (as
    portal.queries.overview put them on the session, with the rules read once)."""
    if not session.starts_at:
        return []
    found = getattr(session, "pre_treatment", None)
    return found if found is not None else notifications.instructions(session)


@register.filter
def contact_us(session):
    """Asks the patient to contact us when screening flags the session; never the detail."""
    return notifications.contact_us(session)
