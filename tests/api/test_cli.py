"""The command line, as a person runs it: init, demo, audit verify."""
from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import Session, func, select

from engine.calendar import clock
from engine.people import users
from engine.store.db import make_engine
from engine.workflow.targets import parties_of
from engine.store.models import Organisation, Target, TransitionRecord, User
from tests.cli_runner import kaoping


def _run(tmp_path, *args, db="cli.db"):
    """``kaoping ARGS`` on the SQLite file ``db`` in ``tmp_path``, run in this process."""
    return kaoping(*args, env={"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / db}"})


def _process(tmp_path, *args, db="cli.db"):
    """``kaoping ARGS`` in a process of its own, for what a shell sees of it."""
    env = {**os.environ, "KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / db}"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_demo_loads_the_shipped_plan_and_its_people_once(tmp_path):
    first = _run(tmp_path, "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    year = clock.today().year  # the shipped 2024 plan, served as this year's
    assert f"泉州市教育局{year}年度绩效目标考评表（已导入）" in first.stdout and "kaoping2024" in first.stdout
    second = _run(tmp_path, "demo", "--no-serve")
    assert second.returncode == 0 and "（已存在）" in second.stdout
    bind = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(bind) as session:
        city = session.exec(select(Organisation).where(Organisation.name == "泉州市教育局")).one()
        assert session.exec(select(func.count()).select_from(Target).where(Target.org_id == city.id)).one() == 57
        names = {u.name: u for u in session.exec(select(User).where(User.org_id == city.id))}
        assert len(names) == 9 + 19 + 3  # leaders, responsible persons, office + auditor + admin
        assert names["林长华"].roles == ["leader"] and names["绩效办"].roles == ["office"]
        # The second level: two district bureaus, each with the three targets handed down, assigned to its people.
        for district, short in (("泉港区教育局", "泉港区"), ("丰泽区教育局", "丰泽区")):
            found = session.exec(select(Organisation).where(Organisation.name == district)).one()
            assert (found.kind, found.parent_id) == ("county", city.id)
            office = session.exec(select(User).where(User.login == f"{short}绩效办")).one()
            assert (office.name, office.org_id, office.roles) == ("绩效办", found.id, ["office"])
            handed = session.exec(select(Target).where(Target.org_id == found.id)).all()
            assert sorted(t.code for t in handed) == ["1-12-1", "1-5-1", "1-6-1"] and all(t.parent_id for t in handed)
            assert parties_of(session, handed[0].id).leaders == ("分管局长",)
        assert users.check_password(names["洪玮玮"], "kaoping2024")
        assert not users.check_password(names["洪玮玮"], "wrong")
    bind.dispose()


def test_audit_verify_reports_tampering(tmp_path):
    """In processes of their own: a shell (or cron) sees the exit code 1 of a chain that was tampered with."""
    assert _process(tmp_path, "init").returncode == 0
    ok = _process(tmp_path, "audit", "verify")
    assert ok.returncode == 0 and "共 4 条记录" in ok.stdout  # the four shipped definitions, deployed as version 1
    # Give the chain a record, then tamper with it.
    from engine.plans.service import set_milestone
    from tests import factories as f

    bind = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(bind) as session:
        plan = f.plan(session)
        session.commit()
        set_milestone(session=session, plan_id=plan.id, key="evaluation", phrase="1月8日前", actor=f.OFFICE)
    assert "共 6 条记录" in _process(tmp_path, "audit", "verify").stdout  # the plan's milestones, then the change
    with bind.begin() as conn:
        conn.exec_driver_sql("UPDATE transitionrecord SET actor = '他人'")
    bind.dispose()
    bad = _process(tmp_path, "audit", "verify")
    assert bad.returncode == 1 and "第一条不符的记录 1" in bad.stderr and "被修改" in bad.stderr
    with Session(make_engine(f"sqlite:///{tmp_path / 'cli.db'}")) as session:
        assert session.exec(select(func.count()).select_from(TransitionRecord)).one() == 6


def test_config_masks_secrets(tmp_path):
    env_db = "postgresql://kaoping:s3cret@db.example/kaoping"
    out = kaoping("config", env={"KAOPING_DATABASE_URL": env_db, "KAOPING_SECRET_KEY": "top-secret",
                                 "KAOPING_SMTP_PASSWORD": "mail-secret"})
    assert out.returncode == 0
    assert "s3cret" not in out.stdout and "top-secret" not in out.stdout and "mail-secret" not in out.stdout
    assert "KAOPING_DATABASE_URL=postgresql://kaoping:***@db.example/kaoping" in out.stdout
    assert "KAOPING_SECRET_KEY=******" in out.stdout and "KAOPING_TIMEZONE=Asia/Shanghai" in out.stdout


def test_user_add(tmp_path):
    assert _run(tmp_path, "init").returncode == 0
    added = kaoping("user", "add", "洪玮玮", "--role", "staff", "--section", "规划科", "--password-stdin",
                    input="pass-word-1\n", env={"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    assert added.returncode == 0 and "已添加用户 洪玮玮" in added.stdout
    again = _run(tmp_path, "user", "add", "洪玮玮", "--role", "staff", "--section", "规划科")
    assert again.returncode == 1 and "已存在" in again.stderr
    wrong = _run(tmp_path, "user", "add", "某人", "--role", "boss")
    assert wrong.returncode == 1 and "角色" in wrong.stderr
    bind = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(bind) as session:
        user = session.exec(select(User).where(User.login == "洪玮玮")).one()
        assert users.check_password(user, "pass-word-1") and user.roles == ["staff"]
    bind.dispose()


def test_report_command(tmp_path, demo):
    demo.sqlite_file(tmp_path / "cli.db")  # what `kaoping demo --no-serve` leaves (its first run is tested above)
    assert _run(tmp_path, "demo", "--no-serve").returncode == 0
    for fmt, magic in (("pdf", b"%PDF"), ("xlsx", b"PK"), ("html", b"<!doctype html>")):
        out = tmp_path / f"r.{fmt}"
        done = _run(tmp_path, "report", "1", "--format", fmt, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert out.read_bytes().startswith(magic)
    missing = _run(tmp_path, "report", "9", "-o", str(tmp_path / "x.pdf"))
    assert missing.returncode == 1 and "不存在" in missing.stderr


def test_audit_checkpoint_verify_and_export(tmp_path):
    import zipfile

    from tests import factories as f

    env = {"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "KAOPING_AUDIT_KEY_FILE": str(tmp_path / "key.pem"), "KAOPING_CHECKPOINT_FILE": str(tmp_path / "kept.jsonl")}

    def run(*args):
        return kaoping(*args, env=env)

    assert run("init").returncode == 0
    assert run("user", "add", "审计员", "--role", "auditor").returncode == 0
    bind = make_engine(env["KAOPING_DATABASE_URL"])
    with Session(bind) as session:
        f.target(session)
    bind.dispose()
    signed = run("audit", "checkpoint")
    # One checkpoint per chain: the deployment's (the four shipped definitions deployed) and the bureau's.
    assert signed.returncode == 0 and "已签名检查点：4 条记录" in signed.stdout \
        and "已签名检查点：3 条记录" in signed.stdout, signed.stderr
    checked = run("audit", "verify", "--checkpoints", str(tmp_path / "kept.jsonl"))
    assert checked.returncode == 0 and "当前状态与历史一致" in checked.stdout and "签名检查点 2 个" in checked.stdout
    exported = run("audit", "export", "--plan", "1", "-o", str(tmp_path / "bundle.zip"))
    assert exported.returncode == 0 and "3 条记录，1 个检查点" in exported.stdout
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        bundle.extract("offline_verifier.py", tmp_path)
    offline = subprocess.run([sys.executable, "-I", str(tmp_path / "offline_verifier.py"), str(tmp_path / "bundle.zip")],
                             capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, timeout=300)
    # The bundle holds the bureau's chain: the verifier agrees with the server's check of that chain.
    bureau = run("audit", "verify", "--org", "泉州市教育局")
    assert offline.returncode == 0 and offline.stdout.splitlines()[0] == bureau.stdout.splitlines()[0], offline.stdout
    with bind.begin() as conn:
        conn.exec_driver_sql("UPDATE target SET state = 'scored'")
    bad = run("audit", "verify")
    assert bad.returncode == 1 and "状态 记录为 'assigned'，数据库为 'scored'" in bad.stderr
