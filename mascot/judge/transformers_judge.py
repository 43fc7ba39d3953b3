"""The in-process judge: one forward pass over the shared prompt of each candidate, then
the short per-criterion suffixes on top of its KV cache, reading the next-token
probabilities of the digits 1..5. Deterministic, so a re-ask would repeat the answer:
an item whose distribution puts too little mass on the digits is recorded failed."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mascot.config import JudgeConfig
from mascot.judge import (
    DIGITS,
    JUDGES,
    JudgeItem,
    JudgeStats,
    Score,
    failed,
    judge_messages,
    parse_json_score,
    score_from_digit_probs,
)
from mascot.llm.transformers_backend import load_causal_lm
from mascot.prompts import Prompts


@JUDGES.register("transformers")
class TransformersJudge:
    def __init__(self, cfg: JudgeConfig, model_path: str | Path, prompts: Prompts, device: str = "cpu",
                 dtype: str = "float32", model_name: str | None = None):
        self.cfg, self.prompts, self.name = cfg, prompts, cfg.name
        self.model_name = model_name or str(model_path)
        self.model, self.tokenizer = load_causal_lm(model_path, dtype, device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stats = JudgeStats()
        # a digit may be its own token or carry a leading space, depending on the tokenizer
        self.digit_ids: dict[str, list[int]] = {}
        for d in DIGITS:
            ids = {tuple(self.tokenizer.encode(v, add_special_tokens=False)) for v in (d, " " + d)}
            self.digit_ids[d] = sorted({t[0] for t in ids if len(t) == 1})
        if not all(self.digit_ids.values()):
            raise ValueError(f"judge {self.name}: the tokenizer of {model_path} has no single token for every digit 1..5")
        self.method = "json" if cfg.scoring == "json" else "logprobs"
        self.answer_prefix = prompts.render("judge_answer.jinja") + " "

    def _text(self, item: JudgeItem, criterion) -> str:
        messages = judge_messages(self.prompts, item, criterion, self.method)
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # Opening the answer with "Score:" puts most of a small model's next-token mass on the
        # digits (SmolLM2-135M: ~4 % without, ~75 % with); a chat API cannot do this portably.
        return text + self.answer_prefix if self.method == "logprobs" else text

    def judge(self, items: list[JudgeItem]) -> list[list[Score]]:
        out = []
        for start in range(0, len(items), self.cfg.batch_size):
            batch = items[start : start + self.cfg.batch_size]
            out.extend(self._json_batch(batch) if self.method == "json" else self._logprob_batch(batch))
        return out

    @torch.inference_mode()
    def _logprob_batch(self, items: list[JudgeItem]) -> list[list[Score]]:
        tok, model = self.tokenizer, self.model
        per_item = [[tok.encode(self._text(it, c), add_special_tokens=False) for c in it.rubric.criteria] for it in items]
        # the shared prefix is the longest common token prefix of an item's criterion prompts,
        # less one token so every suffix is non-empty
        prefixes = []
        for seqs in per_item:
            n = min(len(s) for s in seqs) - 1
            while any(s[:n] != seqs[0][:n] for s in seqs):
                n -= 1
            prefixes.append(seqs[0][:n])
        width = max(len(p) for p in prefixes)
        pad = tok.pad_token_id
        prefix_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prefixes])
        prefix_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prefixes])
        from transformers import DynamicCache

        cache = DynamicCache(config=model.config)
        model(
            input_ids=prefix_ids.to(model.device),
            attention_mask=prefix_mask.to(model.device),
            position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0).to(model.device),
            cache=cache,
            use_cache=True,
        )
        self.stats.calls += 1
        self.stats.prompt_tokens += sum(len(p) for p in prefixes)
        rows = [(i, seqs[j][len(prefixes[i]) :]) for i, seqs in enumerate(per_item) for j in range(len(seqs))]
        cache.batch_select_indices(torch.tensor([i for i, _ in rows], device=model.device))
        s_width = max(len(s) for _, s in rows)
        suffix_ids = torch.tensor([s + [pad] * (s_width - len(s)) for _, s in rows])  # right-padded: pads come last
        suffix_mask = torch.tensor([[1] * len(s) + [0] * (s_width - len(s)) for _, s in rows])
        start = torch.tensor([len(prefixes[i]) for i, _ in rows]).unsqueeze(1)
        logits = model(
            input_ids=suffix_ids.to(model.device),
            attention_mask=torch.cat([prefix_mask[[i for i, _ in rows]], suffix_mask], dim=1).to(model.device),
            position_ids=(start + torch.arange(s_width)).to(model.device),
            cache=cache,
            use_cache=True,
        ).logits
        self.stats.prompt_tokens += int(suffix_mask.sum())
        last = torch.tensor([len(s) - 1 for _, s in rows])
        probs = torch.softmax(logits[torch.arange(len(rows)), last].float(), dim=-1).cpu()

        results: list[list[Score]] = [[] for _ in items]
        for r, (i, _) in enumerate(rows):
            criterion = items[i].rubric.criteria[len(results[i])]
            digit_p = {d: float(probs[r, ids].sum()) for d, ids in self.digit_ids.items()}
            parsed = score_from_digit_probs(digit_p, self.cfg.min_digit_mass)
            if parsed.score is None:
                self.stats.failures += 1
                results[i].append(failed(criterion.name, "logprobs", 1, json.dumps({"error": parsed.error, **json.loads(parsed.raw)})))
            else:
                results[i].append(Score(criterion.name, parsed.score, "ok", "logprobs", 1, parsed.raw))
        return results

    @torch.inference_mode()
    def _json_batch(self, items: list[JudgeItem]) -> list[list[Score]]:
        """Strict-JSON scoring by greedy generation (for judges asked not to use logprobs)."""
        texts = [self._text(it, c) for it in items for c in it.rubric.criteria]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        out = self.model.generate(**enc, max_new_tokens=16, do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        replies = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        self.stats.calls += 1
        self.stats.prompt_tokens += int(enc["attention_mask"].sum())
        results, k = [], 0
        for it in items:
            scores = []
            for c in it.rubric.criteria:
                parsed = parse_json_score(replies[k])
                k += 1
                if parsed.score is None:
                    self.stats.failures += 1
                    scores.append(failed(c.name, "json", 1, json.dumps({"error": parsed.error, "reply": parsed.raw})))
                else:
                    scores.append(Score(c.name, parsed.score, "ok", "json", 1, parsed.raw))
            results.append(scores)
        return results
