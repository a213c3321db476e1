"""The forest as a policy: one model call per round decides every agent's action and message.

Each round: the tokenizer turns every agent's observation and delivered messages into tokens;
the forest encodes them (with each agent's previous summary as memory), aggregates the summaries
over the trees and the forest, and its heads give an action class and one outgoing message per
agent. The message goes to the agent's recipients, acknowledgements of what it received go back
(the channel's echo protocol, the redundant traffic of the economies' experts too), and the
router, when there is one, decides what is delivered next round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from forest.actions import classes_to_actions, valid_classes
from forest.economy import Economy, Messages
from forest.economy.messages import FIRST_DIGIT, N_KIND_TOKENS
from forest.encoding_cache import EncodingCache
from forest.errors import InvalidInputError
from forest.interventions import NO_INTERVENTIONS, Interventions
from forest.model.modeling_forest import ForestOutput, ForestPreTrainedModel
from forest.router import Routed, Router
from forest.tokenizer import Tokenizer


@dataclass(frozen=True)
class Decision:
    """What the forest decided this round, before its messages are sent."""

    actions: np.ndarray  # (n,) the economy's integer actions
    outgoing: Messages  # every agent's message and the echoes, before any edit or routing
    output: ForestOutput | None  # None for a policy without a forest (the expert)
    confidence: np.ndarray  # (n,) probability of the action taken, among the agent's valid ones


@dataclass(frozen=True)
class PolicyStep:
    actions: np.ndarray  # (n,) the economy's integer actions
    messages: Messages  # what the economy should deliver next round (after routing)
    routed: Routed | None  # None when no router runs
    output: ForestOutput | None  # None for a policy without a forest (the expert)
    confidence: np.ndarray  # (n,) probability of the action taken, among the agent's valid ones


def message_token_mask(message_len: int, message_vocab: int) -> torch.Tensor:
    """(len, vocab) True where a token is allowed: a kind first, digits after."""
    allowed = torch.zeros(message_len, message_vocab, dtype=torch.bool)
    allowed[0, 1:N_KIND_TOKENS] = True
    allowed[1:, FIRST_DIGIT:] = True
    return allowed


def action_class_mask(economy: Economy, n_classes: int) -> torch.Tensor:
    """(n, n_classes) True where a class is an action of the agent's economy."""
    valid = torch.from_numpy(valid_classes(economy, n_classes))
    return torch.arange(n_classes)[None, :] < valid[:, None]


def on_host(x: torch.Tensor) -> torch.Tensor:
    """``x`` on the CPU in float32 or wider; ``x`` itself when it already is. Decisions are
    decoded into numpy, which has no bfloat16, from a forest that may run on a GPU or under
    ``torch.autocast``."""
    return x.to("cpu", torch.promote_types(x.dtype, torch.float32))


# Agents decoded at once: the masked logits and softmax of a chunk are copies of its rows, so
# chunking keeps a million-agent round from holding three full (n, classes) tensors at a time.
DECODE_CHUNK = 65_536


