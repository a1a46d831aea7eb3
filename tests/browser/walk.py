"""A project walked through the console in headless Chromium, as its people would.

Run by tests/browser.rs against a server it started; it talks to the test on stdout and
stdin: a line `CLOCK <time>` asks the test to move the server's clock and waits for `OK`;
`PASS` ends a walk where every check held. Any failed check raises, and the test fails.

    python walk.py BASE_URL SHOTS_DIR CHROMIUM

The window clerk fills in the one form (with `<script>` in every text field), pre-reviews
(the one-time notice), submits (the receipt), reports the early milestones; two reviewers
of one department race for a claim; a reviewer tries another department's task by URL;
supervision watches a red card arrive live when the clock passes the due dates; every
department approves its tasks until the project is completed; the public page shows the
progress and nothing personal, and a rejection's reason nowhere; logging out ends the
dashboard's live stream, and the page says so. No page breaks its Content-Security-Policy
(a violation in any page's console fails the walk), and the print buttons work without
inline script.
"""

import json
import os
import re
import sys
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE, SHOTS, CHROMIUM = sys.argv[1], sys.argv[2], sys.argv[3]
WINDOW = "0000000000000000000000000000window"
SUPERVISOR = "000000000000000000000000supervisor"
DEPARTMENTS = ["ndrc", "nrp", "registry", "env", "water", "civil_defence", "drawing_review", "housing"]
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
SECRET_REASON = "REJECTION-REASON-不予公开"
PROJECT = "WALK-1"
OTHER = "WALK-2"
# Content-Security-Policy violations any page reported (the walk fails on one).
CSP_VIOLATIONS = []


def dept_token(d):
    return f"dept-{d}-00000000000000000000"


def say(line):
    print(line, flush=True)


def move_clock(to):
    say(f"CLOCK {to}")
    answer = sys.stdin.readline().strip()
    assert answer == "OK", answer


# The screenshots taken in this walk (those taken once are taken on the first chance).
TAKEN = set()


def shot(page, name):
    TAKEN.add(name)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


def watch_csp(page):
    page.on("console", lambda m: "Content Security Policy" in m.text
            and CSP_VIOLATIONS.append(f"{page.url}: {m.text}"))
    return page


