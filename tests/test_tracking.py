"""The training helpers every TRL stage goes through."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def fused_step(compact: bool):
    """One forward and backward through TRL's fused LM head on a tiny random Llama: the loss, the
    gradient of every trainable weight and how many positions the head projected."""
    import trl.kernels.chunked_logprob as kernel
    import trl.trainer.utils as trl_utils
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from mascot.tracking import score_labelled_positions_only

    saved = trl_utils._use_triton  # patched already where an earlier test in this process trained
    trl_utils._use_triton = kernel._use_triton  # TRL's own choice, which the fix wraps
    if compact:
        score_labelled_positions_only()
    projected = []
    head = trl_utils._ChunkedLogProbFunction

    class Counting:
        @staticmethod
        def apply(hidden, *args):
            projected.append(hidden.shape[0])
            return head.apply(hidden, *args)

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    model = LlamaForCausalLM(config)
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    ids = torch.randint(0, 300, (3, 20))
    labels = ids.clone()
    labels[:, :15] = -100  # the prompt: only the last 5 tokens of each row are the completion
    try:
        trl_utils._ChunkedLogProbFunction = Counting
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, fused_lm_head=True)
        out.loss.backward()
    finally:
        trl_utils._ChunkedLogProbFunction = head
        trl_utils._use_triton = saved
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.loss.detach(), grads, out.entropy.detach(), projected


def test_the_cpu_head_fix_trains_the_same_and_projects_only_the_completion():
    loss, grads, entropy, projected = fused_step(compact=False)
    loss_c, grads_c, entropy_c, projected_c = fused_step(compact=True)
    assert projected == [3 * 19]  # TRL's own CPU path: every shifted position, the prompt's too
    assert projected_c == [3 * 5]  # with the fix: the labelled completion tokens alone
    torch.testing.assert_close(loss_c, loss)
    torch.testing.assert_close(entropy_c, entropy)
    assert grads_c.keys() == grads.keys() and grads
    for name in grads:
        torch.testing.assert_close(grads_c[name], grads[name], rtol=1e-4, atol=1e-6)
