"""Printable pages: one layout in points on an A4 or Letter page, painted twice, as a PDF with
a real text layer (reportlab: text stays text, photos are embedded as JPEG) and as a JPEG of the
same page. Pure functions like imaging.py: no database, no storage.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

from PIL import Image, ImageDraw
from reportlab import rl_config
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .imaging import FONT_DIR, _font

# Photos go into a PDF as the binary JPEG streams they are, not as ASCII85 text (reportlab's
# default, for 7-bit mail of the 1990s): a quarter smaller, and no encoding pass per photo.
rl_config.useA85 = 0

PAPERS = {"A4": A4, "Letter": LETTER}
JPEG_DPI = 150  # the JPEG of a page: sharp enough on a screen, a fraction of print size
PHOTO_DPI = 200  # photos embedded in the PDF: print quality for their size on the page
INK = (20, 30, 45)
MUTED = (90, 100, 115)


def page_size(paper: str, *, wide: bool = False) -> tuple[float, float]:
    """The paper's size in points (1/72 inch), portrait or landscape."""
    try:
        size = PAPERS[paper]
    except KeyError:
        raise ValueError(f"Paper must be one of {', '.join(PAPERS)}.") from None
    return landscape(size) if wide else size


@dataclass
class Text:
    x: float
    y: float  # the baseline, from the top of the page
    text: str
    size: float = 9
    bold: bool = False
    colour: tuple[int, int, int] = INK


@dataclass
class Picture:
    x: float
    y: float  # the top edge, from the top of the page
    width: float
    height: float
    image: Image.Image = field(repr=False)


@dataclass
class Box:
    x: float
    y: float
    width: float
    height: float
    fill: tuple[int, int, int]


@dataclass
class Line:
    points: list[tuple[float, float]]
    width: float = 1.0
    colour: tuple[int, int, int] = INK
    dots: bool = False  # a dot at each point


@dataclass
class Page:
    size: tuple[float, float]
    title: str = ""
    author: str = ""
    items: list = field(default_factory=list)

    def add(self, *items) -> None:
        self.items.extend(items)

    def text_width(self, text: str, size: float, bold: bool = False) -> float:
        return pdfmetrics.stringWidth(text, _pdf_font(bold), size)


@functools.cache
def _pdf_font(bold: bool) -> str:
    """DejaVu, as the JPEG is drawn in (it has every character a caption uses); reportlab's
    built-in Helvetica where the fonts are missing."""
    name = "DejaVuSans-Bold" if bold else "DejaVuSans"
    try:
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{name}.ttf")))
    except Exception:  # pragma: no cover - fonts-dejavu-core is a system dependency  # noqa: BLE001
        return "Helvetica-Bold" if bold else "Helvetica"
    return name


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def fitted(image: Image.Image, width: float, height: float, dpi: int) -> Image.Image:
    """The image at no more pixels than `dpi` needs for a width x height point box."""
    most = (max(1, round(width * dpi / 72)), max(1, round(height * dpi / 72)))
    if image.width > most[0] or image.height > most[1]:
        image = image.copy()
        image.thumbnail(most, Image.Resampling.LANCZOS)
    return image


