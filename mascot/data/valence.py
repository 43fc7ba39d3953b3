"""Valence of EmpatheticDialogues' 32 emotion labels: the ED "domain" of a context.

MASCOT treats emotional valence as the domain of an empathetic conversation, so the
32 fine-grained labels are folded into three groups:

* negative (16): the labels whose situations describe loss, threat, blame or
  frustration; a companion must comfort or de-escalate.
* positive (11): the labels whose situations describe success, gratitude or
  closeness; a companion shares the joy and builds on it.
* neutral (5): labels whose valence depends on the story rather than the word.
  ``anticipating`` and ``prepared`` look forward to something good or bad;
  ``nostalgic`` and ``sentimental`` are bittersweet; ``surprised`` is as often
  a shock as a treat. Forcing them into either pole would mislabel many
  conversations, so they form their own group.

The grouping follows the label semantics of Rashkin et al. (2019), whose 32 labels
come from Plutchik's wheel and related taxonomies; it is a fixed, documented choice,
not something learned from data.
"""

from __future__ import annotations

import difflib

NEGATIVE = (
    "afraid", "angry", "annoyed", "anxious", "apprehensive", "ashamed", "devastated", "disappointed",
    "disgusted", "embarrassed", "furious", "guilty", "jealous", "lonely", "sad", "terrified",
)  # fmt: skip
POSITIVE = (
    "caring", "confident", "content", "excited", "faithful", "grateful", "hopeful", "impressed",
    "joyful", "proud", "trusting",
)  # fmt: skip
NEUTRAL = ("anticipating", "nostalgic", "prepared", "sentimental", "surprised")

VALENCE: dict[str, str] = {
    **{e: "negative" for e in NEGATIVE},
    **{e: "positive" for e in POSITIVE},
    **{e: "neutral" for e in NEUTRAL},
}
assert len(VALENCE) == 32, "the 32 EmpatheticDialogues labels, each in exactly one group"


class UnknownEmotion(KeyError):
    """An emotion label that is not one of the 32 EmpatheticDialogues labels."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def valence(emotion: str) -> str:
    """``"positive"``, ``"negative"`` or ``"neutral"`` for an ED emotion label.

    Raises :class:`UnknownEmotion` (a ``KeyError``) naming the closest known label.
    """
    try:
        return VALENCE[emotion]
    except KeyError:
        close = difflib.get_close_matches(str(emotion).strip().lower(), VALENCE, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known labels: {', '.join(sorted(VALENCE))}"
        raise UnknownEmotion(f"unknown EmpatheticDialogues emotion {emotion!r}{hint}") from None
