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
progress and nothing personal, and a rejection's reason nowhere; the window answers the
rejection by resubmitting; a department asks for a supplement and the project's agent
hands it in from their portal and urges; reviewers of the office workflow sign steps,
claim, transfer, delegate, add a signer, approve, recall and return; supervision urges
from a project's page; an analyst reads a schedule and compares versions; logging out
ends the dashboard's live stream, and the page says so. No page breaks its
Content-Security-Policy (a violation in any page's console fails the walk), the print
buttons work without inline script, and no page shows a workflow's bare id (item, stage,
department) outside a secondary tag or an English refusal in the Chinese console.
"""

import json
import os
import re
import sys
import urllib.request

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

BASE, SHOTS, CHROMIUM = sys.argv[1], sys.argv[2], sys.argv[3]
WINDOW = "0000000000000000000000000000window"
SUPERVISOR = "000000000000000000000000supervisor"
ADMIN = "0000000000000000000000000000admin"
ANALYST = "00000000000000000000000000analyst"
DEPARTMENTS = ["ndrc", "nrp", "registry", "env", "water", "civil_defence", "drawing_review", "housing"]
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
SECRET_REASON = "REJECTION-REASON-不予公开"
PROJECT = "WALK-1"
OTHER = "WALK-2"
AGENTED = "WALK-3"
OFFICE = "WALK-OFFICE"
STAGES = ["attraction", "reserve", "approval", "construction", "acceptance"]
# The ids a page may show only as a secondary tag: items, stages and departments of the
# workflows walked (items are added from the deployed plans when the walk starts).
# (Department ids that are also English words — water, housing, registry — would match
# the workflow's own English names, so only the others are checked.)
RAW_IDS = {"ndrc", "nrp", "env", "civil_defence", "drawing_review"}
# English an engine refusal would carry, never shown in the Chinese console.
ENGLISH_REFUSALS = re.compile(r"cannot|may not|is held by|was urged|not a |unknown |must be")


def dept_token(d):
    return f"dept-{d}-00000000000000000000"


def reviewer_token(d, r):
    return f"rev-{d}-{r}-0000000000000000000"


def agent_token(a):
    return f"agent-{a}-0000000000000000000"
# Content-Security-Policy violations any page reported (the walk fails on one).
CSP_VIOLATIONS = []


def say(line):
    print(line, flush=True)


def move_clock(to):
    say(f"CLOCK {to}")
    answer = sys.stdin.readline().strip()
    assert answer == "OK", answer


# The screenshots taken in this walk (those taken once are taken on the first chance).
TAKEN = set()


AXE = Axe()


def accessible(page):
    """axe-core finds no serious or critical violation on the page."""
    found = AXE.run(page).response["violations"]
    bad = [v for v in found if v.get("impact") in ("serious", "critical")]
    assert not bad, f"accessibility on {page.url}:\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"]) for n in v["nodes"][:5])
        for v in bad)


def prints_on_a4(page, most_pages):
    """The document prints on A4: nothing wider than the printable width (210 mm less
    15 mm margins, at 96 px per inch), in at most `most_pages` pages."""
    page.emulate_media(media="print")
    size = page.viewport_size
    page.set_viewport_size({"width": 680, "height": 1000})
    try:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 680, f"{page.url} is {wide}px wide in print, wider than A4"
        pdf = page.pdf(format="A4", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert 1 <= pages <= most_pages, f"{page.url} prints on {pages} A4 pages"
    finally:
        page.set_viewport_size(size)
        page.emulate_media(media="screen")


def shot(page, name):
    people_first(page)
    accessible(page)
    TAKEN.add(name)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def people_first(page):
    """The page speaks the workflow's names: no bare item, stage or department id in its
    text outside a secondary tag (`.tag`, code, form controls), and no English refusal."""
    text = page.evaluate("""() => {
        const m = document.querySelector('main');
        if (!m) return '';
        const c = m.cloneNode(true);
        c.querySelectorAll('.tag, code, input, select, option, textarea, svg, #seal').forEach(e => e.remove());
        return c.innerText;
    }""")
    for raw in RAW_IDS:
        found = re.search(rf"(?<![A-Za-z0-9_./-]){re.escape(raw)}(?![A-Za-z0-9_/-])", text)
        assert not found, f"the bare id {raw!r} on {page.url}: …{text[max(0, found.start() - 60):found.end() + 60]}…"
    # A stage is shown by its name (Chinese first), never as its bare id.
    for cell in page.locator("#stage, td.stage").all_inner_texts():
        assert cell.strip() == "—" or re.search(r"[\u4e00-\u9fff]", cell), f"stage {cell!r} on {page.url}"
    errors = page.locator(".error").all_inner_texts()
    for e in errors:
        assert not ENGLISH_REFUSALS.search(e), f"an English refusal on {page.url}: {e}"


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
    prints_on_a4(page, 3)
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
    # 22 items and 16 materials, each with a long hostile reference: three pages at most.
    prints_on_a4(page, 3)
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


def learn_ids():
    """Every item id of the deployed workflows joins the ids a page must not show bare."""
    for w in api("GET", "/api/v1/workflows", ANALYST)["workflows"]:
        plan = json.loads(api("GET", f"/api/v1/workflows/{w['version']}/plan", ANALYST)["json"])
        RAW_IDS.update(i["id"] for i in plan["items"])


def resubmission(browser):
    """The window answers the rejection of WALK-2 (rejected in public_pages): the page
    says who refused and why (as text), and the window resubmits from it."""
    window = login(browser, WINDOW)
    window.goto(f"{BASE}/console/window/projects/{OTHER}")
    rejected = window.locator(".rejected")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("不予许可")
    expect(rejected).to_contain_text(SECRET_REASON)
    expect(rejected).to_contain_text("重新申请")
    not_pwned(window)
    shot(window, "rejected")
    # By keyboard alone: the form's button takes the focus and Enter sends it.
    form = window.locator("form[action$='/resubmit']")
    form.locator("button").focus()
    window.keyboard.press("Enter")
    expect(window.locator(".done")).to_contain_text("重新申请")
    expect(window.locator(".rejected")).to_have_count(0)
    shot(window, "resubmitted")
    # The public page no longer says 不予许可.
    window.goto(f"{BASE}/public/projects/{OTHER}")
    expect(window.locator("#status")).to_contain_text("办理中")
    window.context.close()


def supplement_and_agent(browser):
    """A department asks for a supplement; the project's agent (代办员) sees it on their
    portal with the department's note, hands it in and urges the next department."""
    version = next(w["version"] for w in api("GET", "/api/v1/workflows", WINDOW)["workflows"]
                   if w["id"] == "construction-parallel")
    api("POST", "/api/v1/projects", WINDOW, {
        "request_id": "walk-3", "project": AGENTED, "version": version, "applicant": "王五",
        "agent": "li",
        "form": {"project_name": "研发楼", "enterprise": "某科技公司", "industry": "industrial",
                 "land_supply": "grant", "new_construction_land": True, "floor_area": 8000,
                 "investment": 5000, "special_fire": False, "eia_category": "registration"},
        "materials": [{"material": m} for m in (
            "business_license project_info land_redline grant_payment cadastral_survey energy_report "
            "soil_plan design_scheme civil_defence_plan site_plan geotech_survey construction_drawings "
            "fire_design funding_commitment safety_measures").split()]})
    for item in ("A01", "R01"):
        api("POST", f"/api/v1/projects/{AGENTED}/items/{item}/milestone", WINDOW, {"request_id": f"walk-3-{item}"})
    ndrc = login(browser, dept_token("ndrc"))
    ndrc.goto(f"{BASE}/console/inbox/{AGENTED}/I01")
    form = ndrc.locator("form[action$='/supplement']")
    form.locator("select[name=needed]").select_option("project_info")
    form.locator("textarea[name=note]").fill("请补充项目投资额说明" + HOSTILE)
    shot(ndrc, "task-supplement")
    form.locator("button").click()
    expect(ndrc.locator(".done")).to_contain_text("一次性告知补正")
    ndrc.context.close()

    agent = login(browser, agent_token("li"))
    assert agent.url.endswith("/console/agent"), agent.url
    row = agent.locator(f"#agent-projects tr[data-project='{AGENTED}']")
    expect(row).to_contain_text("提交补正材料")
    expect(agent.locator(f"#agent-projects tr[data-project='{PROJECT}']")).to_have_count(0)
    shot(agent, "agent-home")
    row.get_by_role("link").click()
    expect(agent.locator(".supplement")).to_contain_text("请补充项目投资额说明")
    not_pwned(agent)
    shot(agent, "agent-project")
    agent.locator("form[action$='/items/I01/supplement'] button").click()
    expect(agent.locator(".done")).to_contain_text("提交补正材料")
    # Urging the department: once a day; the second is refused in Chinese.
    urge = agent.locator("form[action$='/items/I01/urge']")
    urge.locator("textarea").fill("请尽快办理" + HOSTILE)
    urge.locator("button").click()
    expect(agent.locator(".done")).to_contain_text("催办")
    urge = agent.locator("form[action$='/items/I01/urge']")
    urge.locator("textarea").fill("再次催办")
    urge.locator("button").click()
    expect(agent.locator(".error")).to_contain_text("今天已催办过")
    shot(agent, "agent-urged-twice")
    # Another agent's project is not theirs, whatever the URL says.
    response = agent.goto(f"{BASE}/console/window/projects/{PROJECT}")
    assert response.status == 404, response.status
    agent.context.close()


