"""Agent prompts: each agent's round as a short English text, tokenized for a pretrained LM.

The trained-from-scratch forest reads quantised observation tokens; a pretrained language model
reads text. One line per agent, the same facts in the same order:

    supply chain retailer. inventory 7, backlog 0, ..., lead time 2. messages: DEMAND 5 from 17.

Messages are the economy's own message tokens rendered as words (kind, value, sender), so every
message attack that writes tokens still reaches the pretrained forest, and text-level attacks can
replace a message's words (``replacements``). ``PromptTokenizer.encode`` has the interface of
``AgentTokenizer.encode``, so ``ForestPolicy`` drives either forest unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
from transformers import PreTrainedTokenizerFast

from forest.economy import ROLES, Economy, Messages, economy_class
from forest.economy.messages import DIGIT_BASE, FIRST_DIGIT, KIND_NAMES
from forest.errors import InvalidInputError
from forest.tokenizer import AgentTokens, read_messages

# Supply-chain prompts with three messages run to 112 SmolLM2 tokens; longer ones are cut.
MAX_PROMPT_TOKENS = 128


def render_value(x: float) -> str:
    """Two significant digits below 10, whole numbers above: the LM reads digits one token at a
    time, so every digit costs a position in each of its 30 layers."""
    return f"{x:.2g}" if abs(x) < 10 else f"{round(x)}"


def message_text(tokens: np.ndarray, sender: int) -> str:
    """``tokens (MESSAGE_LEN,)`` as words: kind name, integer value, sender id."""
    kind = KIND_NAMES.get(int(tokens[0]), f"KIND{int(tokens[0])}")
    value = (int(tokens[1]) - FIRST_DIGIT) * DIGIT_BASE + int(tokens[2]) - FIRST_DIGIT
    return f"{kind} {value} from {sender}"


def first_messages(inbox: Messages, n: int) -> list[list[int]]:
    """Per receiver, the indices into ``inbox`` of its first ``MESSAGE_SLOTS`` messages, in
    delivery order (the slots the token forest reads too)."""
    kept: list[list[int]] = [[] for _ in range(n)]
    for k in np.flatnonzero(read_messages(inbox)).tolist():
        kept[int(inbox.receiver[k])].append(k)
    return kept


def render_prompts(
    economy: Economy,
    inbox: Messages | None = None,
    observations: np.ndarray | None = None,
    replacements: Mapping[int, str] | None = None,
) -> list[str]:
    """One prompt per agent. ``replacements`` maps an inbox index to the text shown instead of
    that message's rendering: what a text-level attacker's message says."""
    inbox = economy.inbox if inbox is None else inbox
    observations = economy.observe() if observations is None else np.asarray(observations)
    names = [name.replace("_", " ") for name in economy_class(economy.name).observation_names]
    if observations.ndim != 2 or observations.shape != (economy.n_agents, len(names)):
        raise InvalidInputError(
            f"observations: expected shape ({economy.n_agents}, {len(names)}), "
            f"got {observations.shape}"
        )
    if not np.all(np.isfinite(observations)):
        raise InvalidInputError("observations: expected finite values, got NaN or inf")
    replacements = replacements or {}
    economy_words = economy.name.replace("_", " ")
    prompts = []
    for role, row, slots in zip(
        economy.role.tolist(),
        observations.tolist(),
        first_messages(inbox, economy.n_agents),
        strict=True,
    ):
        facts = ", ".join(f"{name} {render_value(x)}" for name, x in zip(names, row, strict=True))
        heard = "; ".join(
            replacements.get(k, message_text(inbox.tokens[k], int(inbox.sender[k]))) for k in slots
        )
        prompts.append(f"{economy_words} {ROLES[role]}. {facts}. messages: {heard or 'none'}.")
    return prompts


class PromptTokenizer:
    """Renders agents' prompts and tokenizes them with the language model's own tokenizer."""

    reads_text: ClassVar[bool] = True

    def __init__(self, tokenizer: PreTrainedTokenizerFast, max_tokens: int = MAX_PROMPT_TOKENS):
        if tokenizer.pad_token_id is None:
            raise InvalidInputError("prompt tokenizer: the tokenizer has no padding token")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    @classmethod
    def load(cls, directory: Path, max_tokens: int = MAX_PROMPT_TOKENS) -> PromptTokenizer:
        """The tokenizer saved beside a language model (``tokenizer.json``: JSON, no code)."""
        path = Path(directory) / "tokenizer.json"
        if not path.is_file():
            raise InvalidInputError(f"language model: missing {path}")
        config = Path(directory) / "tokenizer_config.json"
        extras = {}
        if config.is_file():
            settings = json.loads(config.read_text())
            extras = {
                key: settings[key]
                for key in ("bos_token", "eos_token", "pad_token", "unk_token")
                if isinstance(settings.get(key), str)
            }
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), **extras)
        return cls(tokenizer, max_tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def tokenize(self, prompts: list[str]) -> AgentTokens:
        batch = self.tokenizer(
            prompts,
            padding="longest",
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="np",
        )
        return AgentTokens(
            batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(bool)
        )

    def encode(
        self,
        economy: Economy,
        inbox: Messages | None = None,
        observations: np.ndarray | None = None,
        replacements: Mapping[int, str] | None = None,
    ) -> AgentTokens:
        return self.tokenize(render_prompts(economy, inbox, observations, replacements))
