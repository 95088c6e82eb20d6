"""The import page in a real Chromium: upload a prose document, the marks follow the edits, import."""
from __future__ import annotations

from tests.api.test_pages_e2e import Person, pytestmark, site  # noqa: F401 - the fixtures, the skip
from tests.engine.plans import docmaker
from tests.engine.plans.test_draft import _forty


def test_the_office_reviews_a_draft_in_the_browser_and_imports_it(site, browser, tmp_path):
    base, _, _ = site
    office = Person(browser, base, "绩效办")
    office.open("/")
    office.page.click("text=导入计划")
    source = tmp_path / "示范区2025年教育工作要点.docx"
    source.write_bytes(docmaker.docx_bytes(before=_forty()))
    office.page.set_input_files("input[name=file]", str(source))
    office.page.click("form[action='/plans/import'] button[type=submit]")
    page = office.page
    page.wait_for_selector("#draft-form")
    assert page.locator("td.cell-to-fill").count() == 120 and page.locator("td.cell-guessed").count() == 40
    assert page.text_content("#guessed-count") == "160"
    office.shot("plan-import-draft")
    indicators = page.locator("tr[data-row='0'] td[data-column='indicators'] textarea")
    indicators.fill("新增学位：100个")
    assert page.locator("tr[data-row='0'] td[data-column='indicators']").get_attribute("class") == "cell-edited"
    assert page.text_content("#guessed-count") == "159"
    for i in range(40):
        page.fill(f"textarea[name='r{i}.weight']", "2.5")
        page.fill(f"textarea[name='r{i}.leaders']", "林长华")
    page.fill("textarea[name='r0.persons']", "洪玮玮")
    assert page.text_content("#guessed-count") == str(160 - 1 - 80 - 1)
    page.click("#draft-form button[type=submit]")
    page.wait_for_selector("[data-testid=imported]")
    assert "新增 40" in page.text_content("[data-testid=imported]")
    office.shot("plan-import-done")
    office.close()
