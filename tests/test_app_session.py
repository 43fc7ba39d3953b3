"""A person talking with the trained group: streaming replies, sessions, transcripts, and loading
the group from a git revision or a DVC experiment (real git and DVC in a temporary repository)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mascot.app.session import GROUP_MODEL, TrainedGroup
from mascot.app.workspace import WorkspaceError, group_files, resolve_rev
from mascot.chat.engine import DirectiveEvent, TokenEvent, TurnEvent
from mascot.chat.state import ConversationState
from mascot.registry import UnknownNameError

pytestmark = pytest.mark.usefixtures("one_thread")
ED_GROUP = ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]


@pytest.fixture(scope="module")
def group(tiny_group) -> TrainedGroup:
    return TrainedGroup.load(tiny_group)


def test_models_are_each_group_and_each_persona(group):
    models = group.models()
    assert models[GROUP_MODEL] == ("empathetic_dialogues", ED_GROUP)
    assert models["mascot-group-qmsum"][1] == ["the_facilitator", "the_analyst", "the_innovator", "the_implementer"]
    assert models["the_beacon"] == ("empathetic_dialogues", ["the_beacon"])
    with pytest.raises(UnknownNameError, match="(?i)did you mean 'mascot-group'"):
        group.session("mascot-grup")


def test_a_streamed_reply_is_the_batched_reply(group):
    """Chat and the pipeline write the same reply for the same conversation, key and settings:
    the stream's pieces add up to each turn, and the turns equal GroupEngine.reply's."""
    context = {
        "context_id": "c", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "anxious",
        "situation": "My exam is tomorrow.", "query": None, "history": [{"speaker": "user", "text": "My exam is tomorrow."}],
    }  # fmt: skip
    names = {p: group.cards.get(p).display_name for p in ED_GROUP}
    streamed, batched = (
        ConversationState.start(context, ED_GROUP, names),
        ConversationState.start(context, ED_GROUP, names),
    )
    events = list(group.engine.stream_reply(streamed, key="k"))
    group.engine.reply([batched], keys=["k"])
    assert [(t.speaker, t.text) for t in streamed.history] == [(t.speaker, t.text) for t in batched.history]
    turns = [e for e in events if isinstance(e, TurnEvent)]
    assert 1 <= len(turns) <= group.cfg.conversation.max_turns and len(turns) == len(streamed.agent_turns)
    pieces: list[str] = []
    for event in events:  # each turn: a directive, its pieces (the first marked), then the turn itself
        if isinstance(event, DirectiveEvent):
            assert not pieces
        elif isinstance(event, TokenEvent):
            assert event.start == (not pieces)
            pieces.append(event.text)
        else:
            assert "".join(pieces) == event.text and event.text  # what a streaming client shows is the turn
            pieces = []


def test_streamed_pieces_hold_back_whitespace_at_the_turns_edges(group, monkeypatch):
    """A client that concatenates the pieces sees exactly the stored turn, never a stray space."""
    monkeypatch.setattr(group.engine.backend, "stream", lambda *a, **k: iter(["  Hi", " there. ", " \n", "Friend.  ", " "]),
                        raising=False)  # fmt: skip
    context = {"context_id": "c", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "sad",
               "situation": "x", "query": None, "history": [{"speaker": "user", "text": "x"}]}  # fmt: skip
    state = ConversationState.start(context, ED_GROUP, {p: p for p in ED_GROUP})
    events = list(group.engine.stream_reply(state, key="w"))
    first_turn = next(e for e in events if isinstance(e, TurnEvent))
    pieces = [e.text for e in events[: events.index(first_turn)] if isinstance(e, TokenEvent)]
    # shown a finished sentence at a time: a turn is kept up to its last finished sentence
    assert pieces == ["Hi there.", "  \nFriend."] and first_turn.text == "Hi there.  \nFriend."


@pytest.mark.parametrize(
    "stream, shown",
    [
        # another speaker's line begins: the turn ends before it, and nothing of it was shown
        (
            ["I hear you.", " That is hard.\nThe Cat", "alyst: What if", " you tried?"],
            ["I hear you.", " That is hard."],
        ),
        # cut at the token budget mid-sentence: kept up to the last finished sentence
        (["That sounds so hard. I am", " here and I"], ["That sounds so hard."]),
        # a reply that never finishes a sentence is kept whole, shown at its end
        (["so much to carry"], ["so much to carry"]),
    ],
)
def test_a_streamed_turn_is_what_the_chat_keeps(group, monkeypatch, stream, shown):
    monkeypatch.setattr(group.engine.backend, "stream", lambda *a, **k: iter(stream), raising=False)
    context = {"context_id": "c", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "sad",
               "situation": "x", "query": None, "history": [{"speaker": "user", "text": "x"}]}  # fmt: skip
    state = ConversationState.start(context, ED_GROUP, {p: group.cards.get(p).display_name for p in ED_GROUP})
    events = list(group.engine.stream_reply(state, key="w"))
    first_turn = next(e for e in events if isinstance(e, TurnEvent))
    pieces = [e.text for e in events[: events.index(first_turn)] if isinstance(e, TokenEvent)]
    assert pieces == shown and first_turn.text == "".join(shown)


def test_session_turns_save_and_reset(group, tmp_path):
    session = group.session(GROUP_MODEL, emotion="anxious")
    first = [e for e in session.send("I have my driving test tomorrow.") if isinstance(e, TurnEvent)]
    second = [e for e in session.send("What if I fail again?") if isinstance(e, TurnEvent)]
    assert first and second and all(e.persona in ED_GROUP for e in first + second)
    assert session.state.context["situation"] == "I have my driving test tomorrow."  # the first message
    json_path, md_path = session.save(tmp_path / "talk.md")
    data = json.loads(json_path.read_text())
    assert [t["role"] for t in data["turns"]] == ["user"] + ["agent"] * len(first) + ["user"] + ["agent"] * len(second)
    assert data["emotion"] == "anxious" and data["group"] == ED_GROUP
    assert all(t["directive"]["speaker"] == t["speaker"] for t in data["turns"] if t["role"] == "agent")
    md = md_path.read_text()
    assert "**You:** What if I fail again?" in md and f"**{first[0].text and data['turns'][1]['name']}:**" in md
    session.reset()
    assert session.state is None


def test_a_single_persona_answers_alone_in_one_turn(group):
    session = group.session("the_anchor")
    events = list(session.send("I lost my keys."))
    turns = [e for e in events if isinstance(e, TurnEvent)]
    assert [t.persona for t in turns] == ["the_anchor"] and not any(
        isinstance(e, DirectiveEvent) and e.raw for e in events
    )


def test_emotion_is_optional_and_checked(group):
    session = group.session(GROUP_MODEL)
    session.add_user_turn("Work has been a lot lately.")
    system, user = group.engine.agent_messages(
        session.state, "the_anchor", session.group.engine.resolve_directive(session.state, "")
    )
    assert "The person feels" not in system["content"] and user == {
        "role": "user",
        "content": "Work has been a lot lately.",
    }
    with pytest.raises(KeyError, match="(?i)did you mean 'anxious'"):
        group.session(GROUP_MODEL, emotion="anxius")
    with pytest.raises(ValueError, match="empty message"):
        session.add_user_turn("   ")


def test_seed_and_temperature_make_replies_repeatable(group):
    def reply(seed):
        session = group.session(GROUP_MODEL, seed=seed, temperature=1.0)
        return [e.text for e in session.send("Hello there.") if isinstance(e, TurnEvent)]

    assert reply(1) == reply(1)
    assert reply(1) != reply(2)


def test_a_requests_token_budget_caps_the_reply_and_lowers_the_floor_with_it(group):
    floor = group.engine.settings.agent.min_new_tokens
    assert floor > 1  # the tiny group's params: a floor the budget below must lower
    agent = group.session(GROUP_MODEL, max_new_tokens=floor).settings().agent
    assert agent.max_new_tokens == floor and agent.min_new_tokens == floor - 1


# ------------------------------------------------------------------ revisions and experiments


def _run(cwd, *cmd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr[-2000:]}"
    return proc.stdout.strip()


def test_group_from_a_git_revision_and_an_experiment_name(tmp_path, tiny_group):
    """The group of an older commit is read from git and the DVC cache without a checkout."""
    repo = tmp_path / "repo"
    shutil.copytree(tiny_group, repo)
    _run(repo, "git", "init", "-q")
    _run(repo, "git", "config", "user.email", "t@example.com")
    _run(repo, "git", "config", "user.name", "t")
    _run(repo, sys.executable, "-m", "dvc", "init", "-q")
    _run(
        repo, sys.executable, "-m", "dvc", "add", "-q", "models/base", "models/sft", "models/agents", "models/director"
    )
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-q", "-m", "trained group")
    commit = _run(repo, "git", "rev-parse", "HEAD")
    # the workspace moves on: the director is gone
    shutil.rmtree(repo / "models/director")
    with pytest.raises(WorkspaceError, match="missing models/director"):
        group_files(repo)
    files = group_files(repo, rev="HEAD")
    assert files.rev == commit and (files.model("director") / "adapter_config.json").is_file()
    assert files.params.read_text() == (tiny_group / "params.yaml").read_text()
    # an experiment is a ref under refs/exps, named by its last component
    _run(repo, "git", "update-ref", f"refs/exps/{commit[:2]}/{commit[2:]}/lusty-lake", commit)
    assert resolve_rev(repo, "lusty-lake") == commit
    with pytest.raises(WorkspaceError, match="(?i)did you mean 'lusty-lake'"):
        resolve_rev(repo, "lusty-lak")
    group = TrainedGroup.load(repo, rev="lusty-lake")
    assert group.files.rev == commit
    assert [e for e in group.session(GROUP_MODEL).send("Hi.") if isinstance(e, TurnEvent)]