def office(browser):
    """The office's verbs, each from its form on the task page: sign (受理, 会签), claim,
    transfer, approve, recall, delegate, add a signer, return."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "scenarios", "workflows", "office.yaml"), encoding="utf-8") as f:
        yaml = f.read().replace("../../../workflows/calendars/cn", "calendars/cn")
    version = api("POST", "/api/v1/workflows", ADMIN, {"file_name": "office.yaml", "yaml": yaml})["version"]
    learn_ids()
    api("POST", "/api/v1/projects", WINDOW, {
        "request_id": "walk-office", "project": OFFICE, "version": version, "applicant": "赵六",
        "form": {"height": 30}, "materials": [{"material": "drawings"}]})

    def task(page, item):
        page.goto(f"{BASE}/console/inbox/{OFFICE}/{item}")

    def sign(page, item, opinion):
        task(page, item)
        page.locator("form[action$='/sign'] textarea[name=reason]").fill(opinion)
        page.click("#sign")
        expect(page.locator(".done")).to_contain_text("签署意见")

    zhang = login(browser, reviewer_token("plan", "zhang"))
    li = login(browser, reviewer_token("plan", "li"))
    wang = login(browser, reviewer_token("plan", "wang"))
    task(zhang, "D1")
    shot(zhang, "task-steps")
    sign(zhang, "D1", "予以受理")
    sign(zhang, "D1", "同意" + HOSTILE)
    sign(li, "D1", "同意")
    expect(li.locator("main")).to_contain_text("抄送")
    not_pwned(li)
    shot(li, "task-signed")
    # Claimed by zhang, handed to wang, who decides.
    task(zhang, "D1")
    zhang.click("#claim")
    zhang.locator("form[action$='/transfer'] input[name=to]").fill("wang")
    zhang.click("#transfer")
    expect(zhang.locator(".done")).to_contain_text("转办")
    expect(zhang.locator("main")).to_contain_text("由 zhang 转办给 wang")
    shot(zhang, "task-transferred")
    # zhang no longer holds it: deciding is refused, in Chinese, naming who does.
    zhang.click("#approve")
    expect(zhang.locator(".error")).to_contain_text("现由 wang 承办")
    shot(zhang, "task-held-by-another")
    task(wang, "D1")
    wang.click("#approve")
    expect(wang.locator(".done")).to_contain_text("准予许可")
    # env decides, recalls its decision, decides again.
    env = login(browser, dept_token("env"))
    task(env, "E1")
    env.click("#approve")
    task(env, "E1")
    env.click("#recall")
    expect(env.locator(".done")).to_contain_text("撤回决定")
    shot(env, "task-recalled")
    env.click("#approve")
    # review/a asks b for an opinion (委派); b signs on a's behalf.
    a = login(browser, reviewer_token("review", "a"))
    task(a, "R1")
    a.locator("form[action$='/delegate'] input[name=to]").fill("b")
    a.click("#delegate")
    expect(a.locator(".done")).to_contain_text("委派")
    b = login(browser, reviewer_token("review", "b"))
    sign(b, "R1", "同意（受托）")
    expect(b.locator("main")).to_contain_text("受 a 委派")
    shot(b, "task-delegated")
    # wang adds zhang as a signer after him on P1's examination; both sign; then the
    # department returns the project to D1, whose design must change.
    task(wang, "P1")
    wang.locator("form[action$='/add-signer'] input[name=reviewer]").fill("zhang")
    wang.click("#add-signer")
    expect(wang.locator(".done")).to_contain_text("加签")
    sign(wang, "P1", "同意")
    sign(zhang, "P1", "同意")
    plan = login(browser, dept_token("plan"))
    task(plan, "P1")
    form = plan.locator("form[action$='/return']")
    form.locator("select[name=to]").select_option("D1")
    form.locator("textarea[name=reason]").fill("设计方案须修改" + HOSTILE)
    shot(plan, "task-return")
    plan.click("#return")
    expect(plan.locator(".done")).to_contain_text("退回")
    plan.goto(f"{BASE}/console/inbox/{OFFICE}/D1")
    expect(plan.locator("main")).to_contain_text("设计方案须修改")
    not_pwned(plan)
    shot(plan, "task-returned")
    for p in (zhang, li, wang, env, a, b, plan):
        p.context.close()


def oversight(browser):
    """Supervision urges a department from a project's page and reads its record."""
    supervisor = login(browser, SUPERVISOR)
    supervisor.goto(f"{BASE}/console/supervision/projects/{OTHER}")
    rows = supervisor.locator("#items form[action$='/urge']")
    expect(rows).not_to_have_count(0)
    form = rows.first
    form.locator("textarea").fill("监察催办：请按时办结")
    form.locator("button").click()
    expect(supervisor.locator(".done")).to_contain_text("催办")
    expect(supervisor.locator("#events")).to_contain_text("监察催办")
    shot(supervisor, "oversight")
    supervisor.context.close()


