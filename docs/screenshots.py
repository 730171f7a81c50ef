"""Take the README's studio screenshots in headless Chromium (the system's), 1280x720:
docs/studio.png (a grid-cap what-if on zhengzhou-30k) and docs/studio-national.png (the
national instance's plan, 12 sites).

    python docs/screenshots.py
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def shoot(browser, url: str, instance: str, levers: dict[str, str], target: Path,
          scroll_to: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select, WebDriverWait
    wait = WebDriverWait(browser, 240)
    browser.get(url)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#site-levers input")))
    Select(browser.find_element(By.ID, "instance-select")).select_by_visible_text(instance)
    time.sleep(1.5)
    for selector, value in levers.items():
        box = browser.find_element(By.CSS_SELECTOR, selector)
        box.clear()
        box.send_keys(value)
    browser.find_element(By.ID, "solve").click()
    try:
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#c-costs .main-svg")))
    except Exception:
        print(browser.find_element(By.ID, "plan").text[:2000], browser.get_log("browser"))
        raise
    time.sleep(1.0)
    browser.execute_script(f"document.querySelector({scroll_to!r}).scrollIntoView()")
    time.sleep(0.5)
    browser.save_screenshot(str(target))


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    from test_studio_browser import _serve
    options = Options()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,720", "--hide-scrollbars"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    files = [REPO / "instances" / "zhengzhou-30k.yaml",
             REPO / "instances" / "china-national-2027.yaml"]
    try:
        with tempfile.TemporaryDirectory() as folder, _serve(files, Path(folder)) as url:
            shoot(browser, url, "zhengzhou-30k", {'input[data-lever="grid_mw:zhengzhou"]': "60",
                                                  "#lever-time-limit": "60"},
                  REPO / "docs" / "studio.png", "#right")
            shoot(browser, url, "china-national-2027", {"#lever-time-limit": "60"},
                  REPO / "docs" / "studio-national.png", "#c-power")
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
