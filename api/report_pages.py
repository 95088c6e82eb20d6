"""The evaluation report's tables of one row per target (五 to 九 and the audit note), laid out as PDF pages
with fpdf2: plain striped tables in the system's CJK font, pages numbered on from the opening part.

WeasyPrint lays out the opening (cover, summary, charts, the small tables); a plan of ten thousand targets
has some forty thousand table rows after it, which a browser-grade layout engine takes minutes and gigabytes
to set. Here every row is a few text runs placed at fixed column offsets, wrapped by character widths."""
from __future__ import annotations

import subprocess
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from engine.scoring.report import Report

#: The faces looked for, in order (fontconfig names), and files tried when fontconfig cannot be asked.
FACES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei")
FILES = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
         ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
         ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0))

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 16.0, 18.0, 18.0
WIDTH = PAGE_W - 2 * MARGIN_X
TEXT, MUTED, RED, UNSCORED = (0x1f, 0x29, 0x33), (0x52, 0x60, 0x6d), (0x8c, 0x1c, 0x13), (0xb5, 0x47, 0x08)
STRIPE, HEAD_FILL, RULE = (0xf3, 0xf5, 0xf7), (0xf0, 0xf2, 0xf5), (0x9a, 0xa5, 0xb1)
SIZE, LINE = 9.0, 4.2          # table text in pt, a table line's height in mm
PAD = 1.2                      # cell padding, left and right, in mm


class FontMissing(RuntimeError):
    pass


@cache
def font_file() -> tuple[str, int]:
    """The CJK font's file and its face's index within a collection (.ttc)."""
    for face in FACES:
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}|%{index}|%{family}", face], capture_output=True,
                                   text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            break
        path, _, rest = found.partition("|")
        index, _, family = rest.partition("|")
        if path and Path(path).is_file() and face.split()[0].lower() in family.lower():
            return path, int(index or 0)
    for path, index in FILES:
        if Path(path).is_file():
            return path, index
    raise FontMissing("找不到中文字体（Noto Sans CJK SC）：请安装 fonts-noto-cjk 后再生成 PDF 报告")


@dataclass(frozen=True)
class Cell:
    """A table cell's text, right-aligned for numbers, optionally in a colour."""
    text: str
    right: bool = False
    color: tuple[int, int, int] | None = None


def _number(value: Decimal | float | int | None) -> str:
    """As the HTML template's ``number`` filter writes it."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)).normalize():f}"


def _cut(text: str, length: int) -> str:
    """As jinja2's ``truncate(length, True, "…")`` (with its leeway of 5) cuts it."""
    if len(text) <= length + 5:
        return text
    return text[:length - 1] + "…"


class _Glyphs(dict):
    """Character (its code point) → its code in a font's subset, as ``str.translate`` reads it; a
    character is picked into the subset the first time it is asked for (``None``: the font lacks it,
    and it is left out, as fpdf2 leaves it out)."""

    def __init__(self, subset):
        super().__init__()
        self.subset = subset

    def __missing__(self, code: int) -> str | None:
        picked = self.subset.pick(code)
        value = self[code] = None if picked is None else chr(picked)
        return value


def _cut_lines(text: str, sums: list[int], room: float) -> list[str]:
    """``text`` cut into lines whose widths (``sums``: the running widths of its characters) fit in ``room``;
    a character wider than the room alone on its line."""
    out, start, base = [], 0, 0
    while True:
        end = bisect_right(sums, base + room, lo=start)
        if end >= len(text):
            out.append(text[start:])
            return out
        end = max(end, start + 1)
        out.append(text[start:end])
        start, base = end, sums[end - 1]


