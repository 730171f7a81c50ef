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
