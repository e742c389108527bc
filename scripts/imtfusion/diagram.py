"""SVG drawings for the per-sample report: pure functions of plain data returning SVG text.

Every gene is drawn in *transcript orientation*: exon 1 on the left whatever the strand,
introns shrunk to short links so that exons stay readable. One axis object maps genomic
coordinates (0-based, and "boundaries" between bases) to x, so the coverage track, the
exons, the domains and the breakpoint of a gene always line up.

No ``id`` attributes are used (several SVGs share one HTML page), no external
reference, and every string from the inputs goes through :func:`esc`, so each SVG is
well-formed XML on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Iterable, Sequence

from imtfusion.annotation import Transcript
from imtfusion.model import GeneCoverage

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.imbalance import ImbalanceResult

SVG_NS = "http://www.w3.org/2000/svg"

# colours: retained 5' part, retained 3' part, lost part, domains, breakpoint
COLOUR_5 = "#2f66b3"
COLOUR_3 = "#1f8a66"
COLOUR_LOST = "#c9ced6"
COLOUR_LOST_TEXT = "#6b7280"
COLOUR_KINASE = "#e67e22"
COLOUR_KINASE_LOST = "#f6d3ad"
COLOUR_DOMAIN = "#b59ce0"
COLOUR_DOMAIN_LOST = "#e7dff5"
COLOUR_BREAK = "#c0392b"
COLOUR_TRACK = "#f5f6f8"
COLOUR_QC = "#4a5f7d"
COLOUR_TEXT = "#1f2933"
COLOUR_MUTED = "#5f6b7a"
FONT = "Helvetica, Arial, sans-serif"

DomainSpan = tuple[str, str, tuple[tuple[int, int], ...]]  # (name, kind, genomic intervals)


def esc(value: object) -> str:
    """Text or attribute value, safe in HTML and in XML."""
    return escape(str(value), quote=True)


def _f(v: float) -> str:
    """Coordinates with one decimal and no trailing zeros (compact, deterministic)."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def text_width(text: str, size: float) -> float:
    """A generous estimate of the width of ``text`` in a sans-serif font."""
    return 0.6 * size * len(text)


def _text(x: float, y: float, text: str, size: float = 10, anchor: str = "start", fill: str = COLOUR_TEXT,
          weight: str = "normal", extra: str = "") -> str:
    w = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" text-anchor="{anchor}" fill="{fill}"{w}{extra}>'
            f"{esc(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "", title: str | None = None) -> str:
    body = f"<title>{esc(title)}</title>" if title else ""
    close = f">{body}</rect>" if body else "/>"
    return f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(h)}" fill="{fill}"{extra}{close}'


def _svg(width: float, height: float, body: Iterable[str], label: str) -> str:
    return (
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}" '
        f'role="img" aria-label="{esc(label)}" font-family="{FONT}" class="diagram">'
        f"<title>{esc(label)}</title>{''.join(body)}</svg>"
    )


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if hi > lo else None


# -- axes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExonBox:
    number: int  # in transcript order, 1 = 5'-most
    start: int  # genomic, 0-based half-open
    end: int
    x0: float  # x0 < x1; x0 is the exon's 5' end
    x1: float


