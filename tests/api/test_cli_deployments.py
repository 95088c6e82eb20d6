"""``kaoping init`` deploys the shipped definitions once; ``workflows deploy``, ``list`` and ``migrate``
as a person runs them."""
from __future__ import annotations

from functools import partial

from sqlmodel import Session, select

from engine.store.db import make_engine
from engine.store.models import Target, TransitionRecord
from engine.workflow import definitions
from tests import factories as f
from tests.cli_runner import kaoping
from tests.engine.bpmn.test_bpmn import sample
from tests.engine.lifecycle import step


def _cli(url: str, *args: str):
    return kaoping(*args, env={"KAOPING_DATABASE_URL": url})


def test_deploy_list_and_migrate(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run = partial(_cli, url)

    first = run("init")
    assert first.returncode == 0 and "已部署内置工作流定义 target 第 1 版" in first.stdout, first.stderr
    again = run("init")
    assert again.returncode == 0 and "已部署" not in again.stdout  # idempotent
    bind = make_engine(url)
    with Session(bind) as session:
        old = f.target(session).id
        f.target(session)
    v2 = tmp_path / "target-v2.yaml"
    v2.write_text(definitions.source_text("target").replace("in_progress", "working"), encoding="utf-8")
    deployed = run("workflows", "deploy", str(v2), "--by", "管理员")
    assert deployed.returncode == 0 and "已部署 target 第 2 版（yaml" in deployed.stdout, deployed.stderr
    same = run("workflows", "deploy", str(v2))
    assert same.returncode == 0 and "target 第 2 版与此文件相同，未部署新版本" in same.stdout
    vacation = tmp_path / "vacation.bpmn"
    vacation.write_bytes(sample("flowable-vacation-request.bpmn"))
    refused = run("workflows", "deploy", str(vacation))
    assert refused.returncode == 1 and "--map sendApprovalMail=效果" in refused.stderr
    bpmn = run("workflows", "deploy", str(vacation), "--map", "sendApprovalMail=none")
    assert bpmn.returncode == 0 and "已部署 vacation_request 第 1 版（bpmn" in bpmn.stdout, bpmn.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(v2.read_text("utf-8").replace("to: scored\n", "to: nowhere\n"), encoding="utf-8")
    bad = run("workflows", "deploy", str(broken))
    assert bad.returncode == 1 and "转换 'score' 的目标状态 'nowhere' 未定义" in bad.stderr

    listed = run("workflows", "list").stdout.splitlines()
    assert [line.split("\t")[:4] for line in listed] == [
        ["rectification", "第 1 版", "yaml", "系统"], ["report", "第 1 版", "yaml", "系统"],
        ["supervision", "第 1 版", "yaml", "系统"], ["target", "第 1 版", "yaml", "系统"],
        ["target", "第 2 版", "yaml", "管理员"], ["vacation_request", "第 1 版", "bpmn", "系统"]]
    assert listed[3].endswith("2 个目标") and listed[4].endswith("0 个目标")

    with Session(bind) as session:
        step(session, old, "start", f.STAFF)
    unmapped = run("workflows", "migrate", "target", "--from", "1", "--to", "2")
    assert unmapped.returncode == 1 and "第 2 版没有这些状态，请用 --map 旧状态=新状态 指定：in_progress" in unmapped.stderr
    moved = run("workflows", "migrate", "target", "--from", "1", "--to", "2", "--map", "in_progress=working", "--by", "管理员")
    assert moved.returncode == 0 and "已把 2 个目标从 target 第 1 版迁移到第 2 版" in moved.stdout, moved.stderr
    with Session(bind) as session:
        assert session.get(Target, old).state == "working"
        record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "migrate")).first()
        assert (record.actor, record.from_state, record.to_state) == ("管理员", "in_progress", "working")
    bind.dispose()
    verified = run("audit", "verify")
    assert verified.returncode == 0 and "当前状态与历史一致" in verified.stdout


def test_import_plan_names_a_deployed_workflow(tmp_path):
    from engine.store.models import Plan
    from tests.engine.plans.test_importer import GOOD, _csv

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run = partial(_cli, url)

    assert run("init").returncode == 0
    table = tmp_path / "泉州市教育局2024年度绩效目标考评表.csv"
    table.write_bytes(_csv(GOOD))
    refused = run("import-plan", str(table), "--org", "泉州市教育局", "--workflow", "nowhere")
    assert refused.returncode == 1 and "没有工作流定义 nowhere" in refused.stdout, refused.stdout + refused.stderr
    fast = tmp_path / "fast.yaml"
    fast.write_text(definitions.source_text("target").replace("id: target\n", "id: fast_track\n", 1), encoding="utf-8")
    assert run("workflows", "deploy", str(fast)).returncode == 0
    done = run("import-plan", str(table), "--org", "泉州市教育局", "--workflow", "fast_track")
    assert done.returncode == 0, done.stdout + done.stderr
    with Session(make_engine(url)) as session:
        assert [p.workflow for p in session.exec(select(Plan))] == ["fast_track"]
        assert set(session.exec(select(Target.workflow, Target.workflow_version))) == {("fast_track", 1)}
