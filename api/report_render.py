"""Drawing the evaluation report: charts (matplotlib, SVG, offline), the HTML page and the PDF (WeasyPrint)."""
from __future__ import annotations

import gc
import io
from functools import cache, lru_cache

from engine.scoring.report import Report

FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
RED, BLUE, GREY = "#8c1c13", "#1d4e89", "#9aa5b1"


@cache
def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")  # no display; figures are drawn to SVG text
    matplotlib.rcParams.update({"font.family": "sans-serif", "font.sans-serif": FONTS, "svg.fonttype": "none",
                                "axes.unicode_minus": False, "font.size": 10})
    from matplotlib.figure import Figure

    return Figure


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: drop the XML declaration and doctype


def _plain(text: str) -> str:
    """A person's text as a chart label: ``$`` escaped, so that matplotlib never reads it as mathtext."""
    return text.replace("$", r"\$")


def charts(report: Report) -> dict[str, str]:
    """Three charts as inline SVG: score rate by section, targets by state, overdue and supervised by month.

    Drawn once per version of the data they show (the same figures give the same charts)."""
    sections = tuple((s.name, float(s.rate)) for s in report.sheet.sections if s.rate is not None)
    return dict(_drawn(sections, tuple(report.states), tuple(report.months), report.overdue_now))


@lru_cache(maxsize=16)
def _drawn(sections: tuple[tuple[str, float], ...], states: tuple[tuple[str, int], ...],
           months: tuple[tuple[str, int | None, int], ...], overdue_now: int) -> tuple[tuple[str, str], ...]:
    figure_class = _matplotlib()
    out = {}
    fig = figure_class(figsize=(7, max(2.2, 0.28 * len(sections) + 1)))
    ax = fig.add_subplot()
    if sections:
        names = [_plain(name) for name, _ in sections][::-1]
        ax.barh(names, [rate for _, rate in sections][::-1], color=BLUE)
        ax.set_xlim(0, 100)
    else:
        ax.text(0.5, 0.5, "尚无已评分的目标", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("得分率（%）")
    ax.set_title("各科室得分率")
    out["sections"] = _svg(fig)

    fig = figure_class(figsize=(7, 2.8))
    ax = fig.add_subplot()
    labels, counts = zip(*states, strict=True)
    bars = ax.bar(labels, counts, color=GREY)
    ax.bar_label(bars)
    ax.set_title("目标状态分布")
    ax.set_ylabel("目标数")
    _counts(ax)
    out["states"] = _svg(fig)

    fig = figure_class(figsize=(7, 2.8))
    ax = fig.add_subplot()
    labels = [m for m, _, _ in months]
    # A month not yet ended has no count: a gap in the line, not a zero.
    ax.plot(labels, [float("nan") if o is None else o for _, o, _ in months], marker="o", color=RED,
            label="月末逾期")
    ax.plot(labels, [s for _, _, s in months], marker="s", color=BLUE, label="新增督办")
    ax.set_title(f"各月末逾期与新增督办（当前逾期 {overdue_now} 项）")
    ax.set_ylabel("目标数")
    ax.legend()
    ax.tick_params(axis="x", labelrotation=45)
    _counts(ax)
    out["months"] = _svg(fig)
    return tuple(out.items())


def _counts(ax) -> None:
    """Counts are whole numbers, from zero."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max(1, ax.get_ylim()[1]))


def _explained(report: Report) -> list:
    """The lines whose score the office explained (it is not 权重 − 扣分合计)."""
    return [line for line in report.sheet.lines if line.score_reason]


#: The part of the report WeasyPrint lays out in the PDF: the opening, up to the per-target tables.
OPENING = {"head": (0, 0)}


def html(report: Report, *, standalone: bool = True, part: dict[str, tuple[int, int]] | None = None,
         first_page: int = 1) -> str:
    """The report as an HTML document (``standalone``: with its own styles, for the PDF and downloads;
    ``part``: only the blocks it names, each with the slice of its rows, e.g. :data:`OPENING`; its pages
    numbered from ``first_page``)."""
    from api.web.render import templates

    from engine.scoring.report import grade_label, scored_share

    def at(name: str) -> bool:
        return part is None or name in part

    def rows(name: str, items: list) -> list:
        return items if part is None else items[slice(*part[name])]

    def opening(name: str) -> bool:
        return part is None or part[name][0] == 0

    def closing(name: str, items: list) -> bool:
        return part is None or part[name][1] >= len(items)

    template = templates.env.get_template("report.html")
    return template.render(r=report, s=report.sheet, charts=charts(report) if at("head") else {},
                           standalone=standalone, grade_label=grade_label, scored_share=scored_share,
                           explained=_explained(report), at=at, rows=rows, opening=opening, closing=closing,
                           first_page=first_page)


def pdf(report: Report) -> bytes:
    """The report as PDF, Chinese text set in the system's CJK fonts: the opening (一 to 四: summary,
    charts, the small tables) laid out by WeasyPrint, the tables of one row per target after it
    (:mod:`api.report_pages`, fpdf2) numbered on from its last page; the two joined into one file (pypdf)."""
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    from api.report_pages import appendix

    opening = PdfReader(io.BytesIO(HTML(string=html(report, part=OPENING)).write_pdf()))
    # WeasyPrint's boxes refer to each other: freed only by the cycle collector, which with the report's
    # many long-lived objects would wait long. Collected here, their memory serves the tables next.
    gc.collect()
    rest = PdfReader(io.BytesIO(appendix(report, first_page=len(opening.pages) + 1)))
    writer = PdfWriter()
    writer.append(opening)
    writer.append(rest)
    writer.add_metadata({"/Title": f"绩效评估报告 · {report.sheet.plan.title}"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