def paint_pdf(page: Page) -> bytes:
    out = io.BytesIO()
    width, height = page.size
    pdf = canvas.Canvas(out, pagesize=page.size, pageCompression=1)
    pdf.setTitle(page.title)
    pdf.setAuthor(page.author)
    pdf.setCreator(page.author)
    for item in page.items:
        if isinstance(item, Box):
            pdf.setFillColorRGB(*(c / 255 for c in item.fill))
            pdf.rect(item.x, height - item.y - item.height, item.width, item.height, 0, 1)
        elif isinstance(item, Picture):
            data = _jpeg(fitted(item.image, item.width, item.height, PHOTO_DPI))
            pdf.drawImage(
                ImageReader(io.BytesIO(data)),
                item.x,
                height - item.y - item.height,
                item.width,
                item.height,
            )
        elif isinstance(item, Text):
            pdf.setFillColorRGB(*(c / 255 for c in item.colour))
            pdf.setFont(_pdf_font(item.bold), item.size)
            pdf.drawString(item.x, height - item.y, item.text)
        elif isinstance(item, Line):
            pdf.setStrokeColorRGB(*(c / 255 for c in item.colour))
            pdf.setFillColorRGB(*(c / 255 for c in item.colour))
            pdf.setLineWidth(item.width)
            path = pdf.beginPath()
            for index, (x, y) in enumerate(item.points):
                (path.lineTo if index else path.moveTo)(x, height - y)
            pdf.drawPath(path, stroke=1, fill=0)
            if item.dots:
                for x, y in item.points:
                    pdf.circle(x, height - y, item.width * 1.8, stroke=0, fill=1)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def paint_jpeg(page: Page, dpi: int = JPEG_DPI) -> bytes:
    scale = dpi / 72
    width, height = (round(v * scale) for v in page.size)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for item in page.items:
        if isinstance(item, Box):
            box = (item.x, item.y, item.x + item.width, item.y + item.height)
            draw.rectangle([round(v * scale) for v in box], fill=item.fill)
        elif isinstance(item, Picture):
            size = (round(item.width * scale), round(item.height * scale))
            picture = item.image
            if picture.size != size:
                picture = picture.resize(size, Image.Resampling.LANCZOS)
            sheet.paste(picture.convert("RGB"), (round(item.x * scale), round(item.y * scale)))
        elif isinstance(item, Text):
            font = _font(round(item.size * scale), bold=item.bold)
            draw.text(
                (item.x * scale, item.y * scale),
                item.text,
                font=font,
                fill=item.colour,
                anchor="ls",
            )
        elif isinstance(item, Line):
            points = [(x * scale, y * scale) for x, y in item.points]
            if len(points) > 1:
                draw.line(points, fill=item.colour, width=max(1, round(item.width * scale)))
            if item.dots:
                r = item.width * 1.8 * scale
                for x, y in points:
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=item.colour)
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=88)
    return out.getvalue()


