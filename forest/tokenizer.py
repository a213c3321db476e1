"""Agent token sequences: what the forest reads about each agent each round.

An agent's round input is ``F + MESSAGE_SLOTS * MESSAGE_LEN`` token ids, ``F`` its economy's
observation features (at most ``MAX_FEATURES``, so at most ``AGENT_TOKENS`` ids; the model adds
its memory position in front and its summary position at the end):

    [ obs_0 .. obs_{F-1} | m1_kind m1_d1 m1_d0 | m2_... | m3_... ]
                           MESSAGE_SLOTS messages of MESSAGE_LEN tokens

Observation feature ``f`` with value ``x`` becomes token ``OBS_OFFSET + f * OBS_BINS + bin(x)``,
where the bin edges are quantiles of that feature under the expert policy (fitted once, stored
with the model as JSON): each feature has its own tokens, so the model never has to infer which
feature a token stands for from its position. Received messages are copied token by token into
the message slots (message token ``t`` becomes ``MSG_OFFSET + t``): the discrete channel that
message attacks write into. Empty slots are PAD and masked out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from forest.economy import Economy, Messages, economy_class, economy_names
from forest.economy.messages import MESSAGE_LEN
from forest.economy.messages import VOCAB_SIZE as MESSAGE_VOCAB
from forest.errors import InvalidInputError

PAD = 0
MSG_OFFSET = 1
OBS_OFFSET = 48
OBS_BINS = 64
MAX_FEATURES = 12
MESSAGE_SLOTS = 3
AGENT_TOKENS = MAX_FEATURES + MESSAGE_SLOTS * MESSAGE_LEN
VOCAB_SIZE = OBS_OFFSET + MAX_FEATURES * OBS_BINS
assert MSG_OFFSET + MESSAGE_VOCAB <= OBS_OFFSET


def message_slots(receiver: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inbox ordered by receiver, delivery order kept within each (``order``), and each
    message's slot in its receiver's inbox, in that order (``slot``: 0 for the first)."""
    order = np.argsort(receiver, kind="stable")
    ordered = receiver[order]
    slot = np.arange(ordered.shape[0]) - np.searchsorted(ordered, ordered, side="left")
    return order, slot


def read_messages(inbox: Messages) -> np.ndarray:
    """(M,) True for the messages of ``inbox`` that fill their receiver's message slots: its
    first ``MESSAGE_SLOTS``, in delivery order. Both forests read these messages' tokens or
    words and no others (the pretrained forest's prompt may cut long words short)."""
    order, slot = message_slots(inbox.receiver)
    read = np.zeros(len(inbox), dtype=bool)
    read[order] = slot < MESSAGE_SLOTS
    return read


@dataclass(frozen=True)
class AgentTokens:
    input_ids: np.ndarray  # (n, F + MESSAGE_SLOTS * MESSAGE_LEN) int64
    attention_mask: np.ndarray  # same shape, bool, False on empty message slots


class Tokenizer(Protocol):
    """What turns a round into the forest's token ids, and whether it reads words.

    A forest that reads text (the pretrained one) says so through its tokenizer's
    ``reads_text``: only such a tokenizer's ``encode`` also takes ``replacements`` (inbox
    index -> words), the words some delivered messages say."""

    reads_text: ClassVar[bool]

    def encode(
        self,
        economy: Economy,
        inbox: Messages | None = None,
        observations: np.ndarray | None = None,
    ) -> AgentTokens: ...


