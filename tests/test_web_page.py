"""The web page served by `mascot serve`, in headless Chromium (Debian's chromium + chromium-driver):
send a message, see each companion's reply under its name and colour, on a phone-sized screen.
The screenshot is kept in build/test-artifacts/ to look at."""

from __future__ import annotations

from .conftest import ARTIFACTS


def test_send_a_message_and_see_the_group_reply(browser, group_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(group_server + "/")
    wait.until(lambda b: Select(b.find_element(By.ID, "model")).options)
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.text == "mascot-group"
    assert "The Anchor" in browser.find_element(By.ID, "who").text
    Select(browser.find_element(By.ID, "emotion")).select_by_value("anxious")
    browser.find_element(By.ID, "text").send_keys("My exam is tomorrow and I cannot sleep.")
    browser.find_element(By.ID, "go").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.agent")))
    wait.until(lambda b: b.find_element(By.ID, "go").is_enabled())  # the whole reply has arrived
    agents = browser.find_elements(By.CSS_SELECTOR, ".msg.agent")
    names = [a.find_element(By.CLASS_NAME, "name").text for a in agents]
    assert 1 <= len(agents) <= 3 and set(names) <= {"The Anchor", "The Catalyst", "The Beacon", "Action Guide"}
    for agent in agents:  # the bubble shows the words, not the "Name: " prefix the plain content carries
        words = agent.text.split("\n", 1)[-1]
        assert words.strip() and not words.startswith(agent.find_element(By.CLASS_NAME, "name").text + ":")
    colors = {a.find_element(By.CLASS_NAME, "name").value_of_css_property("color") for a in agents}
    assert len(colors) == len(set(names))  # each companion in its own colour
    me = browser.find_element(By.CSS_SELECTOR, ".msg.me").text
    assert "My exam is tomorrow" in me
    width, screen = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert screen == 390 and width <= screen  # nothing overflows a phone's screen sideways
    # a second message carries the first reply back (the page is a plain OpenAI client)
    browser.find_element(By.ID, "text").send_keys("Thank you. What first?")
    browser.find_element(By.ID, "go").click()
    wait.until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, ".msg.me")) == 2 and b.find_element(By.ID, "go").is_enabled()
    )
    assert not browser.find_elements(By.CLASS_NAME, "error")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".msg.agent")) > len(agents)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "web_chat.png"))
