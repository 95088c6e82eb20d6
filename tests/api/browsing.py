"""A logged-in Chromium tab for the browser tests, optionally refusing every request that leaves the server."""
from __future__ import annotations

from engine.plans.demo import DEMO_PASSWORD


def log_in(browser, base: str, who: str | None, *, password: str = DEMO_PASSWORD, width: int = 1280,
           outside: list[str] | None = None):
    """(context, page) logged in as ``who`` (None: not logged in); requests off the server go to ``outside``."""
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    if outside is not None:
        def only_the_server(route):
            url = route.request.url
            if url.startswith(base + "/") or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", only_the_server)
    page = context.new_page()
    if who:
        page.goto(f"{base}/login")
        page.fill("input[name=username]", who)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
    return context, page
