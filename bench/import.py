"""Import benchmark: time and peak memory to import a generated 10,000-target plan.

    python bench/import.py [--targets 10000] [--pg postgresql://postgres@127.0.0.1:5432/test]
        [--document-targets 1000]

The plan is written as .xlsx and .csv in the assessment table's layout (10 categories, 100
indicators, names lists in cells); each import runs in a fresh process on a fresh database.
The documents are a Word plan of ``--document-targets`` targets (the same table, merged
categories and indicators, cells with several lines), imported like the others, and a
work-point document in prose with as many numbered tasks (10 groups), drafted into the
draft table (.xlsx) in a fresh process (no database).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from _shared import fresh_database  # noqa: E402
from engine.plans import importer, table as planfile, service  # noqa: E402
from engine.people.actors import Actor  # noqa: E402
from engine.store.db import make_engine  # noqa: E402

HEADER = ["编号", "类别", "一级指标", "依据", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人"]
SECTIONS = ["规划科", "办公室", "组织科", "中教科", "思政科", "教师科", "高教科", "督导科", "初幼教科", "职教科"]
LEADERS = ["林长华", "李自坚", "庄映峰", "徐昌裕", "蔡玉霖"]
PHRASES = ["12月底前", "11月底前", "10月底前", "6月30日前", "长期", "10-11月份"]


def rows(count: int) -> list[list[str]]:
    """``count`` targets whose weights add up to exactly 100 (in hundredths)."""
    categories, indicators = 10, 100
    per_indicator = count // indicators
    out = []
    hundredths = [10000 // count] * count
    for i in range(10000 - sum(hundredths)):
        hundredths[i] += 1
    for n in range(count):
        c, i = n // (count // categories), n // per_indicator
        first_of_indicator, first_of_category = n % per_indicator == 0, n % (count // categories) == 0
        weights = hundredths[c * (count // categories):(c + 1) * (count // categories)]
        iweights = hundredths[i * per_indicator:(i + 1) * per_indicator]
        s = n % len(SECTIONS)
        out.append([
            f"{c + 1}-{i + 1}-{n + 1}",
            f"类别{c + 1}（{sum(weights) / 100:g}分）" if first_of_category else "",
            f"一级指标{i + 1}（{sum(iweights) / 100:g}分）" if first_of_indicator else "",
            f"依据文件{i + 1}号" if first_of_indicator else "",
            f"第{n + 1}项年度目标：按计划推进重点工作，完成年度任务。",
            f"{hundredths[n] / 100:g}",
            PHRASES[n % len(PHRASES)],
            "\n".join(LEADERS[(n + k) % len(LEADERS)] for k in range(1 + n % 2)),
            "\n".join(SECTIONS[(s + k) % len(SECTIONS)] for k in range(1 + n % 3)),
            "\n".join(f"责任人{(s + k) % len(SECTIONS)}" for k in range(1 + n % 3)),
        ])
    return out


def write_files(count: int, folder: Path) -> dict[str, Path]:
    from openpyxl import Workbook

    data = rows(count)
    csv_path = folder / "bench-2024.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(data)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("考评表")
    sheet.append(["基准单位2024年度绩效目标考评表"])
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    xlsx_path = folder / "bench-2024.xlsx"
    book.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def write_documents(count: int, folder: Path) -> dict[str, Path]:
    """A Word plan (merged 类别/一级指标/依据, multi-line cells) and a prose work-point document."""
    from tests.engine.plans import docmaker

    data = rows(count)
    body = [HEADER] + data
    merge = [(c, a + 1, b + 1) for c, a, b in docmaker.merge_runs(data, (1, 2, 3))]
    word = folder / "bench-2024.docx"
    word.write_bytes(docmaker.docx_bytes(before=["基准单位2024年度绩效工作方案"],
                                         tables=[{"rows": body, "merge": merge, "paragraph_columns": {7}}]))
    groups, lines = 10, ["基准区教育局", "基准区2024年教育工作要点", "一、指导思想", "坚持立德树人。", "二、具体任务"]
    for g in range(groups):
        lines.append(f"（{'一二三四五六七八九十'[g]}）第{g + 1}组重点工作")
        for n in range(g * (count // groups) + 1, (g + 1) * (count // groups) + 1):
            lines.append(f"{n}.推进第{n}项工作。9月底前新增学位{n}个，覆盖率达到100%，招聘3名教师。"
                         f"（牵头单位：{SECTIONS[n % len(SECTIONS)]}；配合单位：{SECTIONS[(n + 1) % len(SECTIONS)]}）")
    prose = folder / "bench-2024-要点.docx"
    prose.write_bytes(docmaker.docx_bytes(before=lines))
    return {"docx": word, "draft": prose}


def child_draft(path: str) -> dict:
    """In a fresh process: read a prose document, draft its table and write the draft .xlsx."""
    from engine.plans import draft as drafts

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    found = drafts.from_document(Path(path).read_bytes(), Path(path).name)
    drafted = time.perf_counter()
    data = drafts.write_xlsx(found)
    written = time.perf_counter()
    return {"targets": len(found.rows), "read_validate_s": drafted - started, "write_s": written - drafted,
            "total_s": written - started, "baseline_mib": baseline, "bytes": len(data),
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(url: str, path: str) -> dict:
    """In a fresh process: read, validate and write the plan; time each part; peak memory (max RSS)."""
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    table = planfile.read(Path(path).read_bytes(), Path(path).name)
    draft = importer.parse(table, Path(path).name, org="基准单位")
    assert not draft.errors, draft.errors[:3]
    parsed = time.perf_counter()
    bind = make_engine(url)
    with Session(bind) as session:
        result = service.apply(session=session, draft=draft, actor=Actor("基准", frozenset({"admin"})))
    written = time.perf_counter()
    bind.dispose()
    return {"targets": result.created, "read_validate_s": parsed - started, "write_s": written - parsed,
            "total_s": written - started, "baseline_mib": baseline,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--document-targets", type=int, default=1_000)
    parser.add_argument("--formats", default="xlsx,csv,docx,draft")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"))
    parser.add_argument("--child-draft", metavar="FILE")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.child_draft:
        print(json.dumps(child_draft(args.child_draft)))
        return
    folder = Path(tempfile.mkdtemp(prefix="kaoping-import-bench-"))
    formats = args.formats.split(",")
    files = {**(write_files(args.targets, folder) if {"xlsx", "csv"} & set(formats) else {}),
             **(write_documents(args.document_targets, folder) if {"docx", "draft"} & set(formats) else {})}
    files = {fmt: path for fmt, path in files.items() if fmt in formats}
    if "draft" in files:
        out = subprocess.run([sys.executable, __file__, "--child-draft", str(files.pop("draft"))], capture_output=True,
                             text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout)
        print(f"draft   docx: {r['targets']:,} numbered tasks drafted in {r['total_s']:.1f} s (read+draft "
              f"{r['read_validate_s']:.1f} s, write .xlsx {r['write_s']:.1f} s, {r['bytes'] / 1024:.0f} KiB); "
              f"peak memory (max RSS) {r['maxrss_mib']:.0f} MiB")
    for kind in args.backends.split(","):
        for fmt, path in files.items():
            url = fresh_database(kind, args.pg)
            out = subprocess.run([sys.executable, __file__, "--child", url, str(path)], capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(out.stderr)
            r = json.loads(out.stdout)
            print(f"{kind:8} {fmt:4}: {r['targets']:,} targets in {r['total_s']:.1f} s "
                  f"(read+validate {r['read_validate_s']:.1f} s, write {r['write_s']:.1f} s); "
                  f"peak memory (max RSS) {r['maxrss_mib']:.0f} MiB, {r['maxrss_mib'] - r['baseline_mib']:.0f} MiB above the "
                  f"process before the import")


if __name__ == "__main__":
    main()
