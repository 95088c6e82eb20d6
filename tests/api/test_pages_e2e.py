"""The pages in a real headless Chromium against a real `kaoping serve`, with the shipped plan and its people.

Screenshots of every page go to ``test-artifacts/``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from engine.store.db import make_engine
from engine.plans.demo import DEMO_PASSWORD
from engine.store.models import Target
from engine.workflow.definitions import get
from tests.api.conftest import ARTIFACTS, CHROMIUM
from tests.api.serving import serving

#: The browser tests of every module run in one test process (``--dist loadgroup``): one Chromium, one site per module.
pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
                                 reason="Debian's chromium is not installed (.ci/run installs it)"),
              pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo):
    """A server of its own per module, on a copy of the demo (each module changes its data)."""
    folder = tmp_path_factory.mktemp("site")
    url = demo.sqlite_file(folder / "site.db")
    bind = make_engine(url)
    with Session(bind) as session:
        ids = {t.code: t.id for t in session.exec(select(Target).where(Target.parent_id.is_(None)))}
    bind.dispose()
    env = {"KAOPING_DATABASE_URL": url, "KAOPING_FILES_DIR": str(folder / "files")}
    with serving(env, folder / "server.log") as base:
        yield base, ids, folder


class Person:
    """One person's browser tab, logged in."""

    def __init__(self, browser, base: str, name: str, *, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        self.context.set_default_timeout(300_000)  # waits are for events; this only ends a wedged page
        self.page = self.context.new_page()
        self.base, self.name = base, name
        self.page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"unexpected dialog: {d.message}")))
        self.page.goto(f"{base}/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(rf"{re.escape(base)}/(audit)?$"))

    def shot(self, label: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{label}.png"), full_page=True)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def fire(self, trigger: str, **fields) -> None:
        form = self.page.locator(f"form.action[data-trigger={trigger}]").first
        for name, value in fields.items():
            if name == "files":
                form.locator("input[name=evidence]").set_input_files(value)
            else:
                form.locator(f"[name='{name}']").fill(str(value))
        form.locator(f"[data-testid=fire-{trigger}]").click()
        self.page.wait_for_load_state("load")

    def state(self) -> str:
        return self.page.locator("[data-testid=state]").inner_text()

    def close(self) -> None:
        self.context.close()


def test_a_target_from_start_to_score_and_the_audit(site, browser, tmp_path):
    base, ids, _ = site
    target = f"/targets/{ids['1-2-1']}"  # 办公室 leads with 组织科; leaders 李自坚 and 庄映峰 countersign
    evidence = tmp_path / "全市教育大会会议纪要.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% kaoping test evidence\n")

    staff = Person(browser, base, "黄洺鋆")
    staff.shot("staff-home")
    staff.open(target)
    staff.fire("start")
    assert staff.state() == "推进中"
    staff.fire("report_progress", note="全市教育大会筹备完成", percent=60, files=[str(evidence)])
    assert "全市教育大会会议纪要.pdf" in staff.page.locator("[data-testid=history]").inner_text()
    staff.fire("self_assess", self_score=2, summary="全市教育大会已召开，下沉服务活动开展42场")
    assert staff.state() == "已自评"
    staff.shot("staff-target-self-assessed")
    with staff.page.expect_download() as download:
        staff.page.click("text=全市教育大会会议纪要.pdf >> nth=0")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    staff.close()

    first = Person(browser, base, "李自坚")
    waiting = first.page.locator("[data-testid=to-sign]")
    assert "1-2-1" in waiting.inner_text() and "已签 0/2" in waiting.inner_text()
    assert "全市教育大会已召开" in waiting.inner_text()
    first.shot("leader-home")
    first.page.locator("[data-testid=to-sign] form.action[data-trigger=sign]").first.locator(
        "[data-testid=fire-sign]").click()
    first.page.wait_for_load_state("load")
    first.open(target)
    assert first.state() == "已自评"  # the second leader has not signed yet
    assert "李自坚✓已签" in first.page.locator("[data-testid=countersign]").inner_text()
    first.close()

    second = Person(browser, base, "庄映峰")
    second.open(target)
    second.fire("sign")
    assert second.state() == "领导已审签"
    second.close()

    office = Person(browser, base, "绩效办")
    office.shot("office-home")
    office.open(target)
    office.fire("verify")
    assert office.state() == "绩效办已核验"
    office.fire("score", score=1.8, deductions_text="0.2 下沉服务活动记录不全")
    assert office.state() == "已评分"
    office.shot("office-target-scored")
    office.close()

    auditor = Person(browser, base, "审计员")
    assert auditor.page.url.endswith("/audit")
    auditor.open(f"/audit?target={ids['1-2-1']}")
    table = auditor.page.locator("table.audit").inner_text()
    labels = {t.trigger: t.label for t in get("target").transitions}  # the actions in the users' words
    for trigger in ("start", "report_progress", "self_assess", "sign", "verify", "score"):
        assert labels[trigger] in table
    assert table.count(labels["sign"]) >= 2 and "李自坚" in table and "庄映峰" in table
    auditor.page.click("[data-testid=verify]")
    assert "审计链完整" in auditor.page.locator("[data-testid=chain]").inner_text()
    auditor.shot("auditor-audit")
    with auditor.page.expect_download() as download:
        auditor.page.click("text=导出 CSV")
    assert "1-2-1" in Path(download.value.path()).read_text(encoding="utf-8-sig")
    auditor.close()


def test_a_leader_returns_with_a_comment_and_the_staff_sees_it(site, browser):
    base, ids, _ = site
    target = f"/targets/{ids['1-1-1']}"  # 规划科, 林长华
    staff = Person(browser, base, "洪玮玮")
    staff.open(target)
    staff.fire("start")
    staff.fire("self_assess", self_score=1.5, summary="学位扩容工程按计划推进")
    staff.close()
    leader = Person(browser, base, "林长华")
    leader.open(target)
    leader.fire("return", comment="请补充竣工验收材料 <script>alert('x')</script>")
    assert leader.state() == "推进中"
    leader.close()
    staff = Person(browser, base, "洪玮玮")
    staff.open(target)
    comment = staff.page.locator("[data-testid=comment]").last.inner_text()
    assert comment == "请补充竣工验收材料 <script>alert('x')</script>"  # shown as text, never run
    assert staff.page.locator("script").count() == 0
    staff.open("/inbox")  # the notification is there once the dispatcher ran; the page works either way
    staff.shot("staff-after-return")
    staff.close()


def test_other_sections_see_no_forms_and_forged_posts_are_refused(site, browser):
    base, ids, _ = site
    outsider = Person(browser, base, "陈华森")  # 思政科
    outsider.open(f"/targets/{ids['1-5-2']}")  # 初幼教科's target
    assert outsider.page.locator("form.action").count() == 0
    assert "当前没有您可以执行的操作" in outsider.page.locator("[data-testid=no-actions]").inner_text()
    outsider.shot("outsider-target")
    # A forged post without the form's token, from the outsider's own session:
    forged = outsider.page.request.post(f"{base}/targets/{ids['1-5-2']}/fire", form={"trigger": "start"})
    assert forged.status == 403 and "CSRF" in forged.text()
    # With a valid token of their own session, the scope check still refuses it:
    outsider.open("/")
    token = outsider.page.locator("input[name=csrf]").first.get_attribute("value")
    scoped = outsider.page.request.post(f"{base}/targets/{ids['1-5-2']}/fire",
                                        form={"trigger": "start", "csrf": token, "version": "1"})
    assert scoped.status == 403 and "不负责该目标" in scoped.text()
    outsider.close()
    # Without logging in, a page sends you to the login.
    anonymous = httpx.get(f"{base}/targets", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_pages_on_a_phone_and_every_page_renders(site, browser):
    base, ids, _ = site
    phone = Person(browser, base, "绩效办", width=375)
    for path, label in [("/", "phone-office-home"), (f"/targets/{ids['1-4-1']}", "phone-target"),
                        ("/targets", "phone-targets"), ("/workflows", "phone-workflows"),
                        ("/workflows/target", "phone-workflow-target"), ("/inbox", "phone-inbox"),
                        ("/audit", "phone-audit")]:
        phone.open(path)
        assert phone.page.locator("main").is_visible()
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, f"{path} is {width}px wide on a 375px screen"
        phone.shot(label)
    phone.close()
    desktop = Person(browser, base, "绩效办")
    desktop.open("/plans/1/report")
    grade = desktop.page.locator("[data-testid=grade]").inner_text()  # 暂定 until every target is scored
    assert grade.removesuffix("（暂定）") in ("优秀", "良好", "合格", "不合格", "未评定")
    assert "合计得分" in desktop.page.locator("main, body").first.inner_text()
    assert desktop.page.locator("svg").count() == 3  # the charts, drawn on the server
    desktop.shot("report")
    desktop.open("/targets?overdue=true&sort=code")
    desktop.shot("targets-filtered")
    desktop.open("/workflows")
    assert desktop.page.locator("svg").count() >= 2
    desktop.shot("workflows")
    desktop.close()
