"""The daily work in Chromium: queues, bulk verify and the score sheet, batch and simultaneous signing, rework
after a return, the admin pages, the own password; clicks and page loads counted on the way."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from engine.plans.demo import DEMO_PASSWORD
from engine.store.db import make_engine
from engine.store.models import Target
from tests.api.browsing import log_in
from tests.api.plan_states import bring
from tests.api.test_pages_e2e import Person, pytestmark, site  # noqa: F401  (fixtures)

SIGN_THREE = ["1-1-1", "1-1-2", "1-1-3"]  # 林长华 signs these alone
TOGETHER = "1-2-1"  # 李自坚 and 庄映峰 countersign
REWORK = "1-4-1"  # 组织科 王毅樟, signed by 庄映峰
AUDITED = "1-3-1"  # 思政科 陈华森
FIGURES: dict[str, str] = {}


def _db(folder):
    return make_engine(f"sqlite:///{folder / 'site.db'}")


def _bring(folder, codes, state):
    bind = _db(folder)
    with Session(bind) as session:
        bring(session, codes, state)
    bind.dispose()


def _states(folder, codes):
    bind = _db(folder)
    with Session(bind) as session:
        found = {t.code: t.state for t in session.exec(select(Target).where(Target.code.in_(codes), Target.parent_id.is_(None)))}
    bind.dispose()
    return found


class Counted:
    """Counts the clicks a person makes and the pages their tab loads."""

    def __init__(self, person: Person) -> None:
        self.person, self.clicks, self.loads, self.typed = person, 0, 0, 0
        person.page.on("load", self._loaded)

    def _loaded(self, _page) -> None:
        self.loads += 1

    def click(self, selector: str, **options) -> None:
        self.clicks += 1
        self.person.page.locator(selector).first.click(**options)
        self.person.page.wait_for_load_state("load")

    def fill(self, selector: str, value: str) -> None:
        self.typed += 1
        self.person.page.locator(selector).first.fill(value)

    def reset(self) -> None:
        self.clicks = self.loads = self.typed = 0

    def figure(self) -> str:
        return f"{self.clicks} clicks, {self.loads} page loads, {self.typed} fields typed"


def test_office_verifies_and_scores_the_whole_plan_from_two_pages(site, browser):
    base, ids, folder = site
    rest = [c for c in ids if c not in SIGN_THREE + [TOGETHER, REWORK, AUDITED]]
    _bring(folder, rest, "leader_signed")
    office = Person(browser, base, "绩效办")
    counted = Counted(office)
    counted.reset()
    office.open("/")
    counted.loads = 1
    assert f"待核验 <b>{len(rest)}</b>".replace(" ", "") in office.page.inner_html("nav.queues").replace(" ", "")
    office.shot("office-home-queues")
    ten = rest[:10]
    for code in ten:  # ten targets chosen by hand, verified with one press
        counted.clicks += 1
        office.page.check(f"#bulk-verify-{ids[code]}")
    counted.click("[data-testid=bulk-verify]")
    assert "成功 10 项" in office.page.locator("[data-testid=bulk-summary]").inner_text()
    office.shot("office-bulk-result")
    counted.click("text=返回待办")
    counted.click("[data-testid=bulk-verify-all]")  # and the rest with one press
    assert f"成功 {len(rest) - 10} 项" in office.page.locator("[data-testid=bulk-summary]").inner_text()
    counted.click("text=返回待办")
    counted.click("[data-testid=score-sheet]")
    total = office.page.locator("#sheet-total")
    before = total.inner_text()
    weights = {}
    for i, code in enumerate(rest):
        row = office.page.locator("tr.open", has=office.page.locator(f"a[href='/targets/{ids[code]}']"))
        weights[code] = float(row.get_attribute("data-weight"))
        if i % 10 == 3:  # some rows by deduction only: the score is the weight less it
            counted.fill(f"input[name=p{ids[code]}]", "0.5")
            counted.fill(f"input[name=r{ids[code]}]", "佐证材料不全")
        else:
            counted.fill(f"input[name=s{ids[code]}]", str(weights[code]))
        if i == 3:  # the computed score and the totals follow the typing (scores.js)
            assert office.page.locator(f"[data-testid=computed-{code}]").inner_text() == f"{weights[code] - 0.5:g}"
            assert total.inner_text() != before
    expected = sum(weights.values()) - 0.5 * sum(1 for i in range(len(rest)) if i % 10 == 3)
    assert float(total.inner_text()) == round(expected, 2)
    office.shot("office-score-sheet")
    counted.click("[data-testid=save-scores]")
    assert f"成功 {len(rest)} 项" in office.page.locator("[data-testid=bulk-summary]").inner_text()
    assert set(_states(folder, rest).values()) == {"scored"}
    FIGURES["verify and score the whole plan"] = f"{len(rest)} targets: {counted.figure()}"
    print("\nverify and score the whole plan:", FIGURES["verify and score the whole plan"])
    office.close()


def test_a_leader_signs_one_then_the_rest_at_once_without_leaving_the_queue(site, browser):
    base, ids, folder = site
    _bring(folder, SIGN_THREE, "self_assessed")
    leader = Person(browser, base, "林长华")
    counted = Counted(leader)
    counted.reset()
    counted.loads = 1  # the home page after logging in
    assert "待我审签<b>3</b>" in leader.page.inner_html("nav.queues").replace(" ", "")
    first = leader.page.locator("[data-testid=to-sign] article", has_text=SIGN_THREE[0])
    counted.clicks += 1
    first.locator("[data-testid=fire-sign]").click()
    leader.page.wait_for_load_state("load")
    assert leader.page.url.startswith(f"{base}/?done=")
    assert "还剩 2 项" in leader.page.locator("[data-testid=notice]").inner_text()
    for code in SIGN_THREE[1:]:
        counted.clicks += 1
        leader.page.check(f"input[type=checkbox][form=bulk-sign][value='{ids[code]}']")
    counted.click("[data-testid=bulk-sign]")
    assert "成功 2 项" in leader.page.locator("[data-testid=bulk-summary]").inner_text()
    assert set(_states(folder, SIGN_THREE).values()) == {"leader_signed"}
    FIGURES["sign 3"] = counted.figure()
    print("\nsign 3:", FIGURES["sign 3"])
    leader.shot("leader-signed-three")
    leader.close()


def test_two_leaders_sign_the_same_target_at_the_same_moment(site, browser):
    base, ids, folder = site
    _bring(folder, [TOGETHER], "self_assessed")
    one, two = Person(browser, base, "李自坚"), Person(browser, base, "庄映峰")
    buttons = [p.page.locator("[data-testid=to-sign] article", has_text=TOGETHER).locator("[data-testid=fire-sign]")
               for p in (one, two)]
    for button in buttons:  # both pages were drawn at the same version; both press at once
        button.click(no_wait_after=True)
    for p in (one, two):
        p.page.wait_for_url(re.compile(r".*/\?done=.*"))
        assert "已审签" in p.page.locator("[data-testid=notice]").inner_text()
        assert p.page.locator("[data-testid=error]").count() == 0
    assert _states(folder, [TOGETHER]) == {TOGETHER: "leader_signed"}
    one.close()
    two.close()


def test_rework_after_a_return_starts_from_the_last_submission(site, browser):
    base, ids, folder = site
    _bring(folder, [REWORK], "self_assessed")
    leader = Person(browser, base, "庄映峰")
    leader.open(f"/targets/{ids[REWORK]}")
    leader.fire("return", comment="请补充组织生活会记录")
    leader.close()
    staff = Person(browser, base, "王毅樟")
    counted = Counted(staff)
    counted.reset()
    counted.loads = 1
    returned = staff.page.locator("[data-testid=returned]")
    assert REWORK in returned.inner_text()
    counted.click(f"[data-testid=returned] a[href='/targets/{ids[REWORK]}']")
    form = staff.page.locator("form.action[data-trigger=self_assess]")
    assert form.locator("[data-testid=prefilled]").count() == 1
    assert form.locator("[name=self_score]").input_value() == "1"
    assert form.locator("[name=summary]").input_value() == "全年目标已完成"
    counted.fill("form.action[data-trigger=self_assess] [name=summary]", "全年目标已完成，已补充组织生活会记录")
    counted.click("form.action[data-trigger=self_assess] [data-testid=fire-self_assess]")
    assert staff.state() == "已自评"
    FIGURES["rework after a return"] = counted.figure()
    print("\nrework after a return:", FIGURES["rework after a return"])
    staff.close()


def _log_in(browser, base, name, password):
    return log_in(browser, base, name, password=password)


def test_admin_adds_a_section_and_a_user_who_logs_in_and_changes_the_password(site, browser):
    base, _, _ = site
    context, admin = _log_in(browser, base, "管理员", DEMO_PASSWORD)
    assert admin.url.endswith("/admin/users")
    admin.goto(f"{base}/admin/sections")
    admin.fill("[data-testid=add-section] input[name=name]", "信息中心")
    admin.click("[data-testid=add-section] button[type=submit]")
    assert "已新增科室 信息中心" in admin.locator("[data-testid=notice]").inner_text()
    admin.goto(f"{base}/admin/users")
    form = admin.locator("[data-testid=add-user]")
    form.locator("input[name=name]").fill("郑晓")
    form.locator("input[name=roles][value=staff]").check()
    form.locator("input[name=sections][value=信息中心]").check()
    form.locator("input[name=password]").fill("zheng-2024-a")
    form.locator("[data-testid=add-user-submit]").click()
    admin.wait_for_load_state("load")
    assert "已新增用户 郑晓" in admin.locator("[data-testid=notice]").inner_text()
    assert "信息中心" in admin.locator("[data-testid=users]").inner_text()
    context.close()

    context, page = _log_in(browser, base, "郑晓", "zheng-2024-a")
    assert page.url == f"{base}/" and "我的待办" in page.inner_text("h1")
    page.click("text=修改密码")
    page.fill("input[name=current]", "zheng-2024-a")
    page.fill("input[name=new]", "zheng-2024-b")
    page.fill("input[name=again]", "zheng-2024-c")
    page.click("[data-testid=change-password-submit]")
    assert "不一致" in page.locator("#err-again").inner_text()  # beside the field it concerns
    page.fill("input[name=current]", "zheng-2024-a")
    page.fill("input[name=new]", "zheng-2024-b")
    page.fill("input[name=again]", "zheng-2024-b")
    page.click("[data-testid=change-password-submit]")
    page.wait_for_url(re.compile(r".*/login\?done=password"))
    assert "请用新密码重新登录" in page.locator("[data-testid=notice]").inner_text()
    context.close()
    context, page = _log_in(browser, base, "郑晓", "zheng-2024-b")
    assert page.url == f"{base}/"
    context.close()


def test_the_auditor_searches_by_code_state_and_action_in_chinese(site, browser):
    base, ids, folder = site
    _bring(folder, [AUDITED], "self_assessed")
    auditor = Person(browser, base, "审计员")
    auditor.page.fill("input[name=code]", "1-3-1")
    auditor.page.select_option("select[name=trigger]", label="提交自评")
    auditor.page.click("text=查询")
    auditor.page.wait_for_load_state("load")
    assert "code=1-3-1" in auditor.page.url  # the search stays in the address
    rows = auditor.page.locator("table.audit tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "1-3-1" in text and "提交自评" in text and "陈华森" in text and "科室" in text and "已自评" in text
    auditor.page.select_option("select[name=trigger]", value="")
    auditor.page.select_option("select[name=state]", label="推进中")
    auditor.page.click("text=查询")
    auditor.page.wait_for_load_state("load")
    assert auditor.page.locator("table.audit tbody tr").count() == 1  # the start, which led to 推进中
    with auditor.page.expect_download() as download:
        auditor.page.click("text=导出 CSV")
    exported = open(download.value.path(), encoding="utf-8-sig").read()
    assert "1-3-1" in exported and "开始推进" in exported and "推进中" in exported
    auditor.shot("auditor-search-by-code")
    auditor.close()


def test_a_return_in_the_browser_sends_a_mail_whose_link_opens_the_target(site, browser):
    """The leader returns in the browser; the dispatcher mails a loopback SMTP server; the link in the mail opens
    the target for the person who must act."""
    from aiosmtpd.controller import Controller

    from engine.people import users
    from engine.people.actors import Actor
    from engine.store.config import Settings
    from engine.store.models import User
    from engine.workflow.commands import fire
    from notifications import dispatch
    from tests.notifications.test_channels import HOST, Mailbox, free_port
    from tests.notifications.test_dispatch import mailbox_message

    base, ids, folder = site
    bind = _db(folder)
    with Session(bind) as session:
        staff = session.exec(select(User).where(User.login == "王毅樟")).one()
        users.update(session=session, user_id=staff.id, email="wangyz@example.gov.cn")
        if _states(folder, [REWORK])[REWORK] == "assigned":  # run on its own: bring the target to 已自评 first
            _bring(folder, [REWORK], "self_assessed")
        elif _states(folder, [REWORK])[REWORK] == "in_progress":
            fire(session=session, target_id=ids[REWORK], trigger="self_assess",
                 actor=Actor("王毅樟", frozenset({"staff"}), frozenset({"组织科"})),
                 payload={"self_score": 1, "summary": "全年目标已完成"})
    leader = Person(browser, base, "庄映峰")
    leader.open(f"/targets/{ids[REWORK]}")
    leader.fire("return", comment="请附上支部会议记录")
    leader.close()
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        config = Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False, base_url=base, webhook_url="")
        while True:  # the module's earlier tests left many messages: each run takes one batch
            result = dispatch.dispatch(bind, config)
            if not (result.expanded or result.sent or result.retried):
                break
    finally:
        controller.stop()
        bind.dispose()
    mails = [mailbox_message(e) for e in mailbox.envelopes if e.rcpt_tos == ["wangyz@example.gov.cn"]]
    mail = next(m for m in reversed(mails) if "请附上支部会议记录" in m.get_content())
    link = re.search(r"查看和办理：(\S+)", mail.get_content()).group(1)
    assert link == f"{base}/targets/{ids[REWORK]}" and REWORK in mail["Subject"]
    staff_tab = Person(browser, base, "王毅樟")
    staff_tab.page.goto(link)
    assert staff_tab.page.locator("form.action[data-trigger=self_assess]").count() == 1
    assert "请附上支部会议记录" in staff_tab.page.locator("[data-testid=history]").inner_text()
    staff_tab.shot("staff-opens-the-mailed-link")
    staff_tab.close()