class Axis:
    """Genomic coordinate -> x for one gene drawn 5' -> 3' left to right.

    Positions are *boundaries* (``g`` lies between bases ``g - 1`` and ``g``); a base
    ``p`` occupies ``[x(p), x(p + 1)]`` on a plus-strand gene and ``[x(p + 1), x(p)]``
    on a minus-strand one. Positions beyond the transcript are clamped to its ends.
    """

    def __init__(self, exons: Sequence[tuple[int, int]], strand: str, x0: float, x1: float,
                 min_exon: float = 3.0, max_gap: float = 10.0, power: float = 1.0):
        self.strand = "-" if strand == "-" else "+"
        self.x0, self.x1 = x0, x1
        exons = list(exons)  # transcript order
        n = len(exons)
        span = x1 - x0
        gap = 0.0 if n < 2 else min(max_gap, max(1.5, 0.22 * span / (n - 1)))
        room = span - gap * (n - 1)
        widths = self._widths([(e - s) ** power for s, e in exons], room, min_exon)
        self.boxes: list[ExonBox] = []
        # segments in transcript-direction coordinate u (u = g on +, -g on -)
        self._segments: list[tuple[float, float, float, float]] = []
        x = x0
        prev: tuple[float, float] | None = None
        for i, ((s, e), w) in enumerate(zip(exons, widths), start=1):
            u_from, u_to = self._u(s if self.strand == "+" else e), self._u(e if self.strand == "+" else s)
            if prev is not None:
                self._segments.append((prev[0], u_from, prev[1], x))  # intron
            self._segments.append((u_from, u_to, x, x + w))
            self.boxes.append(ExonBox(i, s, e, x, x + w))
            prev = (u_to, x + w)
            x += w + gap

    @staticmethod
    def _widths(lengths: Sequence[float], room: float, min_w: float) -> list[float]:
        if not lengths:
            return []
        min_w = min(min_w, room / len(lengths))
        small: set[int] = set()
        for _ in range(len(lengths) + 1):
            free = room - min_w * len(small)
            rest = sum(v for i, v in enumerate(lengths) if i not in small) or 1
            scale = free / rest
            grown = {i for i, v in enumerate(lengths) if v * scale < min_w}
            if grown <= small:
                break
            small |= grown
        return [min_w if i in small else v * scale for i, v in enumerate(lengths)]

    def _u(self, g: float) -> float:
        return g if self.strand == "+" else -g

    def x(self, g: float) -> float:
        u = self._u(g)
        if not self._segments or u <= self._segments[0][0]:
            return self._segments[0][2] if self._segments else self.x0
        for u_from, u_to, xa, xb in self._segments:
            if u_from <= u <= u_to:
                return xa if u_to == u_from else xa + (u - u_from) / (u_to - u_from) * (xb - xa)
        return self._segments[-1][3]

    def span(self, start: float, end: float) -> tuple[float, float]:
        """x-range of the genomic interval ``[start, end)``, left to right."""
        a, b = self.x(start), self.x(end)
        return (a, b) if a <= b else (b, a)

    @property
    def left(self) -> float:
        return self.boxes[0].x0 if self.boxes else self.x0

    @property
    def right(self) -> float:
        return self.boxes[-1].x1 if self.boxes else self.x1


def linear_axis(start: int, end: int, strand: str, x0: float, x1: float) -> Axis:
    """A gene without an exon model: its whole span as one block."""
    return Axis([(start, end)], strand, x0, x1)


# -- partner data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Partner:
    """One gene of a fusion as the diagram needs it."""

    gene: str
    role: str  # "5" or "3"
    strand: str
    chrom: str
    transcript: Transcript | None
    boundary: int | None  # genomic boundary between the kept and the lost bases
    breakpoint_label: str = ""  # 1-based chr:pos
    exon: int | None = None
    site: str = ""
    coverage: GeneCoverage | None = None
    domains: tuple[DomainSpan, ...] = ()
    fill: str = ""  # exon colour override (QC plots)

    @property
    def colour(self) -> str:
        return self.fill or (COLOUR_5 if self.role == "5" else COLOUR_3)

    def keeps_lower(self) -> bool:
        """Whether the kept part is the lower genomic side of the boundary."""
        plus = self.strand != "-"
        return (self.role == "5") == plus

    def kept_part(self, start: int, end: int) -> tuple[int, int] | None:
        """The kept genomic part of ``[start, end)``."""
        if self.boundary is None:
            return None
        if self.keeps_lower():
            lo, hi = start, min(end, self.boundary)
        else:
            lo, hi = max(start, self.boundary), end
        return (lo, hi) if hi > lo else None

    def kept_exons(self) -> list[tuple[int, int, int]]:
        """(exon number, start, end) of the kept exon parts, in transcript order."""
        if self.transcript is None:
            return []
        out = []
        for i, (s, e) in enumerate(self.transcript.exons, start=1):
            part = self.kept_part(s, e)
            if part:
                out.append((i, part[0], part[1]))
        return out


