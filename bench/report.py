"""Report benchmark: build the PDF and the xlsx of a 10,000-target plan, every target scored.

    python bench/report.py [--targets 10000]

The plan is imported from a generated table (bench/import.py's generator), then every target is
set to ``scored`` with a score and a deduction written straight to the database (the lifecycle
itself is measured by bench/engine.py). Each file is then made in a fresh process of its own
(``--render pdf|xlsx --db FILE``), which prints its time and its peak memory: what making that file
takes, apart from building the plan.
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
        session.execute(text("UPDATE target SET state = 'scored', score = round(weight * 0.9, 2)"))
        # One score record per target, as the score transition leaves it (the sheet reads deductions from it).
        now = clock.to_db(clock.now())
        rows = session.execute(text("SELECT id, weight FROM target ORDER BY id")).all()
        for target_id, weight in rows:
            chain.append(session, target_id=target_id, kind="transition", actor="绩效办", role="office", trigger="score",
                         from_state="verified", to_state="scored", at=now, comment="",
                         payload={"score": round(float(weight) * 0.9, 2),
                                  "deductions": [{"points": round(float(weight) * 0.1, 2), "reason": "进度滞后"}]})
        session.commit()
    bind.dispose()
    print(f"{args.targets:,} targets, all scored (wall s / CPU s; peak memory of the process making the file):")
    for fmt in ("pdf", "xlsx"):
        subprocess.run([sys.executable, __file__, "--render", fmt, "--db", str(folder / "report.db")], check=True)


def _render(fmt: str, db: Path) -> None:
    bind = make_engine(f"sqlite:///{db}")
    with Session(bind) as session:
        plan_id = session.execute(text("SELECT id FROM plan")).scalar_one()
        if fmt == "pdf":
            built, built_s = _timed(lambda: report.build(session=session, plan_id=plan_id))
            data, made_s = _timed(lambda: report_render.pdf(built))
            what = f"report data {built_s}; PDF {made_s}"
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