class AgentTokenizer:
    """Quantises observations with per-economy, per-feature quantile edges; copies messages."""

    reads_text: ClassVar[bool] = False

    def __init__(self, edges: dict[str, list[list[float]]]) -> None:
        for name, per_feature in edges.items():
            features = len(economy_class(name).observation_names)
            if len(per_feature) != features:
                raise InvalidInputError(
                    f"tokenizer edges: {name} has {features} features, got {len(per_feature)}"
                )
        self.edges = {
            name: [np.asarray(e, dtype=np.float64) for e in per_feature]
            for name, per_feature in edges.items()
        }

    @classmethod
    def fit(cls, samples: dict[str, np.ndarray]) -> AgentTokenizer:
        """Quantile edges from observation samples ``(rows, F)`` per economy."""
        levels = np.linspace(0.0, 1.0, OBS_BINS + 1)[1:-1]
        edges = {}
        for name, obs in samples.items():
            edges[name] = [np.unique(np.quantile(column, levels)).tolist() for column in obs.T]
        return cls(edges)

    @classmethod
    def fit_on_experts(
        cls, n_agents: int = 200, rounds: int = 40, seeds: int = 2
    ) -> AgentTokenizer:
        """Fit on what every registered economy's expert sees over a few short episodes."""
        samples = {}
        for name in economy_names():
            rows = []
            for seed in range(seeds):
                economy = economy_class(name)(
                    economy_class(name).config_class.preset("default", n_agents=n_agents), seed
                )
                for _ in range(rounds):
                    rows.append(economy.observe())
                    economy.step(*economy.expert())
            samples[name] = np.concatenate(rows)
        return cls.fit(samples)

    def to_json(self) -> str:
        return json.dumps({name: [e.tolist() for e in per] for name, per in self.edges.items()})

    @classmethod
    def from_json(cls, text: str) -> AgentTokenizer:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"tokenizer: invalid JSON ({err})") from err
        if not isinstance(data, dict):
            raise InvalidInputError("tokenizer: expected a JSON object of per-economy edges")
        return cls(data)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> AgentTokenizer:
        try:
            return cls.from_json(Path(path).read_text())
        except InvalidInputError as err:  # name the file: a checkpoint holds several
            raise InvalidInputError(f"{path}: {err}") from None

    def observation_tokens(self, economy_name: str, observations: np.ndarray) -> np.ndarray:
        """(n, F) token ids of the quantised observations."""
        if economy_name not in self.edges:
            raise InvalidInputError(
                f"economy: the tokenizer was not fitted on {economy_name!r}; "
                f"it knows {sorted(self.edges)}"
            )
        edges = self.edges[economy_name]
        if observations.ndim != 2 or observations.shape[1] != len(edges):
            raise InvalidInputError(
                f"observations: expected shape (n, {len(edges)}), got {observations.shape}"
            )
        if not np.all(np.isfinite(observations)):
            raise InvalidInputError("observations: expected finite values, got NaN or inf")
        tokens = np.empty(observations.shape, dtype=np.int64)
        for f, e in enumerate(edges):
            tokens[:, f] = OBS_OFFSET + f * OBS_BINS + np.searchsorted(e, observations[:, f])
        return tokens

    def encode(
        self,
        economy: Economy,
        inbox: Messages | None = None,
        observations: np.ndarray | None = None,
    ) -> AgentTokens:
        """Token ids for every agent of ``economy`` this round; ``inbox`` and ``observations``
        default to the economy's own (pass them to show the forest something else)."""
        n = economy.n_agents
        inbox = economy.inbox if inbox is None else inbox
        observations = economy.observe() if observations is None else observations
        obs = self.observation_tokens(economy.name, np.asarray(observations))
        features = obs.shape[1]
        ids = np.full((n, features + MESSAGE_SLOTS * MESSAGE_LEN), PAD, dtype=np.int64)
        ids[:, :features] = obs

        order, slot = message_slots(inbox.receiver)
        kept = slot < MESSAGE_SLOTS
        rows, slot = inbox.receiver[order[kept]], slot[kept]
        tokens = inbox.tokens[order[kept]]
        for k in range(MESSAGE_LEN):
            ids[rows, features + slot * MESSAGE_LEN + k] = MSG_OFFSET + tokens[:, k]
        return AgentTokens(ids, ids != PAD)
