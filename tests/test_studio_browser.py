"""The studio's page in a real browser: headless Chromium from the system packages, driven by
Selenium through chromium-driver. It loads an instance, changes a lever, solves, and reads the
plan's NPV off the page; the NPV must be the library's."""
from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time

import pytest

from conftest import INSTANCES

pytest.importorskip("fastapi", reason="the studio extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or shutil.which("chromium-driver")
pytestmark = pytest.mark.skipif(not (BROWSER and DRIVER), reason=(
    "no system Chromium and chromium-driver (apt-get install chromium chromium-driver)"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serve(files, folder):
    import uvicorn

    from optimizer.studio.app import create_app
    app = create_app(files, folder)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(tmp_path):
    with _serve([INSTANCES / "quickstart.yaml"], tmp_path / "studio") as url:
        yield url


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_a_what_if_in_the_browser_shows_the_library_npv(served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from optimizer import load_instance, solve
    browser.get(served)
    wait = WebDriverWait(browser, 90)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#site-levers input")))
    scale = browser.find_element(By.ID, "lever-demand-scale")
    scale.clear()
    scale.send_keys("1.5")
    browser.find_element(By.ID, "solve").click()
    npv = wait.until(ready.presence_of_element_located((By.ID, "npv")))
    expected = solve(load_instance(INSTANCES / "quickstart.yaml", overrides={"demand_scale": 1.5}))
    assert float(npv.get_attribute("data-value")) == pytest.approx(expected.objective, rel=1e-4)
    assert "every demand figure x 1.5" in browser.find_element(By.ID, "runs").text
    # the plan's charts and tables are on the page
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#c-purchases .main-svg")))
    wait.until(ready.presence_of_element_located((By.ID, "first-decisions")))
    assert browser.find_element(By.ID, "first-title").text.startswith("What to do in 2026")
    first_order = browser.find_element(By.CSS_SELECTOR, "#first-decisions tr:nth-child(2)").text
    assert first_order.startswith("order 2026")
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_hostile_name_is_shown_as_text_and_never_runs(tmp_path, browser):
    # stored XSS: an instance and an accelerator named with markup that would run script if
    # inserted as HTML; the page shows the names as text and no script runs
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from conftest import base_instance, write_instance
    data = base_instance()
    data["name"] = "<img src=x onerror=\"document.title='owned'\">"
    data["accelerators"]["<img src=y onerror=\"document.title='owned'\">"] = \
        data["accelerators"].pop("A")
    path = write_instance(tmp_path, data)
    with _serve([path], tmp_path / "studio") as url:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#acc-levers input")))
        time.sleep(0.5)
        assert browser.title != "owned"
        assert "<img src=y" in browser.find_element(By.ID, "acc-levers").text
        assert "<img src=x" in browser.find_element(By.ID, "instance-select").text
        assert not browser.find_elements(By.CSS_SELECTOR, "#left img, #right img")


def _wait_for(browser, css, seconds=120):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, seconds).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_a_table_edited_and_pasted_in_the_page_is_what_is_solved(served, browser):
    # the demand grid shows the file's values; typing one cell and pasting a block of two
    # (as from a spreadsheet) change exactly those cells; the plan is the library's with
    # demand.chat and demand.reasoning set to the edited rows
    from selenium.webdriver.common.by import By

    from optimizer import load_instance, solve
    browser.get(served)
    _wait_for(browser, "#edit-table input")
    cell = browser.find_element(By.CSS_SELECTOR, '#edit-table input[data-row="chat"][data-column="2027"]')
    assert float(cell.get_attribute("value")) == 4.0e10
    cell.clear()
    cell.send_keys("5e10")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", cell)
    target = browser.find_element(By.CSS_SELECTOR, '#edit-table input[data-row="reasoning"][data-column="2027"]')
    browser.execute_script("""
        const data = new DataTransfer(); data.setData('text', '1.6e10\\t3.2e10\\n');
        arguments[0].dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));""",
                           target)
    assert "2 edits" in browser.find_element(By.ID, "edit-count").text
    browser.find_element(By.ID, "solve").click()
    npv = _wait_for(browser, "#npv")
    edits = {"demand.chat": {"2026": 2.0e10, "2027": 5.0e10, "2028": 7.0e10},
             "demand.reasoning": {"2026": 5.0e9, "2027": 1.6e10, "2028": 3.2e10}}
    expected = solve(load_instance(INSTANCES / "quickstart.yaml", overrides=edits))
    assert float(npv.get_attribute("data-value")) == pytest.approx(expected.objective, rel=1e-4)


def _forty_runs(folder, instance_key, name):
    """Forty finished runs on record (as a studio keeps them across restarts)."""
    import json
    for i in range(40):
        run = folder / "runs" / f"r{i:03d}"
        run.mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({
            "id": f"r{i:03d}", "instance": instance_key, "name": name,
            "overrides": {"demand_scale": 1 + i / 100}, "time_limit": 60,
            "status": "optimal", "changes": [f"every demand figure x {1 + i / 100:g}"],
            "created": 1.79e9 + i, "seconds": 1.0, "phase": "done"}))


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_national_plan_reads_right_at_common_screen_sizes(tmp_path, browser, size):
    # 12 sites, 40 runs: the site table never lies over the runs table; the runs list is paged;
    # every chart of the plan has a title and axis titles with units, and periods as categories
    import hashlib

    from selenium.webdriver.common.by import By
    path = (INSTANCES / "china-national-2027.yaml").resolve()
    key = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    _forty_runs(tmp_path / "studio", key, "china-national-2027")
    browser.set_window_size(*size)
    with _serve([path], tmp_path / "studio") as url:
        browser.get(url)
        _wait_for(browser, "#instance-info table")
        _wait_for(browser, "#runs tbody tr")
        sites = browser.find_element(By.CSS_SELECTOR, "#instance-info table").rect
        runs = browser.find_element(By.ID, "runs").rect
        left = browser.find_element(By.ID, "left").rect
        assert sites["x"] + min(sites["width"], left["width"]) <= runs["x"] + 1, (sites, runs)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 15
        assert "showing 15 of 40 runs" in browser.find_element(By.ID, "runs-count").text
        browser.find_element(By.ID, "lever-time-limit").clear()
        browser.find_element(By.ID, "lever-time-limit").send_keys("60")
        browser.find_element(By.ID, "solve").click()
        _wait_for(browser, "#npv", 180)
        _wait_for(browser, "#c-costs .main-svg")
        charts = browser.execute_script("""
            return [...document.querySelectorAll('#plan .chart')].filter((d) => d.layout).map((d) => ({
              id: d.id, title: (d.layout.title || {}).text, x: ((d.layout.xaxis || {}).title || {}).text,
              y: ((d.layout.yaxis || {}).title || {}).text, xtype: (d.layout.xaxis || {}).type }));""")
        assert {c["id"] for c in charts} >= {"c-purchases", "c-fleet", "c-power", "c-costs"}
        units = {"c-purchases": "cards", "c-fleet": "cards", "c-power": "MW", "c-costs": "USD"}
        for chart in charts:
            assert chart["title"] and chart["x"] and chart["y"], chart
            if chart["id"] in units:
                assert units[chart["id"]] in chart["y"], chart
                assert chart["xtype"] in ("category", "multicategory"), chart
        # no tick label is a fraction of a year ("2,025.5")
        ticks = browser.execute_script(
            "return [...document.querySelectorAll('#c-costs .xtick text')].map((t) => t.textContent)")
        assert ticks == ["2026", "2027", "2028"], ticks
        assert "1 sites" not in browser.find_element(By.TAG_NAME, "body").text


def test_an_invalid_upload_leaves_no_levers_of_another_instance(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    browser.get(served)
    _wait_for(browser, "#site-levers input")
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)))
    browser.find_element(By.ID, "upload").send_keys(str(junk))
    _wait_for(browser, "#instance-error")
    for _ in range(100):
        if "upload refused" in browser.find_element(By.ID, "instance-error").text:
            break
        time.sleep(0.1)
    assert "upload refused" in browser.find_element(By.ID, "instance-error").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#site-levers input")
    assert "junk" not in browser.find_element(By.ID, "instance-select").text