def _pages_class():
    from fpdf import FPDF

    from fpdf.util import escape_parens

    class Pages(FPDF):
        def __init__(self, first_page: int):
            super().__init__(orientation="P", unit="mm", format="A4")
            self.first_page = first_page
            self.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
            self.set_auto_page_break(False)
            path, index = font_file()
            self.add_font("cjk", "", path, collection_font_number=index)
            self.set_font("cjk", size=SIZE)
            self.widths = self.current_font.cw
            self.heading_open: tuple | None = None  # the table whose header repeats on a new page
            self.glyphs: dict[str, _Glyphs] = {}

        def runs(self, runs: list[tuple[float, float, str]], color: tuple[int, int, int]) -> None:
            """Text runs (x, baseline y, text) in one text object, in ``color``: a table row costs one
            content-stream write, not one per cell (the state is saved around it, the fill colour kept)."""
            if not self.current_font_is_set_on_page:  # the page's first text sets its font the usual way
                x, y, text = runs[0]
                self.set_text_color(*color)
                self.text(x, y, text)
                runs = runs[1:]
                if not runs:
                    return
            k, h, encode = self.k, self.h, self.encoder()
            r, g, b = color
            ops = [f"q {r / 255:.3f} {g / 255:.3f} {b / 255:.3f} rg BT"]
            ops.extend(f"1 0 0 1 {x * k:.2f} {(h - y) * k:.2f} Tm {encode(text)}" for x, y, text in runs)
            ops.append("ET Q")
            self._out(" ".join(ops))

        def encoder(self):
            """The current font's ``encode_text``, or for the table font the same text operator made with
            one ``str.translate`` per run: each character's code in the font's subset is picked the first
            time it is drawn and then remembered (fpdf2 looks every character up again on every call)."""
            font = self.current_font
            if font.is_symbol or getattr(font, "color_font", None):
                return font.encode_text
            glyphs = self.glyphs.get(font.fontkey)
            if glyphs is None:
                glyphs = self.glyphs[font.fontkey] = _Glyphs(font.subset)

            def encode(text: str) -> str:
                return f"({escape_parens(text.translate(glyphs).encode('utf-16-be').decode('latin-1'))}) Tj"
            return encode

        def footer(self) -> None:
            self.set_font("cjk", size=9)
            self.set_text_color(0x66, 0x66, 0x66)
            label = f"第 {self.page_no() + self.first_page - 1} 页"
            self.text((PAGE_W - self.width_of(label, 9)) / 2, PAGE_H - 9, label)
            self.set_font("cjk", size=SIZE)

    return Pages


