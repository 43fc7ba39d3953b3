"""The in-process backend: batching does not change greedy output, seeds reproduce samples,
LoRA adapters switch per persona, and candidate generation resumes after a crash."""

from __future__ import annotations

import pytest
import torch

from mascot.candidates import Request, generate_candidates
from mascot.llm import SamplingParams
from mascot.llm.transformers_backend import TransformersBackend, sampling_kwargs
from mascot.resume import RecordStore

PROMPTS = [
    [{"role": "system", "content": "You are The Anchor."}, {"role": "user", "content": text}]
    for text in (
        "I lost my job today.",
        "My sister is visiting next week and I am so excited about it, we have not seen each other in years!",
        "Hi.",
        "The meeting went badly; the client rejected the design and my manager blamed me for the delay.",
        "I passed the exam.",
    )
]
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=12)
SAMPLE = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=12)


@pytest.fixture(scope="module")
def backend(tiny_model):
    return TransformersBackend(tiny_model, batch_size=4, device="cpu")


def test_batched_greedy_equals_one_at_a_time(backend):
    # repeated prompts (the K samples of a context) share one prefill; that must not change the output
    batched = backend.generate(PROMPTS + PROMPTS[::2], GREEDY, seeds=[0] * 8)
    assert [g.text for g in batched[5:]] == [g.text for g in batched[:5:2]]
    batched = batched[:5]
    single = [backend.generate([p], GREEDY, seeds=[0])[0] for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    assert all(g.text for g in batched), "a random model still emits tokens"


def test_prompt_is_the_exact_chat_templated_text(backend):
    gen = backend.generate(PROMPTS[:1], GREEDY, seeds=[0])[0]
    assert gen.prompt == backend.tokenizer.apply_chat_template(PROMPTS[0], tokenize=False, add_generation_prompt=True)
    assert gen.prompt.endswith("<|im_start|>assistant\n")
    assert gen.finish_reason in ("stop", "length") and 0 < gen.completion_tokens <= GREEDY.max_new_tokens


def test_sampling_is_seeded_and_k_samples_differ(backend):
    same = [PROMPTS[0]] * 4
    first = backend.generate(same, SAMPLE, seeds=[11, 12, 13, 14])
    again = backend.generate(same, SAMPLE, seeds=[11, 12, 13, 14])
    other = backend.generate(same, SAMPLE, seeds=[99, 12, 13, 14])
    assert [g.text for g in first] == [g.text for g in again]
    assert len({g.text for g in first}) > 1, "K samples of one prompt must differ"
    assert [g.text for g in first] != [g.text for g in other]


def test_lora_adapters_switch_per_persona(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = {}
    for i, name in enumerate(("the_anchor", "the_catalyst")):
        torch.manual_seed(100 + i)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(tiny_model),
            LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        )
        paths[name] = tmp_path / name
        model.save_pretrained(paths[name])
    backend = TransformersBackend(tiny_model, adapters=paths, batch_size=4, device="cpu")
    out = {a: [g.text for g in backend.generate(PROMPTS, GREEDY, [0] * 5, adapter=a)] for a in (None, *paths)}
    assert out["the_anchor"] != out[None] and out["the_catalyst"] != out[None]
    assert out["the_anchor"] != out["the_catalyst"]
    # switching back gives the same text: adapters do not leak into each other or into the base
    assert [g.text for g in backend.generate(PROMPTS, GREEDY, [0] * 5, adapter=None)] == out[None]
    with pytest.raises(KeyError, match="Did you mean 'the_anchor'"):
        backend.generate(PROMPTS, GREEDY, [0] * 5, adapter="the_anchr")


class CountingBackend:
    """The real backend, counting what it is asked to generate."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.calls, self.fail_after = inner, 0, fail_after
        self.name, self.model_name = inner.name, inner.model_name

    def generate(self, prompts, params, seeds, adapter=None):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls += 1
        return self.inner.generate(prompts, params, seeds, adapter)


def test_candidates_resume_after_interruption_and_match_an_uninterrupted_run(backend, tmp_path):
    requests = [Request(f"ctx{i // 4}", "the_anchor", i % 4, PROMPTS[i % 5], 1000 + i) for i in range(12)]
    full = generate_candidates(requests, CountingBackend(backend), SAMPLE, RecordStore(tmp_path / "a.jsonl"), "fp", 4)

    store_path = tmp_path / "b.jsonl"
    dying = CountingBackend(backend, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        generate_candidates(requests, dying, SAMPLE, RecordStore(store_path), "fp", 4)
    with store_path.open("a") as fh:
        fh.write('{"key": "torn')  # a write cut short by the kill
    resumed_backend = CountingBackend(backend)
    store = RecordStore(store_path)
    assert store.loaded == 8 and store.torn_lines == 1
    resumed = generate_candidates(requests, resumed_backend, SAMPLE, store, "fp", 4)
    assert resumed_backend.calls == 1, "only the unfinished chunk is generated again"
    assert resumed == full

    # a finished run keeps only its own records; a different model never reuses cached text
    assert len(store_path.read_text().splitlines()) == 12
    fresh = CountingBackend(backend)
    generate_candidates(requests, fresh, SAMPLE, RecordStore(store_path), "other-model", 4)
    assert fresh.calls == 3
    assert len(store_path.read_text().splitlines()) == 12


def test_the_repetition_penalty_counts_the_replys_tokens_not_the_prompts():
    penalty = sampling_kwargs(SamplingParams(temperature=0.7, repetition_penalty=2.0), prompt_length=3)
    (processor,) = penalty["logits_processor"]
    ids = torch.tensor([[5, 6, 7, 8]])  # prompt 5, 6, 7; the reply so far: 8
    scores = processor(ids, torch.full((1, 10), 4.0))
    assert scores[0, 8] == 2.0  # the reply's own token is penalised (4 / 2)
    assert scores[0, 5] == scores[0, 6] == scores[0, 7] == 4.0  # the conversation's words stay as likely as before
    assert "logits_processor" not in sampling_kwargs(SamplingParams(temperature=0.7), prompt_length=3)
