"""Reading a work-point document in prose (工作要点 / 工作方案): its groups, numbered tasks and phrases.

Such a document has top-level parts (一、指导思想 二、工作目标 三、具体任务), groups inside the task
part (（一）坚持教育情怀，加强师资队伍建设 …) and numbered tasks in them (1.做有教育情怀的教育人。…),
the numbering running on across groups or starting again in each. Inside a task's text stand
the facts a plan needs: responsible units (责任单位：…, 牵头单位, 配合单位), a time (9月底前, 年内)
and quantitative goals (招聘3名…, 覆盖率达到100%, 新增学位2.5万个).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline
from engine.plans.indicators import IndicatorError, parse_indicator

CN_NUMBER = "一二三四五六七八九十"
PART = re.compile(rf"^([{CN_NUMBER}]+)\s*[、.．]\s*(.+)$")
GROUP = re.compile(rf"^[（(]\s*([{CN_NUMBER}]+)\s*[）)]\s*(.+)$")
TASK = re.compile(r"^(\d{1,4})\s*[.．、]\s*(?!\d)(.*)$", re.S)
#: "19加强体卫艺教育。": a number run into the text; taken only when it continues the numbering.
BARE_TASK = re.compile(r"^(\d{1,4})(?=[\u4e00-\u9fff])(?![年月日个所名万亿元届期次号])(.*)$", re.S)
TASK_PART = re.compile(r"具体任务|主要任务|重点任务|工作任务|重点工作|主要工作|工作措施")
ORG_LINE = re.compile(r"^(\S{2,30}?(?:教育局|局|委员会|委|厅|办公室|政府))$")
ORG_NOTICE = re.compile(r"^(\S{2,30}?(?:教育局|局|委员会|厅|政府))关于")

LEAD = r"牵头单位|牵头科室|牵头部门|牵头股室|责任单位|责任科室|责任部门|责任股室"
COOPERATE = r"配合单位|配合科室|配合部门|配合股室|协办单位|协同单位"
UNITS_CLAUSE = re.compile(rf"[（(]?\s*(?P<kind>{LEAD}|{COOPERATE}|分管领导|责任领导|牵头领导|责任人)\s*[:：]\s*"
                          r"(?P<names>[^；;。）)\n]+)\s*[；;]?\s*[）)]?")
NAMES = re.compile(r"[、，,\s/]+")
DEADLINE = re.compile(r"(?:20\d{2}年)?\d{1,2}月(?:\d{1,2}日前|底前|底|末|上旬|中旬|下旬)|年底前|年内")
UNIT = r"(?:万|亿)?(?:个|所|名|人次|人|元|平方米|%|％|场|项|间|套|次|家|支|批|本|堂|节|课时|学时|条|台|座|张|户|件|篇)"
QUANTITY = re.compile(rf"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>{UNIT})(?P<suffix>及以上|以上|以内)?")
LEADING = re.compile(r"^(?:力争|确保|全年|进一步|继续|计划|全面|并|和|及|与|共)+")
TRAILING_REACH = re.compile(r"(?:达到|保持在|提高到|提升到|增加到|为|达|至)$")
COMPARATOR_WORDS = re.compile(r"(不少于|不低于|不超过|不高于|超过|高于|低于|至少)$")
CLAUSE_BREAK = re.compile(r"[，,、；;。：:（）()“”\"《》\s]")


@dataclass
class Task:
    """One numbered task: where it stands (group, number) and its whole text."""

    group_index: int  # 1-based; 0 when the document has no groups
    group: str  # the group heading without its numbering
    number: int
    text: str
    line: int  # the task's line (paragraph) in the document, 1-based


@dataclass
class WorkPoints:
    title: str
    org: str
    year: int | None
    tasks: list[Task] = field(default_factory=list)


def read_lines(data: bytes, filename: str) -> list[str]:
    """The document's paragraphs: a .docx's (tables left out) or a .txt's lines (UTF-8 or GB18030)."""
    from engine.plans.table import PlanFileError

    if filename.lower().endswith(".docx"):
        from engine.plans.word import open_docx, paragraphs

        return paragraphs(open_docx(data, filename))
    if not filename.lower().endswith(".txt"):
        raise PlanFileError(f"{filename}：工作要点应为 .docx 或 .txt 文件")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    raise PlanFileError(f"{filename}：无法识别文件编码（支持 UTF-8 与 GB18030）")