def _axis_for(p: Partner, x0: float, x1: float) -> Axis | None:
    if p.transcript is not None and p.transcript.exons:
        return Axis(p.transcript.exons, p.transcript.strand, x0, x1, power=PANEL_POWER)
    if p.coverage is not None:
        return linear_axis(p.coverage.start, p.coverage.end, p.strand, x0, x1)
    return None


def _kept_x(p: Partner, axis: Axis) -> tuple[float, float]:
    """x-range of the kept part of the gene (the whole gene without a breakpoint)."""
    if p.boundary is None:
        return (axis.left, axis.right)
    xb = axis.x(p.boundary)
    return (axis.left, xb) if p.role == "5" else (xb, axis.right)


# -- tracks -----------------------------------------------------------------------------------


def _coverage_steps(cov: GeneCoverage, axis: Axis) -> list[tuple[float, float, float]]:
    """(x0, x1, depth) per bin, left to right (bins come in genomic order)."""
    n = len(cov.bins)
    if not n:
        return []
    size = (cov.end - cov.start) / n
    steps = []
    for i, v in enumerate(cov.bins):
        a, b = axis.span(cov.start + i * size, cov.start + (i + 1) * size)
        if b > a:
            steps.append((a, b, float(v)))
    steps.sort()
    return steps


def _area_path(steps: list[tuple[float, float, float]], lo: float, hi: float, y_base: float, scale: float) -> str:
    """A closed step-area path of the steps clipped to ``[lo, hi]``."""
    pts: list[tuple[float, float]] = []
    for a, b, v in steps:
        part = _overlap((a, b), (lo, hi))
        if part is None:
            continue
        y = y_base - v * scale
        pts.append((part[0], y))
        pts.append((part[1], y))
    if not pts:
        return ""
    d = [f"M{_f(pts[0][0])},{_f(y_base)}"] + [f"L{_f(x)},{_f(y)}" for x, y in pts] + [f"L{_f(pts[-1][0])},{_f(y_base)}Z"]
    return "".join(d)


