"""The names params choose from where the things named live above config: generation and judge
backends, the director's speaker rules, evaluation systems and Myers-Briggs types.

``mascot/config.py`` validates params against these and imports nothing but core modules, so
loading params imports no backend, engine or evaluation code. The modules that implement each name
(:mod:`mascot.llm`, :mod:`mascot.judge`, :mod:`mascot.chat.directive`, :mod:`mascot.eval.systems`,
:mod:`mascot.eval.mbti`) take or are checked against the same names (``tests/test_layers.py``).
"""

from __future__ import annotations

from typing import Literal

# what generates or judges: in-process transformers, or an OpenAI-compatible server (the registries
# mascot.llm.BACKENDS and mascot.judge.JUDGES hold one implementation of each)
BackendName = Literal["transformers", "openai"]

# Who the director may name next within one group reply (AutoGen's SelectorGroupChat filters its
# candidates the same way before it asks the selector):
#   least_spoken: those who have spoken least in this reply, so nobody speaks twice before everyone
#                 has spoken once (the warm start's teacher follows this rule);
#   not_last:     anyone but the companion who spoke last (AutoGen's allow_repeated_speaker=False);
#   any:          the whole group.
SpeakerRule = Literal["least_spoken", "not_last", "any"]

# the systems an evaluation compares (mascot/eval/systems.py registers and documents each)
SYSTEM_NAMES = (
    "mascot", "mascot_p", "mascot_c", "sft", "zero_shot", "zero_shot_cot", "few_shot", "few_shot_cot",
    "self_consistency", "multiagent_esc", "single",
)  # fmt: skip

# the 16 Myers-Briggs types of the MBTI study's simulated users
MBTI_TYPES = tuple(a + b + c + d for a in "IE" for b in "SN" for c in "TF" for d in "JP")