def work_points(lines: list[str]) -> WorkPoints:
    """The title, issuing unit, year and numbered tasks of a work-point document."""
    from engine.plans.word import document_title

    numbered = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
    title = document_title([line for _, line in numbered])
    year = re.search(r"(20\d{2})\s*年", title)
    org = next((m.group(1) for _, line in numbered for m in [ORG_LINE.match(line) or ORG_NOTICE.match(line)] if m), "")
    body = _task_part(numbered)
    grouped = any(GROUP.match(line) for _, line in body)
    tasks: list[Task] = []
    group_index, group, last = 0, "", 0
    for number, line in body:
        heading = GROUP.match(line) if grouped else PART.match(line)
        if heading:
            group_index, group = group_index + 1, heading.group(2).strip()
            continue
        found = TASK.match(line) or _bare(line, last)
        if found:
            last = int(found.group(1))
            tasks.append(Task(group_index, group, last, found.group(2).strip(), number))
        elif tasks and tasks[-1].group_index == group_index and not PART.match(line):
            tasks[-1].text += "\n" + line  # a task may run over several paragraphs
    return WorkPoints(title, org, int(year.group(1)) if year else None, tasks)


def _bare(line: str, last: int) -> re.Match | None:
    found = BARE_TASK.match(line)
    return found if found and int(found.group(1)) == last + 1 else None


def _task_part(numbered: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lines of the part that holds the tasks (三、具体任务), or the whole document if none is named."""
    parts = [i for i, (_, line) in enumerate(numbered) if PART.match(line) and not GROUP.match(line)]
    for at, index in enumerate(parts):
        if TASK_PART.search(numbered[index][1]):
            end = parts[at + 1] if at + 1 < len(parts) else len(numbered)
            return numbered[index + 1:end]
    return numbered


def first_sentence(text: str) -> tuple[str, str]:
    """The first sentence (without its 。) and the rest of the text."""
    head, mark, rest = text.partition("。")
    if not mark:
        return text.strip(), ""
    return head.strip(), rest.strip()


def units(text: str) -> tuple[dict[str, list[str]], str]:
    """Names after 责任单位：/牵头单位：/配合单位：/分管领导：/责任人：, and the text without those clauses."""
    found: dict[str, list[str]] = {"sections": [], "leaders": [], "persons": []}
    for match in UNITS_CLAUSE.finditer(text):
        kind = match["kind"]
        key = "leaders" if "领导" in kind else "persons" if kind == "责任人" else "sections"
        names = [n for n in NAMES.split(match["names"].strip()) if n]
        found[key] += [n for n in names if n not in found[key]]
    rest = UNITS_CLAUSE.sub("", text).strip()
    return found, re.sub(r"[（(]\s*[）)]", "", rest).strip()


def deadline(text: str, year: int) -> str:
    """The first time phrase in the text that reads as a deadline (9月底前, 6月30日前, 年内), or ""."""
    for match in DEADLINE.finditer(text):
        phrase = match.group(0)
        if phrase.endswith("底"):
            phrase += "前"
        try:
            parse_deadline(phrase, year)
        except DeadlinePhraseError:
            continue
        return phrase
    return ""


def quantities(text: str, year: int) -> list[tuple[str, str]]:
    """Quantitative goals in the text as (name, value) indicators: 招聘3名新教师 → (招聘新教师, 3名)."""
    out: list[tuple[str, str]] = []
    for match in QUANTITY.finditer(text):
        before = CLAUSE_BREAK.split(text[:match.start()])[-1]
        if re.search(r"[\d第]$", before) or re.match(r"^[年月日号]", text[match.end():]):
            continue  # part of a date, an ordinal (第3项) or a longer number
        after = CLAUSE_BREAK.split(text[match.end():])[0] if not match["suffix"] else ""
        comparator = COMPARATOR_WORDS.search(before)
        before = COMPARATOR_WORDS.sub("", before)
        before = TRAILING_REACH.sub("", LEADING.sub("", before) or before)
        name = (before + (after if len(after) <= 15 and not re.search(r"\d", after) else ""))[-30:]
        if len(name) < 2:
            continue
        value = (comparator.group(1) if comparator else "") + match["number"] + match["unit"].replace("％", "%") + \
            (match["suffix"] or "")
        try:
            parse_indicator(value, year)
        except IndicatorError:
            continue
        taken = {n for n, _ in out}
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}（{n}）", n + 1
        out.append((unique, value))
    return out