class Writer:
    """Lays out blocks of text and tables one after the other, a new page when one is full."""

    def __init__(self, first_page: int):
        self.pdf = _pages_class()(first_page)
        self.pdf.width_of = self.width_of
        self.pdf.add_page()
        self.y = MARGIN_TOP
        self.bottom = PAGE_H - MARGIN_BOTTOM

    # -- measuring and wrapping ---------------------------------------------------------------------------
    def width_of(self, text: str, size: float = SIZE) -> float:
        cw = self.pdf.widths
        return sum(map(cw.__getitem__, map(ord, text))) * size * 0.001 * 25.4 / 72

    def wrap(self, text: str, width: float, size: float = SIZE) -> list[str]:
        """``text`` in lines no wider than ``width`` (mm): cut between any two characters (CJK), but
        between words where a line of Latin text allows."""
        room = width * 72 / 25.4 / size * 1000  # in font units
        cw = self.pdf.widths
        out = []
        if len(text) * 1000 <= room and "\n" not in text:  # no glyph is wider than 1 em: it fits
            return [text]
        for paragraph in text.split("\n"):
            if " " not in paragraph:  # CJK text: cut wherever the running width passes the room
                out.extend(_cut_lines(paragraph, list(accumulate(map(cw.__getitem__, map(ord, paragraph)))), room))
                continue
            if sum(cw[ord(c)] for c in paragraph) <= room:
                out.append(paragraph)
                continue
            line, used, space_at = [], 0.0, -1
            for c in paragraph:
                w = cw[ord(c)]
                if used + w > room and line:
                    if c != " " and 0 < space_at < len(line) - 1 and all(ord(x) < 0x2E80 for x in line[space_at:]):
                        rest = line[space_at + 1:]
                        out.append("".join(line[:space_at]))
                        line, used = rest, sum(cw[ord(x)] for x in rest)
                    else:
                        out.append("".join(line))
                        line, used = [], 0.0
                    space_at = -1
                    if c == " " and not line:
                        continue
                if c == " ":
                    space_at = len(line)
                line.append(c)
                used += w
            out.append("".join(line))
        return out or [""]

    # -- flow ---------------------------------------------------------------------------------------------
    def room(self, height: float) -> None:
        """A new page unless ``height`` still fits on this one."""
        if self.y + height > self.bottom:
            self.pdf.add_page()
            self.y = MARGIN_TOP

    def heading(self, text: str, level: int = 2) -> None:
        size = 13.0 if level == 2 else 11.5
        self.y += 5 if level == 2 else 3
        self.room(size * 0.5 + 2 + 3 * LINE)  # not alone at a page's foot
        pdf = self.pdf
        if level == 2:
            pdf.set_fill_color(*RED)
            pdf.rect(MARGIN_X, self.y, 1.4, size * 0.45, style="F")
        pdf.set_text_color(*TEXT)
        pdf.set_font("cjk", size=size)
        pdf.text(MARGIN_X + (3.2 if level == 2 else 0), self.y + size * 0.36, text)
        pdf.set_font("cjk", size=SIZE)
        self.y += size * 0.45 + 2.5

    def paragraph(self, text: str, *, size: float = SIZE, color=MUTED) -> None:
        pdf, height = self.pdf, size * 0.47
        pdf.set_text_color(*color)
        pdf.set_font("cjk", size=size)
        for line in self.wrap(text, WIDTH, size):
            self.room(height)
            pdf.text(MARGIN_X, self.y + height * 0.78, line)
            self.y += height
        pdf.set_font("cjk", size=SIZE)
        self.y += 1.5

    def table(self, widths: Sequence[float], header: Sequence[str], rows: Iterable[Sequence[Cell | str]]) -> None:
        """A table: column ``widths`` in per cent of the text width, a ``header`` repeated on every page it
        runs onto, rows striped."""
        pdf = self.pdf
        columns = [w * WIDTH / 100 for w in widths]
        starts = [MARGIN_X + sum(columns[:i]) for i in range(len(columns))]
        wrapped_header = [self.wrap(h, c - 2 * PAD) for h, c in zip(header, columns, strict=True)]
        header_height = max(len(h) for h in wrapped_header) * LINE + 1

        def draw_header() -> None:
            pdf.set_fill_color(*HEAD_FILL)
            pdf.rect(MARGIN_X, self.y, WIDTH, header_height, style="F")
            pdf.set_draw_color(*RULE)
            pdf.set_line_width(0.3)
            pdf.line(MARGIN_X, self.y + header_height, MARGIN_X + WIDTH, self.y + header_height)
            pdf.set_text_color(*TEXT)
            for x, lines in zip(starts, wrapped_header, strict=True):
                for n, line in enumerate(lines):
                    pdf.text(x + PAD, self.y + 0.5 + LINE * n + LINE * 0.78, line)
            self.y += header_height

        self.room(header_height + 2 * LINE)
        draw_header()
        pdf.set_fill_color(*STRIPE)
        for index, row in enumerate(rows):
            cells = [c if isinstance(c, Cell) else Cell(c) for c in row]
            laid = [self.wrap(c.text, w - 2 * PAD) if c.text else [] for c, w in zip(cells, columns, strict=True)]
            height = max((len(x) for x in laid), default=1) * LINE + 0.6
            if self.y + height > self.bottom:
                pdf.add_page()
                self.y = MARGIN_TOP
                draw_header()
                pdf.set_fill_color(*STRIPE)
            if index % 2:
                pdf.rect(MARGIN_X, self.y, WIDTH, height, style="F")
            by_color: dict[tuple[int, int, int], list] = {}
            for cell, lines, x, w in zip(cells, laid, starts, columns, strict=True):
                out = by_color.setdefault(cell.color or TEXT, [])
                for n, line in enumerate(lines):
                    at = x + w - PAD - self.width_of(line) if cell.right else x + PAD
                    out.append((at, self.y + 0.3 + LINE * n + LINE * 0.78, line))
            for color, runs in by_color.items():
                if runs:
                    pdf.runs(runs, color)
            self.y += height
        self.y += 2

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _n(value: Any) -> Cell:
    return Cell(_number(value), right=True)