def wrap(page: Page, text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """`text` in lines no wider than `width` points."""
    lines, current = [], ""
    for word in text.split():
        attempt = f"{current} {word}".strip()
        if current and page.text_width(attempt, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = attempt
    return [*lines, current] if current else lines


def trend_chart(
    page: Page,
    *,
    x: float,
    y: float,
    width: float,
    height: float,
    points: list[tuple[str, float]],
    title: str,
) -> None:
    """A small line chart of (label, value) points, values on a shared axis from the lowest to
    the highest, labels under each point."""
    page.add(Text(x, y + 10, title, size=9, bold=True))
    top, plot_h = y + 18, height - 36
    left, plot_w = x + 28, width - 36
    page.add(Box(left, top, plot_w, plot_h, (246, 247, 249)))
    if not points:
        page.add(Text(left + 6, top + plot_h / 2, "No measured photo yet.", size=8, colour=MUTED))
        return
    values = [v for _, v in points]
    low, high = min(values), max(values)
    if high - low < 2:  # a flat line drawn flat, not magnified noise
        low, high = (low + high) / 2 - 1, (low + high) / 2 + 1
    span = high - low

    def at(index: int, value: float) -> tuple[float, float]:
        step = plot_w / max(1, len(points) - 1) if len(points) > 1 else 0
        px = left + (index * step if len(points) > 1 else plot_w / 2)
        return px, top + plot_h - (value - low) / span * (plot_h - 8) - 4

    page.add(Text(x, top + 8, f"{high:.1f}", size=7, colour=MUTED))
    page.add(Text(x, top + plot_h, f"{low:.1f}", size=7, colour=MUTED))
    coordinates = [at(i, v) for i, (_, v) in enumerate(points)]
    page.add(Line(coordinates, width=1.2, colour=(176, 48, 64), dots=True))
    for (label, value), (px, py) in zip(points, coordinates, strict=True):
        page.add(Text(px - page.text_width(label, 7) / 2, top + plot_h + 10, label, size=7))
        page.add(Text(px + 4, py - 4, f"{value:.1f}", size=7, colour=(176, 48, 64)))


def course_panel(
    data: bytes,
    *,
    box: int,
    onto: list[float] | None = None,
    reference_size: tuple[int, int] | None = None,
    gains: tuple[float, float, float] | None = None,
    cover: str = "",
    is_face: bool = False,
) -> tuple[Image.Image, str]:
    """One photo of a course sheet from its large derivative: aligned into the baseline's
    frame (`onto`), white balanced (`gains`), and with the eyes covered when `cover` says how
    ("blur" or "bar"); returns it and what was covered."""
    import numpy as np

    from . import colour
    from .imaging import Panel

    image = Panel(data, onto=onto, reference_size=reference_size).drawn(box)
    if gains:
        image = image.point(colour.pil_table(tuple(gains)))
    if not cover:
        return image, ""
    pixels = np.asarray(image)
    found = colour.eye_regions(pixels, is_face_view=is_face)
    if not found.regions:
        return image, ""
    return Image.fromarray(colour.cover(pixels, found.regions, cover)), found.note


MARGIN = 36  # half an inch


def _header(page: Page, clinic_name: str, title: str, lines: list[str]) -> float:
    """Clinic, title and the lines under it; returns where the content may start."""
    page.add(Text(MARGIN, MARGIN + 14, clinic_name, size=15, bold=True))
    page.add(Text(MARGIN, MARGIN + 32, title, size=11.5))
    y = MARGIN + 47
    for line in lines:
        for part in wrap(page, line, page.size[0] - 2 * MARGIN, 8.5):
            page.add(Text(MARGIN, y, part, size=8.5, colour=MUTED))
            y += 11
    return y + 6


def _footer(page: Page, lines: list[str]) -> None:
    y = page.size[1] - MARGIN + 4 - 10 * (len(lines) - 1)
    for line in lines:
        page.add(Text(MARGIN, y, line, size=7, colour=MUTED))
        y += 10


def _panel(
    page: Page, image: Image.Image, caption: list[str], x: float, y: float, w: float, h: float
) -> None:
    """A photo contained in a w x h box (panel grey around it), its caption under the box."""
    page.add(Box(x, y, w, h, (238, 240, 243)))
    scale = min(w / image.width, h / image.height)
    pw, ph = image.width * scale, image.height * scale
    page.add(Picture(x + (w - pw) / 2, y + (h - ph) / 2, pw, ph, image))
    line_y = y + h + 11
    for number, line in enumerate(caption):
        size = 8 if number == 0 else 7
        for part in wrap(page, line, w, size, bold=number == 0):
            page.add(Text(x, line_y, part, size=size, bold=number == 0))
            line_y += size + 2.5


def pair_page(
    drawn: list[tuple[Image.Image, list[str]]],
    *,
    title: str,
    subtitle: str,
    clinic_name: str,
    paper: str,
    footer: str,
) -> Page:
    """The photos of a comparison side by side on a landscape page."""
    page = Page(page_size(paper, wide=True), title=title, author=clinic_name)
    top = _header(page, clinic_name, title, [subtitle] if subtitle else [])
    width, height = page.size
    gap = 14
    count = max(1, len(drawn))
    box_w = (width - 2 * MARGIN - gap * (count - 1)) / count
    captions = max(len(c) for _, c in drawn) if drawn else 0
    box_h = min(box_w, height - top - MARGIN - 20 - captions * 11)
    for index, (image, caption) in enumerate(drawn):
        _panel(page, image, caption, MARGIN + index * (box_w + gap), top, box_w, box_h)
    _footer(page, [footer])
    return page


def course_page(
    drawn: list[tuple[Image.Image, list[str]]],
    *,
    title: str,
    lines: list[str],
    clinic_name: str,
    paper: str,
    trend: list[tuple[str, float]],
    footer: list[str],
) -> Page:
    """A course on a portrait page: the photos in a grid in time order, the redness trend
    under them."""
    page = Page(page_size(paper), title=title, author=clinic_name)
    top = _header(page, clinic_name, title, lines)
    width, height = page.size
    columns = 2 if len(drawn) <= 4 else 3 if len(drawn) <= 9 else 4
    rows = max(1, -(-len(drawn) // columns))
    gap, caption_h, chart_h = 12, 38, 120
    cell_w = (width - 2 * MARGIN - gap * (columns - 1)) / columns
    room = height - top - MARGIN - 20 - chart_h - 10
    cell_h = min(cell_w, room / rows - caption_h - gap)
    for index, (image, caption) in enumerate(drawn):
        row, column = divmod(index, columns)
        x = MARGIN + column * (cell_w + gap)
        y = top + row * (cell_h + caption_h + gap)
        _panel(page, image, caption, x, y, cell_w, cell_h)
    chart_y = top + rows * (cell_h + caption_h + gap)
    trend_chart(
        page,
        x=MARGIN,
        y=chart_y,
        width=width - 2 * MARGIN,
        height=chart_h,
        points=trend,
        title="Redness (mean CIELAB a*, after white balance; higher is redder)",
    )
    _footer(page, footer)
    return page
