"""`mascot chat` driven through a pseudo-terminal: a two-turn conversation, /who, /save, /quit."""

from __future__ import annotations

import json
import sys

import pexpect

PROMPT = "you> "


def test_two_turns_who_and_save(tiny_group, tmp_path):
    chat = pexpect.spawn(
        sys.executable, ["-m", "mascot.cli", "chat", "--repo", str(tiny_group), "--emotion", "anxious", "--show-directives"],
        encoding="utf-8", timeout=120, dimensions=(40, 200), env={"PATH": "/usr/bin:/bin", "TERM": "xterm"},
    )  # fmt: skip
    try:
        chat.expect("You are talking with The Anchor, The Catalyst, The Beacon, Action Guide")
        chat.expect_exact(PROMPT)
        chat.sendline("My exam is tomorrow and I cannot sleep.")
        chat.expect(r"\[director\] (the_anchor|the_catalyst|the_beacon|the_action_guide): ")
        # each turn starts with the companion's name in its colour (bold ANSI), then its words
        chat.expect(r"\x1b\[3\d;1m(The Anchor|The Catalyst|The Beacon|Action Guide):")
        chat.expect_exact(PROMPT)
        chat.sendline("Thanks. What should I do first?")
        chat.expect_exact(PROMPT)
        chat.sendline("/who")
        chat.expect_exact("(the_anchor) — Emotional Validator")
        chat.expect_exact(PROMPT)
        chat.sendline(f"/save {tmp_path / 'talk'}")
        chat.expect("saved .*talk.json and .*talk.md")
        chat.expect_exact(PROMPT)
        chat.sendline("/quit")
        chat.expect(pexpect.EOF)
    finally:
        chat.close()
    assert chat.exitstatus == 0
    data = json.loads((tmp_path / "talk.json").read_text())
    users = [t["text"] for t in data["turns"] if t["role"] == "user"]
    assert users == ["My exam is tomorrow and I cannot sleep.", "Thanks. What should I do first?"]
    roles = [t["role"] for t in data["turns"]]
    assert roles[0] == "user" and roles.index("user", 1) > 1 and roles[-1] == "agent"  # the group answered both
    assert (
        data["emotion"] == "anxious"
        and "**You:** Thanks. What should I do first?" in (tmp_path / "talk.md").read_text()
    )