def login(browser, token):
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    ctx.on("page", watch_csp)
    page = ctx.new_page()
    page.goto(f"{BASE}/console/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    return page


def not_pwned(page):
    assert page.evaluate("window.__pwned") is None, f"script ran on {page.url}"


def api(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{BASE}{path}", data=data, method=method,
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def counter(browser):
    page = login(browser, WINDOW)
    assert page.url.endswith("/console/window"), page.url
    shot(page, "window-home")
    page.locator("tr", has_text="工程建设项目并联审批").get_by_role("link").click()
    # The form is generated from the workflow: its required marks and enum lists.
    expect(page.locator("select[name='f.industry'] option[value=industrial]")).to_have_count(1)
    expect(page.locator("input[name='f.floor_area'][type=number][required]")).to_have_count(1)
    # The page checks before sending: a required field left empty is not submitted.
    page.click("button[value=submit]")
    assert "/apply/" in page.url and page.evaluate("document.querySelector(\"input[name='applicant']\").validity.valueMissing")
    page.fill("input[name=project]", PROJECT)
    page.fill("input[name=applicant]", HOSTILE + "申请人")
    page.fill("input[name=agent]", HOSTILE)
    page.fill("input[name='f.project_name']", HOSTILE + "厂房")
    page.fill("input[name='f.enterprise']", HOSTILE + "某公司")
    page.select_option("select[name='f.industry']", "industrial")
    page.select_option("select[name='f.land_supply']", "grant")
    page.select_option("select[name='f.new_construction_land']", "true")
    page.fill("input[name='f.floor_area']", "32000")
    page.fill("input[name='f.investment']", "18000")
    page.select_option("select[name='f.special_fire']", "true")
    page.select_option("select[name='f.eia_category']", "report_form")
    page.fill("input[name='f.agent']", HOSTILE)
    # Pre-review with no materials: the one-time notice lists everything missing.
    page.click("button[value=notice]")
    expect(page.locator("#notice h1")).to_have_text("一次性告知书")
    expect(page.locator("#notice")).to_contain_text("营业执照")
    expect(page.locator("#notice-complete")).to_have_count(0)
    not_pwned(page)
    shot(page, "notice")
    # Every material handed in, each with a reference: complete, then submitted.
    for box in page.locator("input[name=material]").all():
        box.check()
    for ref in page.locator("input[name^='ref.']").all():
        ref.fill(HOSTILE)
    page.click("button[value=notice]")
    expect(page.locator("#notice-complete")).to_have_count(1)
    page.click("button[value=submit]")
    expect(page.locator("#receipt h1")).to_have_text("受理回执")
    expect(page.locator("#project-code")).to_have_text(PROJECT)
    # What was typed is shown as text, never run.
    expect(page.locator("#receipt")).to_contain_text("<script>window.__pwned=1</script>")
    not_pwned(page)
    shot(page, "receipt")
    return page


def report_milestones(page):
    page.goto(f"{BASE}/console/window/projects/{PROJECT}")
    reported = 0
    while page.locator("form[action$='/milestone'] button").count() > 0:
        page.locator("form[action$='/milestone'] button").first.click()
        expect(page.locator(".error")).to_have_count(0)
        reported += 1
    return reported


def race(browser):
    """Two ndrc reviewers claim one task: one wins, the other is told why."""
    a = login(browser, dept_token("ndrc"))
    b = login(browser, dept_token("ndrc"))
    a.goto(f"{BASE}/console/inbox")
    row = a.locator(f"#inbox tr[data-project='{PROJECT}']").first
    item = row.get_attribute("data-item")
    shot(a, "inbox")
    a.goto(f"{BASE}/console/inbox/{PROJECT}/{item}")
    b.goto(f"{BASE}/console/inbox/{PROJECT}/{item}")
    not_pwned(a)
    a.click("#claim")
    expect(a.locator("#task-state")).to_have_attribute("data-state", "claimed")
    b.click("#claim")
    expect(b.locator(".error")).to_contain_text("未办理")
    expect(b.locator(".error")).to_contain_text("illegal-transition")
    shot(b, "race-lost")
    # Another department's reviewer cannot open it by URL.
    nrp = login(browser, dept_token("nrp"))
    response = nrp.goto(f"{BASE}/console/inbox/{PROJECT}/{item}")
    assert response.status == 403, response.status
    expect(nrp.locator("main")).to_contain_text("another department")
    for p in (a, b, nrp):
        p.context.close()


def red_card(browser):
    """Supervision's dashboard is open when the clock passes the due dates."""
    page = login(browser, SUPERVISOR)
    assert page.url.endswith("/console/supervision"), page.url
    expect(page.locator("#red-cards tr[data-project]")).to_have_count(0)
    expect(page.locator("#live")).to_have_attribute("data-connected", "yes", timeout=10000)
    move_clock("2025-06-02T09:00:00")
    expect(page.locator(f"#red-cards tr[data-project='{PROJECT}']").first).to_be_visible(timeout=10000)
    assert int(page.locator("#red-count").inner_text()) >= 1
    # A task turning red leaves the yellow cards.
    expect(page.locator(f"#yellow-cards tr[data-project='{PROJECT}']")).to_have_count(0)
    shot(page, "dashboard")
    return page


def approve_everything(browser):
    """Every department approves what it has for the project until it is completed."""
    window = login(browser, WINDOW)
    reviewers = {d: login(browser, dept_token(d)) for d in DEPARTMENTS}
    for _ in range(30):
        report_milestones(window)
        if window.locator("#status").get_attribute("data-status") == "completed":
            return window
        acted = False
        for d, page in reviewers.items():
            page.goto(f"{BASE}/console/inbox")
            items = [r.get_attribute("data-item") for r in page.locator(f"#inbox tr[data-project='{PROJECT}']").all()]
            for item in items:
                page.goto(f"{BASE}/console/inbox/{PROJECT}/{item}")
                if page.locator("#claim").count():
                    page.click("#claim")
                if page.locator("#approve").count():
                    if d == "housing" and "task" not in TAKEN:
                        shot(page, "task")
                        # The approval form: each document's number, blank to draw the
                        # next of the department's pattern.
                        page.locator("#approve").scroll_into_view_if_needed()
                        expect(page.locator("input[name^='number.']").first).to_have_attribute(
                            "placeholder", re.compile("留空则自动取号"))
                        expect(page.locator("p.hint", has_text="留空则按本部门编号规则取下一个号，如 建字第210600")).to_have_count(1)
                        shot(page, "task-approve")
                    page.click("#approve")
                    expect(page.locator(".error")).to_have_count(0)
                    acted = True
        if not acted:
            window.goto(f"{BASE}/console/window/projects/{PROJECT}")
    raise AssertionError("the project was not completed: " + window.content()[:2000])


def public_pages(browser):
    # A second project, submitted through the JSON API, rejected in the console.
    versions = api("GET", "/api/v1/workflows", WINDOW)["workflows"]
    version = next(w["version"] for w in versions if w["id"] == "construction-parallel")
    materials = [{"material": m} for m in (
        "business_license project_info land_redline grant_payment cadastral_survey eia_report_form energy_report "
        "soil_plan design_scheme civil_defence_plan site_plan geotech_survey construction_drawings fire_design "
        "funding_commitment safety_measures").split()]
    api("POST", "/api/v1/projects", WINDOW, {
        "request_id": "walk-2", "project": OTHER, "version": version, "applicant": "李四（个人信息）",
        "form": {"project_name": "仓库", "enterprise": "某某有限公司", "industry": "warehouse", "land_supply": "grant",
                 "new_construction_land": True, "floor_area": 5000, "investment": 3000, "special_fire": False,
                 "eia_category": "registration"},
        "materials": materials})
    for item in ("A01", "R01"):
        api("POST", f"/api/v1/projects/{OTHER}/items/{item}/milestone", WINDOW, {"request_id": f"walk-2-{item}"})
    ndrc = login(browser, dept_token("ndrc"))
    ndrc.goto(f"{BASE}/console/inbox")
    item = ndrc.locator(f"#inbox tr[data-project='{OTHER}']").first.get_attribute("data-item")
    ndrc.goto(f"{BASE}/console/inbox/{OTHER}/{item}")
    ndrc.fill("form[action$='/reject'] textarea[name=reason]", SECRET_REASON + HOSTILE)
    ndrc.click("#reject")
    expect(ndrc.locator(".error")).to_have_count(0)
    ndrc.context.close()

    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    ctx.on("page", watch_csp)
    page = ctx.new_page()
    page.goto(f"{BASE}/public")
    page.fill("input[name=code]", PROJECT)
    page.click("button[type=submit]")
    expect(page.locator("#status")).to_contain_text("completed")
    expect(page.locator("#done tbody tr")).not_to_have_count(0)
    html = page.content()
    for secret in ("申请人", "某公司", "厂房", "__pwned", "营业执照", "business_license"):
        assert secret not in html, f"{secret} on the public page"
    shot(page, "public")
    page.goto(f"{BASE}/public/projects/{OTHER}")
    body = page.content()
    for secret in (SECRET_REASON, "李四", "某某有限公司", "仓库"):
        assert secret not in body, f"{secret} on the public page"
    expect(page.locator("#stage")).not_to_be_empty()
    ctx.close()
    # Supervision reads the rejection in the project's events: as text.
    supervisor = login(browser, SUPERVISOR)
    supervisor.goto(f"{BASE}/console/supervision/projects/{OTHER}")
    expect(supervisor.locator("#events")).to_contain_text("不予许可")
    not_pwned(supervisor)
    supervisor.context.close()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"])
        login_page = watch_csp(browser.new_page(locale="zh-CN"))
        login_page.goto(f"{BASE}/console/login")
        shot(login_page, "login")
        login_page.close()
        window = counter(browser)
        assert report_milestones(window) == 2
        race(browser)
        dashboard = red_card(browser)
        window = approve_everything(browser)
        # The construction planning permit, printed with its department's seal as a QR code.
        window.goto(f"{BASE}/console/window/projects/{PROJECT}")
        window.click("#documents a[href$='/construction_planning_permit']")
        expect(window.locator("#qr svg")).to_have_count(1)
        expect(window.locator("#seal")).to_contain_text("OW1.")
        expect(window.locator("#number")).not_to_be_empty()
        not_pwned(window)
        shot(window, "permit")
        # Its print button works, bound by the console's script (no inline handler).
        window.evaluate("window.__printed = 0; window.print = () => { window.__printed = 1; }")
        window.click("button[data-print]")
        assert window.evaluate("window.__printed") == 1, "the print button prints"
        # The project's timeline: planned against actual, with the critical path.
        dashboard.goto(f"{BASE}/console/supervision/projects/{PROJECT}")
        expect(dashboard.locator("#gantt rect.planned")).not_to_have_count(0)
        expect(dashboard.locator("#gantt rect.actual")).not_to_have_count(0)
        expect(dashboard.locator("main")).to_contain_text("关键路径")
        not_pwned(dashboard)
        shot(dashboard, "gantt")
        dashboard.goto(f"{BASE}/console/supervision")
        dashboard.fill("input[name=from]", "2025-03-01")
        dashboard.fill("input[name=to]", "2025-06-30")
        dashboard.click("form[action$='/assessment'] button")
        expect(dashboard.locator("#assessment tbody tr")).not_to_have_count(0)
        expect(dashboard.locator("svg.chart rect")).not_to_have_count(0)
        shot(dashboard, "assessment")
        # Logging out (here in another tab of the same browser) ends the dashboard's live
        # stream; the dashboard says so and offers the login, rather than going stale.
        dashboard.goto(f"{BASE}/console/supervision")
        expect(dashboard.locator("#live")).to_have_attribute("data-connected", "yes", timeout=10000)
        other_tab = dashboard.context.new_page()
        other_tab.goto(f"{BASE}/console/supervision")
        other_tab.click("header form[action='/console/logout'] button")
        assert other_tab.url.endswith("/console/login"), other_tab.url
        expect(dashboard.locator("#live .error")).to_contain_text("会话已结束", timeout=15000)
        expect(dashboard.locator("#live a[href='/console/login']")).to_be_visible()
        shot(dashboard, "dashboard-session-ended")
        public_pages(browser)
        assert not CSP_VIOLATIONS, "\n".join(CSP_VIOLATIONS)
        browser.close()
    say("PASS")


if __name__ == "__main__":
    main()
