"""The chart's kept part is sent without its templates' indentation, and shows the same."""

from __future__ import annotations

import re

from django.urls import reverse

from .test_pages import TODAY


def text_of(html: str) -> str:
    """What a browser shows of the page's main part, white space collapsed as HTML does."""
    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


def test_the_chart_shows_the_same_text_as_drawn_without_it(
    client, clinician_user, alice, make_plan, monkeypatch
):
    from django.core.cache import cache
    from django.template.loader import render_to_string

    plan = make_plan(alice, "microdermabrasion", TODAY)

    client.force_login(clinician_user)
    chart = reverse("treatments:chart", args=[alice.pk])
    compact = client.get(chart).content.decode()
    cache.clear()
    monkeypatch.setattr("treatments.views.render_compact", render_to_string)
    as_drawn = client.get(chart).content.decode()
    assert text_of(compact) == text_of(as_drawn)
    assert plan.modality.name in text_of(compact)
    assert len(compact) < 0.9 * len(as_drawn)
