"""Drawn HTML that is kept and sent many times."""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

_LINE_BREAK_IN_WHITESPACE = re.compile(r"\s*\n\s*")


def render_compact(template_name: str, context: dict, request=None) -> SafeString:
    """A template rendered for a cached part, each run of white space that holds a line break
    made one line break: HTML shows the two alike outside <pre> and <textarea>, which no cached
    part holds, and the templates' indentation was a quarter of a chart's bytes, sent on every
    look."""
    html = render_to_string(template_name, context, request=request)
    # Still safe: only white space between what the template escaped was changed.
    return mark_safe(_LINE_BREAK_IN_WHITESPACE.sub("\n", html))  # noqa: S308
