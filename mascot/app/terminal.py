"""`mascot chat`: a conversation with the trained group in the terminal, streamed as it is written."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from mascot.app.session import Session
from mascot.chat.engine import DirectiveEvent, TokenEvent, TurnEvent

ANSI = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36, "white": 37}
HELP = "/who the companions · /directives show or hide the director · /reset start over · /save FILE · /quit"


class Terminal:
    def __init__(
        self, session: Session, out: TextIO = sys.stdout, show_directives: bool = False, color: bool | None = None
    ):
        self.session, self.out, self.show_directives = session, out, show_directives
        # NO_COLOR (no-color.org) and pipes get plain text
        self.color = (out.isatty() and "NO_COLOR" not in os.environ) if color is None else color

    def paint(self, text: str, color: str | None, dim: bool = False) -> str:
        if not self.color:
            return text
        codes = [str(ANSI[color])] if color in ANSI else []
        codes += ["1"] if not dim else ["2"]
        return f"\033[{';'.join(codes)}m{text}\033[0m"

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def run(self, read=input) -> int:
        names = ", ".join(p.display_name for p in self.session.personas_shown())
        self.say(f"You are talking with {names}. {HELP}")
        while True:
            try:
                line = read("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                self.say()
                return 0
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) is False:
                    return 0
                continue
            try:
                self.reply(line)
            except KeyboardInterrupt:  # stop this reply, keep the conversation
                self.say(self.paint(" [interrupted]", None, dim=True))

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name == "/who":
            for p in self.session.personas_shown():
                self.say(f"{self.paint(p.display_name, p.color)} ({p.name}) — {p.role}: {p.description}")
        elif name == "/reset":
            self.session.reset()
            self.say("(a new conversation)")
        elif name == "/directives":
            self.show_directives = not self.show_directives
            self.say(f"(director's directives {'shown' if self.show_directives else 'hidden'})")
        elif name == "/save":
            if not arg.strip():
                self.say("usage: /save FILE  (writes FILE.json and FILE.md)")
            else:
                try:
                    paths = self.session.save(arg.strip())
                    self.say(f"saved {paths[0]} and {paths[1]}")
                except OSError as exc:
                    self.say(f"could not save: {exc}")
        else:
            self.say(f"unknown command {name}. {HELP}")
        return True

    def reply(self, text: str) -> None:
        for event in self.session.send(text):
            if isinstance(event, DirectiveEvent) and self.show_directives and not self.session.single:
                d = event.directive
                note = "" if d.valid else f" (fallback: {d.problem})"
                self.say(self.paint(f"  [director] {d.speaker}: {d.instruction}{note}", None, dim=True))
            elif isinstance(event, TokenEvent):
                if event.start:
                    self.name(event.persona)
                self.say(event.text, end="")
            elif isinstance(event, TurnEvent):
                if not event.text:  # nothing was streamed: still show who took the turn
                    self.name(event.persona)
                self.say()

    def name(self, persona: str) -> None:
        card = self.session.group.cards.get(persona)
        self.say(self.paint(f"{card.display_name}:", card.color) + " ", end="")
