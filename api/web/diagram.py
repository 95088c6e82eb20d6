"""A workflow definition drawn as an inline SVG state diagram.

The drawing is self-contained: no scripts, no external fonts or images, colours given as
presentation attributes so it reads without any stylesheet. Classes (``state``, ``current``,
``final``, ``edge``, ``back``, ``loop``) are hooks for a page's CSS. Every text goes through
ElementTree, which escapes it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.workflow.definitions import Definition
from engine.workflow.layout import EDGE_FONT, NAME_FONT, STATE_FONT, Box, Edge, Layout
from engine.workflow.layout import layout as make_layout

SVG_NS = "http://www.w3.org/2000/svg"
FONTS = "PingFang SC, Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"
INK, EDGE_INK, BACK_INK = "#1f2937", "#475569", "#b45309"
FILL, FINAL_FILL, CURRENT_FILL, CURRENT_STROKE = "#f1f5fb", "#eef7ee", "#fde68a", "#b45309"
STROKE = "#3b5b92"


def _fmt(value: float) -> str:
    """Numbers without a trailing ``.0``, so the markup stays short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str | float) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): _fmt(v) if isinstance(v, float | int)
                                          else v for k, v in attrs.items()})
    element.text = text
    return element


def _defs(root: ET.Element, prefix: str) -> None:
    defs = _sub(root, "defs")
    for name, colour in (("arrow", EDGE_INK), ("arrow-back", BACK_INK)):
        marker = _sub(defs, "marker", id=f"{prefix}-{name}", viewBox="0 0 10 10", refX=9.0, refY=5.0,
                      markerWidth=8.0, markerHeight=8.0, orient="auto-start-reverse", markerUnits="userSpaceOnUse")
        _sub(marker, "path", d="M0,0 L10,5 L0,10 z", fill=colour)


def _text(parent: ET.Element, text: str, x: float, y: float, size: float, **attrs: str) -> None:
    # Baseline a third of the font size below the centre: dominant-baseline is not honoured everywhere.
    _sub(parent, "text", text, x=x, y=y + size * 0.35, font_size=size, text_anchor="middle", **attrs)


def _box(root: ET.Element, box: Box, current: bool, prefix: str) -> None:
    classes = " ".join(["state"] + (["final"] if box.final else []) + (["current"] if current else []))
    group = _sub(root, "g", class_=classes, id=f"{prefix}-state-{box.name}")
    fill = CURRENT_FILL if current else FINAL_FILL if box.final else FILL
    stroke, width = (CURRENT_STROKE, 2.5) if current else (STROKE, 1.5)
    _sub(group, "rect", x=box.x, y=box.y, width=box.width, height=box.height, rx=8.0, fill=fill,
         stroke=stroke, stroke_width=width)
    if box.final:  # a double border, as in UML state charts
        _sub(group, "rect", x=box.x + 4, y=box.y + 4, width=box.width - 8, height=box.height - 8, rx=5.0,
             fill="none", stroke=stroke, stroke_width=1.0)
    cx = box.center[0]
    _text(group, box.label, cx, box.y + box.height / 2 - 7, STATE_FONT, fill=INK,
          font_weight="bold" if current else "normal")
    _text(group, box.name, cx, box.y + box.height / 2 + 12, NAME_FONT, fill="#64748b")


def _start(root: ET.Element, box: Box, prefix: str) -> None:
    """The initial state's marker: a filled dot with an arrow into the box."""
    cx, cy = box.x - 30, box.center[1]
    group = _sub(root, "g", class_="initial")
    _sub(group, "circle", cx=cx, cy=cy, r=6.0, fill=INK)
    _sub(group, "path", d=f"M{_fmt(cx + 6)},{_fmt(cy)} L{_fmt(box.x)},{_fmt(cy)}", fill="none", stroke=INK,
         stroke_width=1.5, marker_end=f"url(#{prefix}-arrow)")


def _edge(root: ET.Element, edge: Edge, prefix: str) -> None:
    classes = " ".join(["edge"] + (["back"] if edge.back else []) + (["loop"] if edge.loop else []))
    group = _sub(root, "g", class_=classes)
    _sub(group, "title", f"{edge.trigger}: {edge.source} → {edge.dest}")
    colour = BACK_INK if edge.back else EDGE_INK
    d = " ".join(f"{'M' if i == 0 else 'L'}{_fmt(x)},{_fmt(y)}" for i, (x, y) in enumerate(edge.points))
    _sub(group, "path", d=d, fill="none", stroke=colour, stroke_width=1.5, stroke_linejoin="round",
         marker_end=f"url(#{prefix}-{'arrow-back' if edge.back else 'arrow'})")
    # An opaque backing, so a label on its own line (or one crossing it) stays legible.
    _sub(group, "rect", x=edge.label_x - edge.label_width / 2, y=edge.label_y - edge.label_height / 2,
         width=edge.label_width, height=edge.label_height, rx=3.0, fill="#ffffff", fill_opacity="0.92")
    _text(group, edge.label, edge.label_x, edge.label_y, EDGE_FONT, fill=colour)


def svg(definition: Definition, *, current: str | None = None, english: bool = False,
        layout: Layout | None = None) -> str:
    """The definition as an inline ``<svg>`` element; ``current`` names the state to highlight.

    Labels are Chinese, or English where the definition has them when ``english`` is set. A
    ``layout`` passed in is drawn as it is (it should be made with the same ``english``).
    """
    drawn = layout or make_layout(definition, english=english)
    title = (definition.label_en or definition.label) if english else definition.label
    prefix = f"kp-{definition.id}"
    root = ET.Element("svg", {
        "xmlns": SVG_NS, "viewBox": f"0 0 {_fmt(drawn.width)} {_fmt(drawn.height)}",
        "width": _fmt(drawn.width), "height": _fmt(drawn.height), "role": "img", "aria-label": title,
        "class": "workflow-diagram", "font-family": FONTS, "style": "max-width:100%;height:auto",
    })
    _sub(root, "title", title)
    _defs(root, prefix)
    for edge in drawn.edges:
        _edge(root, edge, prefix)
    for name, box in drawn.boxes.items():  # boxes over edges, so line ends tuck under the border
        _box(root, box, name == current, prefix)
    initial = drawn.boxes.get(definition.initial)
    if initial is not None:
        _start(root, initial, prefix)
    return ET.tostring(root, encoding="unicode")
