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


class TransformersJudge:
    def __init__(
        self,
        cfg: JudgeConfig,
        model_path: str | Path,
        prompts: Prompts,
        device: str = "cpu",
        dtype: str = "float32",
        model_name: str | None = None,
    ):
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
            raise ValueError(
                f"judge {self.name}: the tokenizer of {model_path} has no single token for every digit 1..5"
            )
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
        """Every (item, criterion) prompt read in three shared passes: the prefix a group of items has in
        common (the rubric in the system message, the context and companion they share), then each item's
        own part (its reply), then each criterion's few tokens, each on the cache of the one before."""
        tok = self.tokenizer
        per_item = [
            [tok.encode(self._text(it, c), add_special_tokens=False) for c in it.rubric.criteria] for it in items
        ]
        groups: dict[tuple, list[int]] = {}
        for i, it in enumerate(items):
            groups.setdefault(head_key(it), []).append(i)
        group_of = [0] * len(items)
        heads, middles = [], [[] for _ in items]
        for g, members in enumerate(groups.values()):
            head = common_prefix([s for i in members for s in per_item[i]])
            heads.append(head)
            for i in members:
                group_of[i] = g
                middles[i] = common_prefix([s[len(head) :] for s in per_item[i]])
        rows = [(i, s[len(heads[group_of[i]]) + len(middles[i]) :]) for i, seqs in enumerate(per_item) for s in seqs]

        cache, mask, ends = self._extend(None, None, heads, left_pad=True, starts=[0] * len(heads))
        cache.batch_select_indices(torch.tensor(group_of, device=self.model.device))
        cache, mask, ends = self._extend(cache, mask[group_of], middles, starts=[ends[g] for g in group_of])
        cache.batch_select_indices(torch.tensor([i for i, _ in rows], device=self.model.device))
        logits, last = self._extend(cache, mask[[i for i, _ in rows]], [s for _, s in rows],
                                    starts=[ends[i] for i, _ in rows], logits=True)  # fmt: skip
        self.stats.calls += 1
        probs = torch.softmax(logits[torch.arange(len(rows)), last].float(), dim=-1).cpu()

        results: list[list[Score]] = [[] for _ in items]
        for r, (i, _) in enumerate(rows):
            criterion = items[i].rubric.criteria[len(results[i])]
            digit_p = {d: float(probs[r, ids].sum()) for d, ids in self.digit_ids.items()}
            parsed = score_from_digit_probs(digit_p, self.cfg.min_digit_mass)
            if parsed.score is None:
                self.stats.failures += 1
                results[i].append(
                    failed(criterion.name, "logprobs", 1, json.dumps({"error": parsed.error, **json.loads(parsed.raw)}))
                )
            else:
                results[i].append(Score(criterion.name, parsed.score, "ok", "logprobs", 1, parsed.raw))
        return results

    def _extend(
        self, cache, mask, seqs: list[list[int]], starts: list[int], left_pad: bool = False, logits: bool = False
    ):
        """Run ``seqs`` (one per row of ``cache``) on top of it, padded to one width; positions go on from
        ``starts``. Returns the cache, the attention mask so far and each row's length so far, or with
        ``logits`` the logits and the index of each row's last real token."""
        from transformers import DynamicCache

        pad, width = self.tokenizer.pad_token_id, max(len(s) for s in seqs)
        if width == 0:  # nothing of their own in these rows: the cache already holds all of it
            return cache, mask, starts
        fill = [[pad] * (width - len(s)) for s in seqs]
        ids = torch.tensor([f + s if left_pad else s + f for s, f in zip(seqs, fill)])
        own = torch.tensor(
            [[0] * len(f) + [1] * len(s) if left_pad else [1] * len(s) + [0] * len(f) for s, f in zip(seqs, fill)]
        )
        positions = (own.cumsum(-1) - 1).clamp(min=0) if left_pad else torch.arange(width).unsqueeze(0)
        positions = positions + torch.tensor(starts).unsqueeze(1)
        full = own if mask is None else torch.cat([mask, own], dim=1)
        cache = DynamicCache(config=self.model.config) if cache is None else cache
        device = self.model.device
        out = self.model(input_ids=ids.to(device), attention_mask=full.to(device), position_ids=positions.to(device),
                         cache=cache, use_cache=True)  # fmt: skip
        self.stats.prompt_tokens += int(own.sum())
        if logits:
            return out.logits, torch.tensor([len(s) - 1 for s in seqs])
        return cache, full, [start + len(s) for start, s in zip(starts, seqs)]

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


def head_key(item: JudgeItem) -> tuple:
    """Items likely to share a long prompt prefix (the same rubric, context and companions); the shared
    length itself is read from the tokens, so a wrong guess costs speed, never correctness."""
    personas = (item.persona.name,) if item.persona else tuple(p.name for p in item.personas)
    return item.rubric.name, item.user_template, item.context.get("context_id"), personas


def common_prefix(seqs: list[list[int]]) -> list[int]:
    """The longest common prefix of ``seqs``, one token short of the shortest, so each keeps a token of its own."""
    n = min(len(s) for s in seqs) - 1
    first = seqs[0]
    for i in range(max(n, 0)):
        if any(s[i] != first[i] for s in seqs):
            return first[:i]
    return first[: max(n, 0)]
