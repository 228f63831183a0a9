"""The Jinja2 environment for the partials that draw hundreds of rows (the day grid, the week
list, the chart, the portal home, the photo timeline): Jinja compiles a template to Python, so a
row costs a fraction of what the Django engine's node tree costs. Pages stay Django templates
and include these partials with {% jinja "name" %} (core.templatetags.jinja)."""

from __future__ import annotations

from django.template.defaultfilters import capfirst, date, pluralize, time
from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment


def url(name: str, *args) -> str:
    return reverse(name, args=args)


def environment(**options) -> Environment:
    # Escaping always on, whatever the options say: these partials show patients' data.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.globals.update(url=url, static=static)
    env.filters.update(date=date, time=time, pluralize=pluralize, capfirst=capfirst)
    return env