def decode_actions(logits: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each agent's best class among its first ``valid`` (n,), and that class's probability
    among them: ``(chosen, confidence)``, both (n,)."""
    n, n_classes = logits.shape
    chosen = torch.empty(n, dtype=torch.long)
    confidence = torch.empty(n, dtype=logits.dtype)
    classes = torch.arange(n_classes)
    for start in range(0, n, DECODE_CHUNK):
        part = slice(start, start + DECODE_CHUNK)
        masked = logits[part].masked_fill(classes[None, :] >= valid[part, None], float("-inf"))
        best = masked.argmax(dim=1)
        chosen[part] = best
        confidence[part] = torch.softmax(masked, dim=1).gather(1, best[:, None])[:, 0]
    return chosen, confidence


class ForestPolicy:
    """A forest model, its tokenizer and (optionally) its router, acting in an economy."""

    def __init__(
        self,
        model: ForestPreTrainedModel,
        tokenizer: Tokenizer,
        router: Router | None = None,
        encodings: EncodingCache | None = None,
    ) -> None:
        """``encodings``: summaries already computed on ``model`` (``shared_cache``), shared
        with other policies across episodes; by default this policy's own, kept for one round
        (a policy may outlive its model's weights: a training loop edits them between rounds)."""
        self.model = model.eval()
        self._own_encodings = encodings is None
        self.encodings = EncodingCache() if encodings is None else encodings
        self.tokenizer = tokenizer
        self.router = router
        self.memory: torch.Tensor | None = None
        cfg = model.config
        self._message_mask = message_token_mask(cfg.message_len, cfg.message_vocab)
        # Detectors read where the slots' attention went; DenseForest has no slots (nor a
        # forward that takes its encoding ready-made).
        self._has_slots = hasattr(model, "aggregator")

    @property
    def reads_text(self) -> bool:
        """Whether agents read their round as a text prompt (the pretrained forest), so that
        words in a message reach them; the token forest reads message tokens only. The
        tokenizer says which."""
        return self.tokenizer.reads_text

    def reset(self) -> None:
        """Forget every agent's memory: call at the start of an episode."""
        self.memory = None
        if self._own_encodings:
            self.encodings.clear()

    def encoded(self, inputs: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        """Step (a), the summaries (n, d) of ``inputs`` (``model_inputs``), each agent row
        encoded once (``forest.encoding_cache``): a red-team round decides the same inputs up
        to three times (the attack's look ahead, the decision, the attention replay), an
        attacked episode shares most rows with its twin, and the encoder is most of a round's
        cost. Equal inputs give equal bits, so every figure is the same as when each call
        encodes afresh (tests/forest/test_encoding_cache.py)."""
        return self.encodings.encode(self.model, inputs)

    def model_inputs(
        self,
        economy: Economy,
        observations: np.ndarray | None = None,
        message_text: Mapping[int, str] | None = None,
    ) -> dict[str, torch.Tensor | None]:
        """The forest's inputs this round; ``observations`` replace what agents observe and
        ``message_text`` (inbox index -> words) what some delivered messages say."""
        if message_text is None:
            tokens = self.tokenizer.encode(economy, observations=observations)
        elif not self.reads_text:
            raise InvalidInputError(
                "message_text: the token forest reads message tokens, not text; "
                "text reaches only a forest that reads prompts (forest pretrained)"
            )
        else:
            tokens = self.tokenizer.encode(
                economy, observations=observations, replacements=message_text
            )
        device = self.model.device  # the CPU's tensors are passed as they are, not copied
        return {
            "input_ids": torch.from_numpy(tokens.input_ids).to(device),
            "attention_mask": torch.from_numpy(tokens.attention_mask).to(device),
            "role_ids": torch.from_numpy(economy.role).to(device),
            "tree_ids": torch.from_numpy(economy.tree_ids()).to(device),
            "memory": self.memory,
        }

    @torch.inference_mode()
    def decide(self, economy: Economy, interventions: Interventions = NO_INTERVENTIONS) -> Decision:
        """Every agent's action and outgoing message this round, under ``interventions``
        (their ``edit_messages`` is the caller's to apply: see ``act``). The memory has not
        moved yet: ``send`` moves it."""
        i = interventions
        extras = (
            {}
            if i.sybils is None
            else {"sybil_summaries": i.sybils[0], "sybil_tree_ids": i.sybils[1]}
        )
        inputs = self.model_inputs(economy, i.observations, i.message_text)
        if self._has_slots:
            extras["encoded"] = self.encoded(inputs)
        output = self.model(
            **inputs,
            aggregation_weights=i.aggregation_weights,
            summary_delta=i.summary_delta,
            robust_aggregation=i.robust_aggregation,
            return_attention=self._has_slots,
            **extras,
        )
        action_logits = on_host(output.action_logits)
        valid = valid_classes(economy, action_logits.shape[1])
        chosen, confidence = decode_actions(action_logits, torch.from_numpy(valid))
        actions = classes_to_actions(economy, chosen.numpy())
        message_logits = on_host(output.message_logits).masked_fill(
            ~self._message_mask, float("-inf")
        )
        tokens = message_logits.argmax(dim=2).numpy()
        outgoing = Messages.concat(economy.broadcast(tokens), economy.inbox.echoes())
        return Decision(actions, outgoing, output, confidence.numpy())

    def send(self, economy: Economy, decision: Decision, outgoing: Messages) -> PolicyStep:
        """Remember this round's summaries and route ``outgoing`` (the decision's messages, as
        any intervention left them): what the economy delivers next round."""
        self.memory = decision.output.summaries
        if self._own_encodings:
            self.encodings.clear()  # the round is over
        routed = None if self.router is None else self.router.route(outgoing, economy.role)
        kept = outgoing if routed is None else routed.kept
        return PolicyStep(decision.actions, kept, routed, decision.output, decision.confidence)

    def act(self, economy: Economy, interventions: Interventions = NO_INTERVENTIONS) -> PolicyStep:
        """Decide this round for every agent of ``economy`` and send its messages; remembers the
        summaries. ``interventions.edit_messages`` runs before the memory moves, so a message
        attack sees last round's memory, as it would from outside."""
        decision = self.decide(economy, interventions)
        outgoing = decision.outgoing
        if interventions.edit_messages is not None:
            outgoing = interventions.edit_messages(outgoing)
        return self.send(economy, decision, outgoing)