def test_sweeps_compare_and_first_screen_read_right(served, browser):
    # the first screen prompts; "1 site" (never "1 sites"); slots as counts ("30,000", never
    # "30.00 k"); a sweep over demand x 1 and x 50 marks x 50 as "no plan" with a link to its
    # reason; the compare boxes start on two different runs; a run with no plan compares as
    # a sentence, not raw JSON
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    browser.get(served)
    assert "press Solve" in _wait_for(browser, "#plan .prompt").text
    _wait_for(browser, "#instance-info table")
    info = browser.find_element(By.ID, "instance-info").text
    assert "1 sites" not in info and " k\n" not in info + "\n"
    sweep_values = browser.find_element(By.ID, "sweep-values")
    sweep_values.clear()
    sweep_values.send_keys("1,50")
    browser.find_element(By.ID, "sweep").click()
    _wait_for(browser, "#sweep-no-plan li a", 120)
    assert "demand_scale = 50: no plan exists" in browser.find_element(By.ID, "sweep-no-plan").text
    for _ in range(200):
        traces = browser.execute_script(
            "const d = document.getElementById('sweep-chart'); return d.data ? d.data.map((t) => t.x.length) : null")
        if traces == [1, 1]:
            break
        time.sleep(0.2)
    assert traces == [1, 1]      # one value with its NPV, one marked "no plan"
    layout = browser.execute_script("return document.getElementById('sweep-chart').layout")
    assert layout["xaxis"]["title"]["text"] == "demand_scale" and "NPV" in layout["yaxis"]["title"]["text"]
    time.sleep(1)                 # the sweep's last redraw (every 0.7 s until all are done)
    browser.find_element(By.CSS_SELECTOR, "#sweep-no-plan li a").click()
    _wait_for(browser, "#explanation")
    for _ in range(50):
        try:
            if "what would have to give" in browser.find_element(By.ID, "plan").text:
                break
        except Exception:       # the plan re-rendered under us
            pass
        time.sleep(0.2)
    assert "what would have to give" in browser.find_element(By.ID, "plan").text
    for _ in range(100):
        if len(Select(browser.find_element(By.ID, "compare-a")).options) >= 2:
            break
        time.sleep(0.2)
    a = browser.find_element(By.ID, "compare-a").get_attribute("value")
    b = browser.find_element(By.ID, "compare-b").get_attribute("value")
    assert a and b and a != b
    browser.find_element(By.ID, "compare").click()
    text = _wait_for(browser, "#compare-no-plan").text
    assert "has no plan:" in text and "{" not in text
