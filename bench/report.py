"""Report benchmark: build the PDF and the xlsx of a 10,000-target plan, every target scored.

    python bench/report.py [--targets 10000] [--worst]

The plan is imported from a generated table (bench/import.py's generator), then every target is
set to ``scored`` with a score and a deduction written straight to the database (the lifecycle
itself is measured by bench/engine.py). Each file is then made in a fresh process of its own
(``--render pdf|xlsx --db FILE``), which prints its time and its peak memory: what making that file
takes, apart from building the plan.

``--worst``: the report at its longest. Every target has a text of some 200 characters, is scored
below its weight with two deductions, a bonus and an explained score (得分说明), has three
quantitative indicators (三级指标) none of them met, and has a rectification item (整改): every target
is in every per-target table (五 to 八). The PDF is then read back with ``pdftotext`` and checked: every
target's code, deduction reasons, indicators and rectification item are in it, in the right section.
"""
from __future__ import annotations

import argparse
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from api import report_render  # noqa: E402
from engine.audit import chain  # noqa: E402
from engine.calendar import clock
from engine.plans import importer, table as planfile, service
from engine.scoring import report
from engine.store import schema
from engine.people.actors import Actor  # noqa: E402
from engine.store.db import make_engine  # noqa: E402


def _generator():
    spec = importlib.util.spec_from_file_location("bench_import", Path(__file__).with_name("import.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--worst", action="store_true", help="every target not met, with indicators, long texts")
    parser.add_argument("--render", choices=("pdf", "xlsx"), help="only make this file from the plan in --db")
    parser.add_argument("--db", type=Path, help="the SQLite file of a plan built before (with --render)")
    args = parser.parse_args()
    if args.render:
        return _render(args.render, args.db)
    folder = Path(tempfile.mkdtemp(prefix="kaoping-report-"))
    files = _generator().write_files(args.targets, folder)
    url = f"sqlite:///{folder / 'report.db'}"
    schema.upgrade(url)
    bind = make_engine(url)
    with Session(bind) as session:
        draft = importer.parse(planfile.read(files["csv"].read_bytes(), files["csv"].name), files["csv"].name, org="基准单位")
        service.apply(session=session, draft=draft, actor=Actor("基准", frozenset({"admin"})))
        if args.worst:
            _worst(session)
        else:
            _scored(session)
        session.commit()
    bind.dispose()
    case = "every target not met, with indicators and a rectification item" if args.worst else "all scored"
    print(f"{args.targets:,} targets, {case} (wall s / CPU s; peak memory of the process making the file):")
    for fmt in ("pdf", "xlsx"):
        subprocess.run([sys.executable, __file__, "--render", fmt, "--db", str(folder / "report.db")], check=True)
    if args.worst:
        _check(folder / "report.pdf", make_engine(url))


def _scored(session: Session) -> None:
    """Every target scored at 90% of its weight, one deduction."""
    session.execute(text("UPDATE target SET state = 'scored', score = round(weight * 0.9, 2)"))
    # One score record per target, as the score transition leaves it (the sheet reads deductions from it).
    now = clock.to_db(clock.now())
    rows = session.execute(text("SELECT id, weight FROM target ORDER BY id")).all()
    for target_id, weight in rows:
        chain.append(session, target_id=target_id, kind="transition", actor="绩效办", role="office", trigger="score",
                     from_state="verified", to_state="scored", at=now, comment="",
                     payload={"score": round(float(weight) * 0.9, 2),
                              "deductions": [{"points": round(float(weight) * 0.1, 2), "reason": "进度滞后"}]})


#: The worst case's long texts, each made distinct by the target's number.
LONG_TEXT = ("围绕全市教育高质量发展总体部署，统筹推进学前教育普及普惠、义务教育优质均衡、普通高中多样化特色发展，"
             "完善教师队伍建设长效机制，深化教育评价改革，健全学校安全风险防控体系，推动数字化赋能教育教学，"
             "确保各项民生实事按时保质完成，群众满意度持续提升，形成可复制可推广的经验做法并按要求报送总结材料")
REASON = "年度重点任务推进滞后，第{n}项未按期完成阶段性节点，相关佐证材料不完整，经绩效办复核确认扣分"


def _indicators(n: int) -> list[tuple[str, str]]:
    """Target n's three indicators (指标值, 实际值), none met, each value its own (nothing to cache)."""
    return [(f"≥{500 + n}个", f"{300 + n // 2}个"), (f"≥{90 + n % 9}.5%", f"{80 + n % 9}.5%"), (f"≤{n % 5 + 1}次", f"{n % 5 + 7}次")]


def _worst(session: Session) -> None:
    """Every target at its longest: a long text, scored below its weight with two deductions, a bonus and
    an explained score, three quantitative indicators none of them met, and an open rectification item."""
    now = clock.to_db(clock.now())
    rows = session.execute(text("SELECT id, code, weight FROM target WHERE workflow = 'target' ORDER BY id")).all()
    session.execute(text("UPDATE target SET text = :text, state = 'scored', score = :score WHERE id = :id"),
                    [{"id": i, "text": f"第{n}项：{LONG_TEXT}"[:200], "score": round(float(w) * 0.6, 2)}
                     for n, (i, _, w) in enumerate(rows, start=1)])
    session.execute(text("INSERT INTO indicator (target_id, position, name, raw, actual) "
                         "VALUES (:target_id, :position, :name, :raw, :actual)"),
                    [{"target_id": i, "position": k, "raw": raw, "actual": actual,
                      "name": f"一级指标{n % 10 + 1}/二级指标{k + 1}：重点任务完成情况/三级指标{n}-{k + 1}：年度任务完成量"}
                     for n, (i, _, _) in enumerate(rows, start=1) for k, (raw, actual) in enumerate(_indicators(n))])
    # One rectification item per target, as the office gives it (engine.scoring.rectification.open_item).
    session.execute(text(
        "INSERT INTO target (plan_id, org_id, rollup, workflow, workflow_version, code, category, indicator, basis, text, "
        "weight, deadline_phrase, due_date, state, state_entered_at, state_due, entry, escalation_level, version, "
        "supervised, progress, created_at, updated_at, extra_columns, checkpoints, supervised_against, subject_id, "
        "risk_level, risk_reason) "
        "SELECT plan_id, org_id, '', 'rectification', 1, '整改-' || code || '-1', '整改事项', '', '', "
        "'目标 ' || code || '整改：' || substr(text, 1, 80), 0, '12月31日前', due_date, 'open', :now, due_date, 1, 0, 1, "
        "false, 0, :now, :now, '{}', '[]', '[]', id, 0, '' FROM target WHERE workflow = 'target'"), {"now": now})
    for n, (target_id, _, weight) in enumerate(rows, start=1):
        w = float(weight)
        chain.append(session, target_id=target_id, kind="transition", actor="绩效办", role="office", trigger="score",
                     from_state="verified", to_state="scored", at=now, comment="",
                     payload={"score": round(w * 0.6, 2),
                              "deductions": [{"points": round(w * 0.25, 2), "reason": REASON.format(n=n)},
                                             {"points": round(w * 0.1, 2), "reason": f"量化指标未达成（第{n}项）"}],
                              "bonus": [{"points": 0.01, "reason": f"第{n}项获省级表彰加分"}],
                              "score_reason": f"第{n}项综合考虑指标完成程度与整改情况，按权重的六成计分"})


def _check(pdf: Path, bind) -> None:
    """The worst case's PDF read back as text (``pdftotext -raw``, the order the pages were written in; all
    white space removed, so that a cell's text wrapped over several lines reads as one): every target, in
    every per-target section, by the words that name that target alone."""
    import re

    with Session(bind) as session:
        codes = [c for (c,) in session.execute(text("SELECT code FROM target WHERE workflow = 'target' ORDER BY id"))]
    bind.dispose()
    found = re.sub(r"\s+", "", subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True,
                                              check=True).stdout)
    titles = ["五、扣分与加分明细", "六、未完全达成的目标", "整改情况", "七、逐项评分", "八、量化指标", "审计链："]
    parts = {title: found[found.index(title):found.index(after, found.index(title))]
             for title, after in zip(titles, titles[1:], strict=False)}
    expected = {
        "五、扣分与加分明细": lambda n, code: [f"第{n}项未按期完成", f"量化指标未达成（第{n}项）", f"第{n}项获省级表彰加分",
                                         f"第{n}项综合考虑指标完成程度"],
        "六、未完全达成的目标": lambda n, code: [f"{code}第{n}项：围绕"] + [f"三级指标{n}-{k}：年度任务完成量" for k in (1, 2, 3)],
        "整改情况": lambda n, code: [f"目标{code}整改：第{n}项"],
        "七、逐项评分": lambda n, code: [f"{code}第{n}项：围绕"],
        "八、量化指标": lambda n, code: [f"三级指标{n}-{k}：年度任务完成量{raw}{actual}未达成"
                                    for k, (raw, actual) in enumerate(_indicators(n), start=1)],
    }
    problems = []
    for title, words in expected.items():
        missing = [w for n, code in enumerate(codes, start=1) for w in words(n, code) if w not in parts[title]]
        if missing:
            problems.append(f"{title}: {len(missing)} missing, e.g. {missing[:2]}")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    print(f"  PDF read back with pdftotext ({pages:,} pages): " + ("; ".join(problems) if problems else
          f"each of the {len(codes):,} targets in 五, 六, 整改, 七 and 八 with its text, reasons and indicators"))
    if problems:
        raise SystemExit(1)


def _render(fmt: str, db: Path) -> None:
    bind = make_engine(f"sqlite:///{db}")
    with Session(bind) as session:
        plan_id = session.execute(text("SELECT id FROM plan")).scalar_one()
        if fmt == "pdf":
            built, built_s = _timed(lambda: report.build(session=session, plan_id=plan_id))
            data, made_s = _timed(lambda: report_render.pdf(built))
            what = f"report data {built_s}; PDF {made_s}"
            db.with_name("report.pdf").write_bytes(data)
        else:
            data, made_s = _timed(lambda: report.xlsx(session=session, plan_id=plan_id))
            what = f"xlsx {made_s}"
    bind.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {what} ({len(data) / 2**20:.1f} MiB); peak memory {peak:.0f} MiB", flush=True)


def _timed(work):
    """The result of ``work``, and its wall and CPU time as text: on a shared machine the CPU time is the
    steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, f"{time.perf_counter() - wall:.1f} / {time.process_time() - cpu:.1f}"


if __name__ == "__main__":
    main()
