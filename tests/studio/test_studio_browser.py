"""The studio end to end in headless Chromium: a run created from the form on a packaged
dataset, watched until its curve is drawn, its report, a comparison, the playground.

Screenshots of each page are written to the test's folder; with
``TUNEWISE_STUDIO_SCREENSHOTS=docs/studio`` they replace the ones the README shows.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.browser import headless_chrome
from tests.studio.conftest import registry_env, studio_server, train_tiny

PAGES = ("runs", "new", "run", "report", "compare", "playground")


def _driver(profile: Path):
    return headless_chrome(profile, "--window-size=1280,1000", "--hide-scrollbars")


def _shoot(driver, shots: Path, name: str) -> None:
    """The whole page (up to 2,000 px tall), from its top."""
    shots.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 2000))
    driver.save_screenshot(str(shots / f"{name}.png"))
    driver.set_window_size(1280, 1000)


def _unlabelled(driver) -> list[str]:
    """Form controls on the page a screen reader could not name."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('input, select, textarea'))"
        ".filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length)"
        " && !e.getAttribute('aria-label')).map(e => e.id || e.name || e.outerHTML);"
    )


@pytest.mark.browser
@pytest.mark.real
def test_studio_end_to_end(tiny_model_dir, tiny_files, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    reg, work, shots = tmp_path / "runs.db", tmp_path / "work", tmp_path / "shots"
    with registry_env(reg):  # two finished runs on the same test rows, to compare
        train_tiny(tiny_model_dir, tiny_files, tmp_path / "tiny-a")
        train_tiny(tiny_model_dir, tiny_files, tmp_path / "tiny-b", seed=8, epochs=3)
    driver = _driver(tmp_path / "chrome-profile")
    wait = lambda s=60: WebDriverWait(driver, s, poll_frequency=0.2)  # noqa: E731
    try:
        with studio_server(reg, work) as (_, url):
            # -- new run from the form: packaged dataset, preview, mapping, doctor, launch
            driver.get(f"{url}/new")
            assert not _unlabelled(driver)
            Select(driver.find_element(By.ID, "dataset")).select_by_value("sms-spam")
            wait(120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview-table tbody tr"))
            assert (
                Select(driver.find_element(By.ID, "text_column")).first_selected_option.text
                == "text"
            )
            assert (
                Select(driver.find_element(By.ID, "label_column")).first_selected_option.text
                == "label"
            )
            fields = {
                "name": "sms-from-form",
                "model": str(tiny_model_dir),
                "max_steps": "60",
                "batch_size": "32",
                "lr": "0.002",
                "max_length": "32",
                "extra": "train.threads=1\ntrain.bf16=false\ntrain.eval_every=20\ntask.label_issues=false",
            }
            for field, value in fields.items():
                box = driver.find_element(By.ID, field)
                box.clear()
                box.send_keys(value)
            driver.find_element(By.ID, "run-doctor").click()
            wait(180).until(lambda d: d.find_elements(By.ID, "doctor-findings"))
            cli = driver.find_element(By.ID, "cli-line")
            wait().until(lambda d: "--max-steps 60" in cli.text)
            assert cli.text.startswith("tunewise train --task classification --model ")
            assert "sms-spam/train.jsonl" in cli.text and "--out " in cli.text
            _shoot(driver, shots, "new")
            driver.find_element(By.ID, "launch").click()

            # -- the run page follows the job; the curve is drawn from the live stream
            wait(300).until(lambda d: re.search(r"/runs/\d+$", d.current_url))
            run_url = driver.current_url
            wait(300).until(
                lambda d: (
                    d.find_element(By.ID, "run-status").text == "completed"
                    and d.find_element(By.ID, "curve").get_attribute("data-done") == "1"
                )
            )
            curve = driver.find_element(By.ID, "curve")
            assert int(curve.get_attribute("data-points")) >= 3  # train loss every 10 steps
            assert int(driver.find_element(By.ID, "curve-dev").get_attribute("data-points")) >= 3
            assert curve.find_elements(By.CSS_SELECTOR, "path.series")
            assert "accuracy" in driver.find_element(By.CLASS_NAME, "headline").text
            assert driver.find_elements(By.CSS_SELECTOR, ".findings li")  # the doctor's findings
            wait().until(lambda d: "test rows" in d.find_element(By.ID, "pred-summary").text)
            assert (
                driver.find_element(By.ID, "report").get_attribute("src").endswith("/report.html")
            )
            _shoot(driver, shots, "run")

            # -- its report, as `tunewise report` wrote it
            driver.get(f"{run_url}/report.html")
            assert driver.title == "tunewise report: sms-from-form"
            _shoot(driver, shots, "report")

            # -- runs list: three runs; compare the two tiny ones (keyboard-reachable form)
            driver.get(url)
            rows = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
            assert len(rows) == 3
            assert "sms-from-form" in driver.find_element(By.ID, "runs").text
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
            assert driver.switch_to.active_element.get_attribute("class") == "skip"
            _shoot(driver, shots, "runs")
            name = lambda row: row.find_element(By.TAG_NAME, "a").text  # noqa: E731
            tiny_id = next(r.get_attribute("data-run") for r in rows if name(r) == "tiny-a")
            for row in rows:
                if name(row).startswith("tiny-"):
                    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").send_keys(Keys.SPACE)
            driver.find_element(By.XPATH, "//button[text()='Compare selected runs']").click()
            wait(120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".verdict .words"))
            assert len(driver.find_elements(By.CSS_SELECTOR, "#compare-curve path.series")) == 2
            assert "95%" in driver.find_element(By.CSS_SELECTOR, ".verdict").text
            _shoot(driver, shots, "compare")

            # -- playground: the form's run and a tiny run side by side
            run_id = run_url.rsplit("/", 1)[1]
            driver.get(f"{url}/playground?a={run_id}&b={tiny_id}")
            assert not _unlabelled(driver)
            driver.find_element(By.ID, "play-text").send_keys(
                "a great fun film, free prize call now"
            )
            driver.find_element(By.ID, "ask").click()
            wait(120).until(
                lambda d: (
                    d.find_elements(By.CSS_SELECTOR, "#answer-a .label")
                    and d.find_elements(By.CSS_SELECTOR, "#answer-b .label")
                )
            )
            assert driver.find_element(By.CSS_SELECTOR, "#answer-a .label").text in ("ham", "spam")
            assert driver.find_element(By.CSS_SELECTOR, "#answer-b .label").text in ("pos", "neg")
            _shoot(driver, shots, "playground")
            severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not severe, severe
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chrome-profile", ignore_errors=True)
    for name in PAGES:
        assert (shots / f"{name}.png").stat().st_size < 1_000_000
    target = os.environ.get("TUNEWISE_STUDIO_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name in PAGES:
            shutil.copy(shots / f"{name}.png", Path(target) / f"{name}.png")
