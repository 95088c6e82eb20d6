"""The command line with plans as documents: import-plan of .docx and three-level tables, draft-plan of prose."""
from __future__ import annotations

from sqlmodel import Session, func, select

from engine.store.db import make_engine
from engine.store.models import Indicator, Target
from tests.cli_runner import kaoping
from tests.engine.plans.test_draft import FIXTURE as WORK_POINTS
from tests.engine.plans.test_indicator_table import _budget_docx
from tests.engine.plans.test_word import _annex_docx


def _run(tmp_path, *args):
    return kaoping(*args, env={"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}, cwd=tmp_path)


def test_import_plan_reads_the_word_annex_and_the_three_level_table_with_its_weight_rule(tmp_path):
    annex = tmp_path / "泉州市教育局2024年度绩效工作方案.docx"
    annex.write_bytes(_annex_docx())
    checked = _run(tmp_path, "import-plan", str(annex), "--dry-run")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "校验通过（未写入）：泉州市教育局 2024 年，57 个目标" in checked.stdout
    budget = tmp_path / "批复表.docx"
    budget.write_bytes(_budget_docx())
    refused = _run(tmp_path, "import-plan", str(budget))
    assert refused.returncode == 2 and "--weights equal" in refused.stdout
    assert _run(tmp_path, "init").returncode == 0
    done = _run(tmp_path, "import-plan", str(budget), "--weights", "产出=50,效益=30,满意度=20", "--leader", "王局长")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "新增 6" in done.stdout
    bind = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(bind) as session:
        assert session.exec(select(func.count()).select_from(Target)).one() == 6
        assert session.exec(select(func.count()).select_from(Indicator)).one() == 47
    bind.dispose()


def test_draft_plan_writes_the_draft_table_of_a_prose_document(tmp_path):
    source = tmp_path / "要点.txt"
    source.write_text("\n".join(WORK_POINTS["paragraphs"]), encoding="utf-8")
    out = _run(tmp_path, "draft-plan", str(source))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "泉港区2017年教育工作要点（泉港区教育局，2017 年）：32 个目标，6 个类别" in out.stdout
    assert (tmp_path / "要点-草稿.xlsx").exists()
    assert "kaoping import-plan" in out.stdout and "--org 泉港区教育局" in out.stdout
    refused = _run(tmp_path, "import-plan", str(tmp_path / "要点-草稿.xlsx"), "--org", "泉港区教育局", "--dry-run")
    assert refused.returncode == 1 and "权重分值" in refused.stdout