def appendix(report: Report, *, first_page: int) -> bytes:
    """The report from 五、扣分与加分明细 to its end as PDF, its pages numbered from ``first_page``."""
    s, w = report.sheet, Writer(first_page)
    w.heading("五、扣分与加分明细")
    if report.deductions:
        w.table((14, 10, 76), ("编号", "扣分", "理由"),
                ((line.target.code, Cell(str(d["points"]), right=True), str(d["reason"]))
                 for line, d in report.deductions))
    else:
        w.paragraph("无扣分。", color=TEXT)
    if report.bonus:
        w.table((14, 10, 76), ("编号", "加分", "理由"),
                ((line.target.code, Cell(str(b["points"]), right=True), str(b["reason"])) for line, b in report.bonus))
    explained = [line for line in s.lines if line.score_reason]
    if explained:
        w.paragraph("以下目标的得分不等于“权重 − 扣分合计”，绩效办说明了理由：")
        w.table((14, 14, 10, 62), ("编号", "权重 − 扣分", "得分", "得分说明"),
                ((line.target.code, _n(line.by_deductions), _n(line.score), line.score_reason) for line in explained))

    w.heading("六、未完全达成的目标")
    unscored = Cell("未评分", right=True, color=UNSCORED)
    if report.not_met:
        w.table((12, 48, 8, 10, 22), ("编号", "年度目标", "权重", "得分", "未达成的指标"),
                ((line.target.code, _cut(line.target.text, 60), _n(line.target.weight),
                  _n(line.score) if line.scored else unscored, "、".join(line.unmet)) for line in report.not_met))
    else:
        w.paragraph(report.met_statement, color=TEXT)
    if report.rectifications:
        still_open = sum(1 for x in report.rectifications if not x.closed)
        w.heading("整改情况", level=3)
        w.paragraph(f"整改事项 {len(report.rectifications)} 项：未完成 {still_open} 项，已验收 "
                    f"{len(report.rectifications) - still_open} 项。", color=TEXT)
        w.table((12, 12, 46, 14, 16), ("编号", "目标", "整改要求", "期限", "状态"),
                ((x.item.code, x.subject_code, _cut(x.item.text, 60), str(x.item.due_date or ""), x.state_label)
                 for x in report.rectifications))

    w.heading("七、逐项评分")
    w.table((10, 32, 16, 7, 7, 7, 7, 7, 7), ("编号", "年度目标", "责任科室", "权重", "自评分", "得分", "扣分", "指标计分", "状态"),
            ((line.target.code, _cut(line.target.text, 48),
              "、".join(line.parties.sections) + ("（共同）" if line.shared else ""), _n(line.target.weight),
              _n(line.self_score), _n(line.score) if line.scored else unscored,
              _n(line.deducted) if line.deductions else "",
              _n(line.indicator_score) if line.indicator_score is not None else "", line.state_label)
             for line in s.lines))
    bands = "、".join(f"{name}（得分率 ≥ {floor}%）" for floor, name in s.rules["bands"])
    rule = ("按完成比例" if s.rules["indicator_rule"] == "proportional"
            else f"每项未达成扣 {s.rules['fixed_deduction']} 分")
    w.paragraph(f"等级：{bands}。未评分的目标不计入合计；加分计入计划合计，合计不超过 100 分。指标计分规则：{rule}。")

    if report.indicators:
        w.heading("八、量化指标")
        met = {True: "达成", False: "未达成", None: "未报告"}
        if report.leveled:
            w.table((10, 16, 16, 18, 16, 14, 10), ("编号", "一级指标", "二级指标", "三级指标", "指标值", "实际值", "是否达成"),
                    ((i["code"], *(i["levels"] if len(i["levels"]) == 3 else ("", "", i["levels"][0])), i["raw"],
                      i["actual"] or "—", met[i["met"]]) for i in report.indicators))
        else:
            w.table((10, 36, 22, 20, 12), ("编号", "指标", "指标值", "实际值", "是否达成"),
                    ((i["code"], i["levels"][0], i["raw"], i["actual"] or "—", met[i["met"]]) for i in report.indicators))

    if report.ranking:
        w.heading("九、下级单位排名")
        w.paragraph("得分率 = 得分 ÷ 已评分目标的权重；按期完成率 = 已到完成时限的目标中已提交自评的比例；"
                    "逾期数为当前阶段已过期限的目标数。各单位含其下属单位。")
        w.table((8, 32, 10, 10, 14, 14, 12), ("名次", "单位", "目标数", "已评分", "得分率", "按期完成率", "逾期数"),
                ((_n(x.place), x.organisation, _n(x.targets), _n(x.scored),
                  Cell(f"{_number(x.score_rate)}%" if x.score_rate is not None else "—", right=True),
                  Cell(f"{_number(x.on_time_rate)}%" if x.on_time_rate is not None else "—", right=True),
                  _n(x.overdue)) for x in report.ranking))

    c, key = report.checkpoint, report.audit_key
    w.paragraph("审计链：" + (f"最近的签名检查点 {c['length']} 条记录（{c['at']}），指纹 {c['fingerprint']}" if c
                              else "尚无签名检查点") + "；"
                + (f"签名公钥指纹 {key['fingerprint']}" if key else "签名公钥尚未生成") + "。")
    return w.output()
