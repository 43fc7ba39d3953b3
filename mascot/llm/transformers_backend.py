"""In-process generation with transformers: batched, left-padded, seeded, LoRA-aware."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from mascot.llm import Generation, Message, SamplingParams
from mascot.llm.base_model import DTYPES


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_causal_lm(path: str | Path, dtype: str = "float32", device: str = "auto"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[dtype]).to(pick_device(device))
    model.eval()
    return model, tokenizer


class TransformersBackend:
    """One base model; optional named LoRA adapters, one active per ``generate`` call.

    ``merge`` folds a single adapter into the weights (π_SFT on top of the base):
    same outputs, no per-token adapter overhead.
    """

    name = "transformers"

    def __init__(
        self,
        model_path: str | Path,
        adapters: dict[str, str | Path] | None = None,
        merge: str | Path | None = None,
        dtype: str = "float32",
        device: str = "auto",
        batch_size: int = 16,
        model_name: str | None = None,
    ):
        self.model, self.tokenizer = load_causal_lm(model_path, dtype, device)
        self.tokenizer.padding_side = "left"  # generation continues from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.model_name = model_name or str(model_path)
        if merge is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(merge)).merge_and_unload()
        self.adapters: list[str] = []
        for name, path in (adapters or {}).items():
            self.load_adapter(name, path)

    def load_adapter(self, name: str, path: str | Path) -> None:
        from peft import PeftModel

        if not self.adapters:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
        else:
            self.model.load_adapter(str(path), adapter_name=name)
        self.model.eval()
        self.adapters.append(name)

    def render(self, messages: list[Message]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])

    @torch.inference_mode()
    def generate(
        self, prompts: list[list[Message]], params: SamplingParams, seeds: list[int], adapter: str | None = None
    ) -> list[Generation]:
        """Generate one reply per prompt, in the order given.

        Prompts are grouped by length so batches carry little padding. Greedy
        (temperature 0) output does not depend on batching. Sampling is seeded per
        batch with the first seed of the batch, so a rerun with the same prompts,
        seeds and batch size reproduces every sample.
        """
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        texts = [self.render(m) for m in prompts]
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        out: list[Generation | None] = [None] * len(texts)
        with self._adapter(adapter):
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                for i, gen in zip(idx, self._generate_batch([texts[i] for i in idx], params, seeds[idx[0]])):
                    out[i] = gen
        return out  # type: ignore[return-value]

    def stream(
        self, messages: list[Message], params: SamplingParams, seed: int, adapter: str | None = None
    ) -> Iterator[str]:
        """One reply as it is generated: text pieces whose concatenation, stripped, is the text
        ``generate`` returns for the same prompt and seed (a batch of one samples the same tokens)."""
        from threading import Thread

        from transformers import TextIteratorStreamer

        enc = self.tokenizer([self.render(messages)], return_tensors="pt", add_special_tokens=False).to(
            self.model.device
        )
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kw = sampling_kwargs(params, enc["input_ids"].shape[1])
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode(), self._adapter(adapter):
                    torch.manual_seed(seed)
                    self.model.generate(
                        **enc, max_new_tokens=params.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                        eos_token_id=self._stop_ids(), top_k=None, streamer=streamer, **kw,
                    )  # fmt: skip
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)
                streamer.end()

        # generate() runs in a thread and feeds the streamer; this generator drains it
        thread = Thread(target=run, daemon=True)
        thread.start()
        first = True
        for piece in streamer:
            if first:  # generate() strips the reply; so does the stream, at its start
                piece = piece.lstrip()
                first = not piece
            if piece:
                yield piece
        thread.join()
        if failure:
            raise failure[0]

    def _generate_batch(self, texts: list[str], params: SamplingParams, seed: int) -> list[Generation]:
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        kw = sampling_kwargs(params, enc["input_ids"].shape[1])
        torch.manual_seed(seed)
        generated = self.model.generate(
            **enc,
            cache=self._shared_prefill(texts, enc),
            max_new_tokens=params.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self._stop_ids(),
            top_k=None,
            **kw,
        )
        new = generated[:, enc["input_ids"].shape[1] :]
        results = []
        stops = set(self._stop_ids())
        for text, row in zip(texts, new.tolist()):
            end = next((j for j, t in enumerate(row) if t in stops), None)
            tokens = row if end is None else row[:end]
            reply = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            results.append(Generation(reply, text, len(tokens), "length" if end is None else "stop"))
        return results

    def _shared_prefill(self, texts: list[str], enc):
        """Encode each distinct prompt once and share its KV cache between the rows that
        repeat it (the K samples of one context and persona). On CPU the prompt pass is
        most of the cost, so this makes K samples nearly as cheap as one."""
        from transformers import DynamicCache

        first = {t: i for i, t in reversed(list(enumerate(texts)))}
        if len(first) == len(texts):
            return None
        unique = sorted(set(first.values()))
        cache = DynamicCache(config=self.model.config)
        # every token but the last: generate() feeds the last one itself and starts decoding
        mask = enc["attention_mask"][unique, :-1]
        self.model(
            input_ids=enc["input_ids"][unique, :-1],
            attention_mask=mask,
            position_ids=(mask.long().cumsum(-1) - 1).clamp(min=0),  # as generate() numbers left-padded rows
            cache=cache,
            use_cache=True,
        )
        row_of = {i: r for r, i in enumerate(unique)}
        cache.batch_select_indices(torch.tensor([row_of[first[t]] for t in texts], device=self.model.device))
        return cache

    def _stop_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        gc_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(gc_eos if isinstance(gc_eos, list) else [gc_eos])
        return sorted(i for i in ids if i is not None)

    def _adapter(self, adapter: str | None):
        from contextlib import nullcontext

        if adapter is None:
            return self.model.disable_adapter() if self.adapters else nullcontext()
        if adapter not in self.adapters:
            from mascot.registry import UnknownNameError

            raise UnknownNameError("adapter", adapter, self.adapters)
        self.model.set_adapter(adapter)
        return nullcontext()


def sampling_kwargs(params: SamplingParams, prompt_length: int = 0) -> dict:
    """``generate``'s sampling arguments for ``params`` (greedy at temperature 0). The repetition
    penalty counts the reply's own tokens only (the prompt's ``prompt_length`` tokens are ignored):
    counted over the prompt too, it pushes a small model off the conversation's own words."""
    kw = (
        {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
        if params.temperature > 0
        else {"do_sample": False}
    )
    if params.repetition_penalty != 1.0:
        from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

        kw["logits_processor"] = LogitsProcessorList(
            [RepetitionPenaltyLogitsProcessor(params.repetition_penalty, prompt_ignore_length=prompt_length)]
        )
    if params.min_new_tokens:
        kw["min_new_tokens"] = params.min_new_tokens
    return kw
