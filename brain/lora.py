"""LoRA fine-tuning of a llama-architecture model on the owner's approved replies (PyTorch + peft).

A sample is one chat turn rendered with the model's own chat template, tokenized by llama.cpp
exactly as drafting tokenizes it (template text with special tokens, message text without), so
what is learned is what llama.cpp will see. Only the reply tokens (and the end-of-turn token)
carry loss; each sample's loss is weighted by its quality (an accepted draft 1.0, an edit 0.8).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORE = -100  # label of a token that carries no loss (prompt, padding)


@dataclass(frozen=True)
class Example:
    """One tokenized sample: the prompt (no loss) followed by the reply (loss)."""

    tokens: tuple[int, ...]
    prompt_length: int
    weight: float = 1.0

    @property
    def reply_tokens(self) -> int:
        return len(self.tokens) - self.prompt_length


@dataclass(frozen=True)
class Step:
    step: int
    total_steps: int
    epoch: int
    loss: float


def chat_messages(system: str, message: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": message}]


def encode(vocab: Any, system: str, message: str, reply: str, *, max_length: int, weight: float = 1.0) -> Example:
    """Tokenize one (their message → the owner's reply) turn with llama.cpp, as brain/llm.py does.

    `vocab` is a llama_cpp.Llama (vocab_only is enough). The reply keeps at most half the budget;
    the contact's message is cut from its start when the turn is too long."""
    from brain.llm import _chat_template, _fenced_chat  # the drafting tokenization, reused on purpose

    reply_ids = vocab.tokenize(reply.encode(), add_bos=False, special=False)[:max_length // 2]
    reply_ids.append(vocab.token_eos())
    pieces = _fenced_chat(_chat_template(vocab), chat_messages(system, message))
    encoded = [vocab.tokenize(text.encode(), add_bos=False, special=trusted) for text, trusted in pieces]
    message_index = len(pieces) - 2  # the last fenced message is the contact's
    room = max_length - len(reply_ids) - sum(len(ids) for i, ids in enumerate(encoded) if i != message_index)
    encoded[message_index] = encoded[message_index][-max(room, 1):]
    prompt = [token for ids in encoded for token in ids]
    return Example(tuple(prompt + reply_ids), len(prompt), weight)


def attach_lora(model: Any, rank: int, alpha: float) -> Any:
    """The model wrapped by peft with trainable rank-`rank` adapters on every projection."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none",
                        target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def batch_tensors(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded input ids, attention mask, labels (prompt and padding ignored) and weights."""
    import torch

    width = max(len(e.tokens) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        tokens = torch.tensor(example.tokens, dtype=torch.long)
        ids[row, :len(tokens)] = tokens
        mask[row, :len(tokens)] = 1
        labels[row, example.prompt_length:len(tokens)] = tokens[example.prompt_length:]
    weights = torch.tensor([e.weight for e in examples], dtype=torch.float32)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights}


def _causal_lm(model: Any) -> Any:
    """The transformers model under a peft wrapper (its linear layers carry the adapters)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def weighted_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(weighted mean token loss, per-sample summed loss, per-sample token counts) for one batch.

    The vocabulary projection runs only where a reply token is predicted: the prompt makes up most
    of each sequence, and 49k-wide logits for it would be a fifth of the step's work, wasted."""
    import torch
    import torch.nn.functional as F

    lm = _causal_lm(model)
    hidden = lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    rows, cols = (labels != IGNORE).nonzero(as_tuple=True)
    token_loss = F.cross_entropy(lm.lm_head(hidden[:, :-1][rows, cols]).float(), labels[rows, cols],
                                 reduction="none")
    per_sample = torch.zeros(labels.shape[0], dtype=token_loss.dtype).index_add(0, rows, token_loss)
    counts = torch.bincount(rows, minlength=labels.shape[0]).to(token_loss.dtype)
    weights = batch["weights"]
    loss = (per_sample * weights).sum() / (counts * weights).sum().clamp(min=1.0)
    return loss, per_sample, counts


def mean_nll(model: Any, examples: Sequence[Example], pad_id: int, batch_size: int = 8) -> float:
    """Mean negative log-likelihood per reply token (unweighted): lower means likelier replies."""
    import torch

    total, tokens = 0.0, 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            _, per_sample, counts = weighted_loss(model, batch_tensors(examples[start:start + batch_size], pad_id))
            total, tokens = total + float(per_sample.sum()), tokens + float(counts.sum())
    return total / max(tokens, 1.0)


def total_steps(n_examples: int, batch_size: int, epochs: int) -> int:
    return math.ceil(n_examples / batch_size) * epochs


def train(model: Any, examples: Sequence[Example], *, epochs: int, learning_rate: float, batch_size: int,
          pad_id: int, seed: int = 0) -> Iterator[Step]:
    """AdamW over the trainable (LoRA) parameters; yields after every optimizer step."""
    import torch

    torch.manual_seed(seed)
    order = random.Random(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    steps, done = total_steps(len(examples), batch_size, epochs), 0
    model.train()
    for epoch in range(1, epochs + 1):
        shuffled = list(examples)
        order.shuffle(shuffled)
        for start in range(0, len(shuffled), batch_size):
            loss, _, _ = weighted_loss(model, batch_tensors(shuffled[start:start + batch_size], pad_id))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            done += 1
            yield Step(done, steps, epoch, float(loss.detach()))