def nice_max(v: float) -> float:
    """A round axis maximum at or above ``v``."""
    if v <= 0:
        return 1.0
    for m in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if v <= m:
            return float(m)
    step = 10 ** (len(str(int(v))) - 1)
    return float(-(-v // step) * step)


def coverage_track(cov: GeneCoverage | None, axis: Axis, y: float, h: float,
                   kept: tuple[float, float] | None, colour: str) -> list[str]:
    """Depth along the gene; the kept part in ``colour``, the rest grey."""
    out = [_rect(axis.left, y, axis.right - axis.left, h, COLOUR_TRACK, ' stroke="#e1e4e8" stroke-width="0.6"')]
    if cov is None or not cov.bins:
        out.append(_text(axis.left + 4, y + h / 2 + 3, "no coverage data", 9, fill=COLOUR_MUTED))
        return out
    steps = _coverage_steps(cov, axis)
    top = nice_max(max((v for _, _, v in steps), default=0.0))
    scale = (h - 3) / top
    y_base = y + h
    if kept is None:
        path = _area_path(steps, axis.left, axis.right, y_base, scale)
        if path:
            out.append(f'<path d="{path}" fill="{colour}" fill-opacity="0.55"/>')
    else:
        for lo, hi, fill, op in ((axis.left, kept[0], COLOUR_LOST, "1"), (kept[0], kept[1], colour, "0.55"),
                                 (kept[1], axis.right, COLOUR_LOST, "1")):
            path = _area_path(steps, lo, hi, y_base, scale) if hi > lo else ""
            if path:
                out.append(f'<path d="{path}" fill="{fill}" fill-opacity="{op}"/>')
    size = (cov.end - cov.start) / len(cov.bins)
    for text, x, anchor in ((f"depth, max {top:g}×", axis.left + 2, "start"),
                            (f"bins of {size:,.0f} bp", axis.right - 2, "end")):
        w = text_width(text, 9) + 4
        bx = x - 2 if anchor == "start" else x - w + 2
        out.append(_rect(bx, y + 1.5, w, 11, "#ffffff", ' fill-opacity="0.8"'))
        out.append(_text(x, y + 10.5, text, 9, anchor, COLOUR_MUTED))
    return out


def _domain_overlays(p: Partner, axis: Axis, y: float, h: float, kept: tuple[float, float] | None) -> list[str]:
    """Domain parts drawn on the exons: the kinase domain full height, others as a band."""
    out = []
    order = sorted(p.domains, key=lambda d: d[1] == "kinase")  # kinase last, on top
    for name, kind, intervals in order:
        kinase = kind == "kinase"
        for s, e in intervals:
            a, b = axis.span(s, e)
            pieces = [((a, b), True)] if kept is None else []
            if kept is not None:
                for rng, is_kept in (((axis.left, kept[0]), False), (kept, True), ((kept[1], axis.right), False)):
                    part = _overlap((a, b), rng)
                    if part:
                        pieces.append((part, is_kept))
            for (lo, hi), is_kept in pieces:
                if kinase:
                    fill = COLOUR_KINASE if is_kept else COLOUR_KINASE_LOST
                    out.append(_rect(lo, y, hi - lo, h, fill, title=f"{p.gene} {name}"))
                else:
                    fill = COLOUR_DOMAIN if is_kept else COLOUR_DOMAIN_LOST
                    out.append(_rect(lo, y + h * 0.3, hi - lo, h * 0.4, fill, title=f"{p.gene} {name}"))
    return out


def _domain_labels(p: Partner, axis: Axis, y: float) -> list[str]:
    """One thin bar per declared domain under the exons, with its name."""
    out = []
    placed: list[tuple[float, float]] = []
    for name, kind, intervals in p.domains:
        if not intervals:
            continue
        xs = [axis.span(s, e) for s, e in intervals]
        lo, hi = min(a for a, _ in xs), max(b for _, b in xs)
        fill = COLOUR_KINASE if kind == "kinase" else COLOUR_DOMAIN
        out.append(_rect(lo, y, max(hi - lo, 1.0), 3.5, fill))
        label = f"{name} (kinase)" if kind == "kinase" and "kinase" not in name.lower() else name
        w = text_width(label, 9.5)
        mid = min(max((lo + hi) / 2, axis.left + w / 2), axis.right - w / 2)
        span = (mid - w / 2, mid + w / 2)
        row = sum(1 for r in placed if _overlap(r, span))
        placed.append(span)
        out.append(_text(mid, y + 14 + 11 * min(row, 1), label, 9.5, "middle", COLOUR_TEXT))
    return out


def _exon_labels(boxes: list[ExonBox], y: float, priority: set[int], size: float = 9.5,
                 colour_of=lambda b: COLOUR_MUTED, bold: int | None = None) -> list[str]:
    """Exon numbers under the exons where they fit: priority exons first, then any
    exon whose label does not collide with one already placed."""
    if not boxes:
        return []
    order = [b for b in boxes if b.number in priority] + [b for b in boxes if b.number not in priority]
    taken: list[tuple[float, float]] = []
    chosen = []
    for b in order:
        label = str(b.number)
        w = text_width(label, size) + 3
        mid = (b.x0 + b.x1) / 2
        span = (mid - w / 2, mid + w / 2)
        if any(_overlap(span, t) for t in taken):
            continue
        taken.append(span)
        chosen.append((mid, label, b))
    chosen.sort(key=lambda t: t[0])
    return [_text(mid, y, label, size, "middle", colour_of(b), "bold" if b.number == bold else "normal")
            for mid, label, b in chosen]


def gene_track(p: Partner, axis: Axis, y: float, h: float = 16) -> list[str]:
    """Exons (kept part coloured, lost part grey), intron links, domains, exon numbers."""
    kept = _kept_x(p, axis) if p.boundary is not None else None
    out = [f'<line x1="{_f(axis.left)}" y1="{_f(y + h / 2)}" x2="{_f(axis.right)}" y2="{_f(y + h / 2)}" '
           f'stroke="#8a94a3" stroke-width="1"/>']
    t = p.transcript
    for b in axis.boxes:
        label = (f"{p.gene} exon {b.number}: {p.chrom}:{b.start + 1}-{b.end}" if t is not None
                 else f"{p.gene} (no exon model): {p.chrom}:{b.start + 1}-{b.end}")
        kept_part = _overlap((b.x0, b.x1), kept) if kept is not None else (b.x0, b.x1)
        out.append(_rect(b.x0, y, b.x1 - b.x0, h, COLOUR_LOST, f' data-exon="{b.number}"', label))
        if kept_part:
            out.append(_rect(kept_part[0], y, kept_part[1] - kept_part[0], h, p.colour))
    out += _domain_overlays(p, axis, y, h, kept)
    if t is not None:
        priority = {1, len(axis.boxes)}
        if p.exon:
            priority.add(p.exon)

        def colour_of(b: ExonBox) -> str:
            inside = kept is None or _overlap((b.x0, b.x1), kept) is not None
            return COLOUR_TEXT if inside else COLOUR_LOST_TEXT

        out.append(_text(axis.left - 3, y + h + 12, "exon", 8.5, "end", COLOUR_MUTED))
        out += _exon_labels(axis.boxes, y + h + 12, priority, colour_of=colour_of, bold=p.exon)
    return out


def _breakpoint_marker(x: float, y0: float, y1: float) -> list[str]:
    return [
        f'<line x1="{_f(x)}" y1="{_f(y0)}" x2="{_f(x)}" y2="{_f(y1)}" stroke="{COLOUR_BREAK}" stroke-width="1.6" '
        f'stroke-dasharray="4 2"/>',
        f'<path d="M{_f(x - 5)},{_f(y0 - 7)}L{_f(x + 5)},{_f(y0 - 7)}L{_f(x)},{_f(y0)}Z" fill="{COLOUR_BREAK}"/>',
    ]


# -- the fusion diagram ---------------------------------------------------------------------------

WIDTH = 860.0
PANEL_POWER = 0.6  # exon width ~ length ** 0.6 in gene panels: long UTR exons do not crowd out the rest
MARGIN = 26.0
GAP = 30.0


def _panel(p: Partner, x0: float, x1: float, top: float) -> tuple[list[str], Axis | None]:
    role = "5′ partner" if p.role == "5" else "3′ partner"
    strand = {"+": "+ strand", "-": "− strand"}.get(p.strand, "strand unknown")
    out = [_text(x0, top + 12, p.gene, 16, weight="bold", fill=p.colour)]
    gx = x0 + text_width(p.gene, 16) * 1.02 + 8
    tname = p.transcript.transcript_id if p.transcript is not None else "no transcript model"
    out.append(_text(gx, top + 12, f"{role} · {tname} · {p.chrom} ({strand})", 10.5, fill=COLOUR_MUTED))
    where = []
    if p.breakpoint_label:
        where.append(f"breakpoint {p.breakpoint_label}")
    if p.exon:
        where.append(("last exon kept " if p.role == "5" else "first exon kept ") + str(p.exon))
    if p.site:
        where.append(p.site.replace("_", " "))
    out.append(_text(x0, top + 27, " · ".join(where), 10.5, fill=COLOUR_TEXT))
    axis = _axis_for(p, x0, x1)
    if axis is None:
        out.append(_rect(x0, top + 40, x1 - x0, 70, COLOUR_TRACK))
        out.append(_text((x0 + x1) / 2, top + 78, "no gene model or coverage for this partner", 10, "middle", COLOUR_MUTED))
        return out, None
    kept = _kept_x(p, axis) if p.boundary is not None else None
    cov_y, cov_h = top + 40, 46
    ex_y = cov_y + cov_h + 8
    out += coverage_track(p.coverage, axis, cov_y, cov_h, kept, p.colour)
    out += gene_track(p, axis, ex_y)
    if p.domains:
        out += _domain_labels(p, axis, ex_y + 16 + 18)
    if p.boundary is not None:
        out += _breakpoint_marker(axis.x(p.boundary), cov_y - 1, ex_y + 16 + 3)
    return out, axis


def fused_pieces(p5: Partner, p3: Partner) -> list[tuple[Partner, int, int, int]]:
    """(partner, exon number, start, end) of the fused transcript, 5' to 3'."""
    return [(p5, n, s, e) for n, s, e in p5.kept_exons()] + [(p3, n, s, e) for n, s, e in p3.kept_exons()]


def _range_label(gene: str, numbers: list[int]) -> str:
    if not numbers:
        return gene
    if numbers[0] == numbers[-1]:
        return f"{gene} exon {numbers[0]}"
    return f"{gene} exons {numbers[0]}–{numbers[-1]}"


def fused_bar(p5: Partner, p3: Partner, x0: float, x1: float, y: float, h: float = 20,
              junction_note: str = "") -> tuple[list[str], float | None, float | None]:
    """The fused transcript as one bar; returns (svg, junction x, None when empty)."""
    pieces = fused_pieces(p5, p3)
    out: list[str] = []
    if not pieces:
        out.append(_rect(x0, y, x1 - x0, h, COLOUR_TRACK))
        out.append(_text((x0 + x1) / 2, y + h / 2 + 3.5, "fused transcript not drawn: no exon model for a partner",
                         9.5, "middle", COLOUR_MUTED))
        return out, None, None
    widths = Axis._widths([e - s for _, _, s, e in pieces], x1 - x0, 2.0)
    x = x0
    junction = None
    spans: list[tuple[Partner, int, int, int, float, float]] = []
    for (p, n, s, e), w in zip(pieces, widths):
        if p is p3 and junction is None:
            junction = x
        spans.append((p, n, s, e, x, x + w))
        x += w
    if junction is None:
        junction = x
    for p, n, s, e, a, b in spans:
        out.append(_rect(a, y, b - a, h, p.colour, ' stroke="#ffffff" stroke-width="0.6"',
                         f"{p.gene} exon {n}: {p.chrom}:{s + 1}-{e}"))
    # domains on the kept exon parts
    for p, n, s, e, a, b in spans:
        for name, kind, intervals in sorted(p.domains, key=lambda d: d[1] == "kinase"):
            for ds, de in intervals:
                lo, hi = max(s, ds), min(e, de)
                if hi <= lo:
                    continue
                f0, f1 = (lo - s) / (e - s), (hi - s) / (e - s)
                if p.strand == "-":
                    f0, f1 = 1 - f1, 1 - f0
                xa, xb = a + f0 * (b - a), a + f1 * (b - a)
                if kind == "kinase":
                    out.append(_rect(xa, y, xb - xa, h, COLOUR_KINASE, title=f"{p.gene} {name}"))
                else:
                    out.append(_rect(xa, y + h * 0.3, xb - xa, h * 0.4, COLOUR_DOMAIN, title=f"{p.gene} {name}"))
    for p, label_x0, label_x1 in ((p5, x0, junction), (p3, junction, x)):
        numbers = [n for q, n, *_ in spans if q is p]
        if not numbers:
            continue
        label = _range_label(p.gene, numbers) + (" + intronic bases" if p.site == "intronic" else "")
        mid = (label_x0 + label_x1) / 2
        out.append(_text(mid, y + h + 14, label, 11.5, "middle", p.colour, "bold"))
    out += [
        f'<line x1="{_f(junction)}" y1="{_f(y - 8)}" x2="{_f(junction)}" y2="{_f(y + h + 3)}" stroke="{COLOUR_BREAK}" '
        f'stroke-width="2"/>',
    ]
    if junction_note:
        w = text_width(junction_note, 10.5) + 8
        mid = min(max(junction, x0 + w / 2), x1 - w / 2)
        out.append(_rect(mid - w / 2, y - 25, w, 16, "#ffffff", f' stroke="{COLOUR_BREAK}" stroke-width="0.8" rx="2"'))
        out.append(_text(mid, y - 13, junction_note, 10.5, "middle", COLOUR_BREAK, "bold"))
    return out, junction, x


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> list[str]:
    out = []
    for fill, label in items:
        if fill == "break":
            out.append(f'<line x1="{_f(x)}" y1="{_f(y - 9)}" x2="{_f(x)}" y2="{_f(y + 2)}" stroke="{COLOUR_BREAK}" '
                       f'stroke-width="1.6" stroke-dasharray="4 2"/>')
            x += 6
        else:
            out.append(_rect(x, y - 9, 13, 10, fill))
            x += 17
        out.append(_text(x, y, label, 10, fill=COLOUR_MUTED))
        x += text_width(label, 10) + 12
    return out


def fusion_svg(p5: Partner, p3: Partner, junction_note: str = "", label: str = "") -> str:
    """Both partners side by side (5' left, 3' right), coverage above each gene, and the
    fused transcript below, joined to the kept parts by shaded bands."""
    half = (WIDTH - 2 * MARGIN - GAP) / 2
    left = (MARGIN, MARGIN + half)
    right = (MARGIN + half + GAP, WIDTH - MARGIN)
    top = 8.0
    body: list[str] = []
    parts5, axis5 = _panel(p5, left[0], left[1], top)
    parts3, axis3 = _panel(p3, right[0], right[1], top)
    has_domains = any(d[2] for d in p5.domains + p3.domains)
    panel_bottom = top + 40 + 46 + 8 + 16 + (52 if has_domains else 20)
    bar_y = panel_bottom + 52
    bar, junction, bar_end = fused_bar(p5, p3, MARGIN, WIDTH - MARGIN, bar_y, junction_note=junction_note)
    # bands from each kept part down to its share of the fused bar
    if junction is not None and bar_end is not None:
        for p, axis, lo, hi in ((p5, axis5, MARGIN, junction), (p3, axis3, junction, bar_end)):
            if axis is None or hi <= lo or p.boundary is None:
                continue
            k0, k1 = _kept_x(p, axis)
            yt = panel_bottom - 6
            body.append(
                f'<path d="M{_f(k0)},{_f(yt)}L{_f(k1)},{_f(yt)}L{_f(hi)},{_f(bar_y - 1)}L{_f(lo)},{_f(bar_y - 1)}Z" '
                f'fill="{p.colour}" fill-opacity="0.10" stroke="{p.colour}" stroke-opacity="0.35" stroke-width="0.7"/>'
            )
    body += parts5 + parts3 + bar
    legend_y = bar_y + 20 + 36
    items = [(COLOUR_5, "kept 5′ part"), (COLOUR_3, "kept 3′ part"), (COLOUR_LOST, "not in the fusion")]
    drawn = [d for d in p5.domains + p3.domains if d[2]]
    if any(d[1] == "kinase" for d in drawn):
        items.append((COLOUR_KINASE, "kinase domain"))
    if any(d[1] != "kinase" for d in drawn):
        items.append((COLOUR_DOMAIN, "other domain"))
    items.append(("break", "breakpoint"))
    body += _legend(MARGIN, legend_y, items)
    body.append(_text(WIDTH - MARGIN, legend_y + 15, "genes drawn 5′→3′ with introns shortened; "
                      "fused transcript with exons to scale", 10, "end", COLOUR_MUTED))
    return _svg(WIDTH, legend_y + 22, body, label or f"{p5.gene}::{p3.gene} fusion diagram")


def gene_coverage_svg(gene: str, strand: str, chrom: str, transcript: Transcript | None,
                      coverage: GeneCoverage | None, label: str = "") -> str:
    """QC plot of one target gene: depth above its exons, 5' -> 3' left to right."""
    x0, x1 = MARGIN, WIDTH - MARGIN
    p = Partner(gene, "5", strand, chrom, transcript, None, coverage=coverage)
    axis = _axis_for(p, x0, x1)
    body: list[str] = []
    if axis is None:
        body.append(_text(x0, 20, f"{gene}: no coverage data", 10, fill=COLOUR_MUTED))
        return _svg(WIDTH, 30, body, label or f"{gene} coverage")
    body += coverage_track(coverage, axis, 6, 56, None, COLOUR_QC)
    body += gene_track(Partner(gene, "5", strand, chrom, transcript, None, coverage=coverage, fill=COLOUR_QC), axis, 70, 12)
    note = (f"{gene} {transcript.transcript_id}, {chrom} ({'−' if strand == '-' else '+'} strand), 5′→3′ left to right,"
            " introns shortened" if transcript is not None
            else f"{gene}, {chrom}: gene span in transcript orientation (no exon model)")
    body.append(_text(x0, 110, note, 10, fill=COLOUR_MUTED))
    return _svg(WIDTH, 116, body, label or f"{gene} coverage")


def exon_profile_svg(v: "ImbalanceResult", label: str = "") -> str:
    """Bar chart of the mean depth on each exon of a kinase target's reported transcript,
    exon 1 on the left: the 5' part (exons 2 .. split-1) and the 3' part (split .. n-1) in
    their colours with their mean depths as dashed lines, the first and the last exon
    (not measured) grey, a dashed red line before the split exon; under it the verdict."""
    x0, x1 = MARGIN + 34, WIDTH - MARGIN
    top, h = 20.0, 90.0
    depths = v.exon_depths
    n = len(depths)
    body: list[str] = []
    if not n:
        body.append(_text(MARGIN, 20, f"{v.target}: no exon coverage ({v.reason})", 10, fill=COLOUR_MUTED))
        return _svg(WIDTH, 30, body, label or f"{v.target} exon coverage")
    top_value = nice_max(max(max(depths), v.depth3, v.depth5))
    scale = h / top_value
    base = top + h
    step = (x1 - x0) / n
    body.append(_rect(x0, top, x1 - x0, h, COLOUR_TRACK))
    for frac in (0.5, 1.0):
        y = base - frac * h
        body.append(f'<line x1="{_f(x0)}" y1="{_f(y)}" x2="{_f(x1)}" y2="{_f(y)}" stroke="#dfe3e8" stroke-width="0.8"/>')
        body.append(_text(x0 - 4, y + 3.5, f"{frac * top_value:g}", 9, anchor="end", fill=COLOUR_MUTED))
    split = v.split_exon
    for i, d in enumerate(depths, start=1):
        measured = split and 1 < i < n
        fill = (COLOUR_5 if i < split else COLOUR_3) if measured else COLOUR_LOST
        bar = d * scale
        body.append(_rect(x0 + (i - 1) * step + 0.6, base - bar, step - 1.2, bar, fill,
                          title=f"exon {i}: mean depth {d:g}"))
        if i in (1, n) or i == split or (i % 5 == 0 and abs(i - split) > 1 and n - i > 1):
            body.append(_text(x0 + (i - 0.5) * step, base + 11, str(i), 8.5, anchor="middle", fill=COLOUR_MUTED))
    if split and v.ln_ratio is not None:
        for first, last, depth, colour in ((2, split - 1, v.depth5, COLOUR_5), (split, n - 1, v.depth3, COLOUR_3)):
            y = base - depth * scale
            body.append(f'<line x1="{_f(x0 + (first - 1) * step)}" y1="{_f(y)}" x2="{_f(x0 + last * step)}" '
                        f'y2="{_f(y)}" stroke="{colour}" stroke-width="1.4" stroke-dasharray="5 3"/>')
    if split:
        x = x0 + (split - 1) * step
        body.append(f'<line x1="{_f(x)}" y1="{_f(top - 4)}" x2="{_f(x)}" y2="{_f(base + 2)}" stroke="{COLOUR_BREAK}" '
                    f'stroke-width="1.4" stroke-dasharray="4 2"/>')
    body.append(_text(x0 - 4, top - 3, "depth", 9, anchor="end", fill=COLOUR_MUTED))
    body += _legend(x0, base + 28, [(COLOUR_5, f"exons 2-{split - 1}" if split else "5′ part"),
                                    (COLOUR_3, f"exons {split}-{n - 1}" if split else "3′ part"),
                                    (COLOUR_LOST, "first and last exon (not measured)"),
                                    ("break", f"before exon {split}" if split else "split")])
    if v.z is not None:
        words = (f"{v.target} {v.transcript}: 3′/5′ depth {v.ratio:g}x the reference's, z = {v.z:g} against the "
                 f"{v.reference}; verdict: {v.verdict}")
    else:
        words = f"{v.target} {v.transcript}: verdict: {v.verdict}"
    body.append(_text(x0, base + 46, words, 10, fill=COLOUR_TEXT))
    return _svg(WIDTH, base + 54, body, label or f"{v.target} exon coverage")
