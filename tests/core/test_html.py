"""Cached parts are kept without their templates' indentation, and show the same."""

from __future__ import annotations

from core.html import render_compact


def test_white_space_with_a_line_break_becomes_one_line_break(tmp_path, settings):
    (tmp_path / "part.html").write_text(
        "<ul>\n    <li>\n      <a href='#'>One</a>\n      <a href='#'>Two</a>   <b>x</b>\n"
        "    </li>\n</ul>\n"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    html = render_compact("part.html", {})
    # Elements next to each other stay apart (a line break shows as a space); spaces without a
    # line break are left as they are.
    assert html == "<ul>\n<li>\n<a href='#'>One</a>\n<a href='#'>Two</a>   <b>x</b>\n</li>\n</ul>\n"