def analysis(browser):
    """An analyst lands on the analysis, reads a schedule, compares two versions."""
    page = login(browser, ANALYST)
    assert page.url.endswith("/console/analysis"), page.url
    shot(page, "analysis")
    page.locator("#versions tr", has_text="工程建设项目并联审批").first.get_by_role("link").click()
    expect(page.locator("#critical-path li")).not_to_have_count(0)
    shot(page, "analysis-plan")
    # The serial procedure against the parallel one, as an analyst shows the cut: tick
    # both (the form sends them in the list's order), then the serial one first as the
    # baseline.
    page.goto(f"{BASE}/console/analysis")
    version = {}
    for w in ("construction-serial", "construction-parallel"):
        box = page.locator(f"#versions tr[data-workflow='{w}'] input[name=v]").first
        box.check()
        version[w] = box.get_attribute("value")
    page.click("form[action='/console/analysis/compare'] button")
    expect(page.locator("#comparison tbody tr")).to_have_count(2)
    page.goto(f"{BASE}/console/analysis/compare?v={version['construction-serial']}"
              f"&v={version['construction-parallel']}&limits=statutory")
    expect(page.locator("#comparison tbody tr").nth(1).locator("td.delta")).to_contain_text("缩短")
    shot(page, "analysis-compare")
    page.context.close()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"])
        learn_ids()
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
        prints_on_a4(window, 1)
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
        resubmission(browser)
        supplement_and_agent(browser)
        office(browser)
        oversight(browser)
        analysis(browser)
        assert not CSP_VIOLATIONS, "\n".join(CSP_VIOLATIONS)
        browser.close()
    say("PASS")


if __name__ == "__main__":
    main()
