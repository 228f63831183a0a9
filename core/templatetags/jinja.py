"""{% jinja "app/_partial.jinja" %}: a Jinja2 partial drawn with the page's context."""

from __future__ import annotations

from django import template
from django.template import engines
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, name: str) -> SafeString:
    # Jinja escapes what it draws (autoescape is on), so its output is safe HTML.
    return SafeString(engines["jinja2"].get_template(name).render(context.flatten()))
