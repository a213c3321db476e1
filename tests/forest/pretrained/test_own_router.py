"""The pretrained forest's own router (forest/pretrained/own_router.py) on the tiny stand-in LM:
its counterfactual labels against their definition, and a message its receiver never reads."""

import json

import numpy as np
import pytest
import torch

from forest.actions import valid_classes
from forest.economy import make_economy
from forest.errors import ConfigError
from forest.policy import ForestPolicy, decode_actions
from forest.pretrained.own_router import (
    counterfactual_decisions,
    own_router_dataset,
    route_checkpoint,
)
from forest.pretrained.prompts import first_messages


def played(policy, name="exchange", rounds=2):
    economy = make_economy(name, seed=2, n_agents=20)
    for _ in range(rounds):
        step = policy.act(economy)
        economy.step(step.actions, step.messages)
    return economy


def test_counterfactual_labels_match_their_definition(lora_forest, prompt_tokenizer):
    """The shortcut (re-encode the receiver alone, keep the others' summaries) against the
    definition: the whole round decided again with the message withheld from the inbox."""
    policy = ForestPolicy(lora_forest(), prompt_tokenizer)
    economy = played(policy)
    inbox = economy.inbox
    withheld = np.arange(0, len(inbox), max(1, len(inbox) // 6))
    with_all, without = counterfactual_decisions(policy, economy, withheld)
    model = policy.model
    valid = torch.from_numpy(valid_classes(economy, model.config.n_actions))

    def decided(delivered) -> np.ndarray:
        tokens = prompt_tokenizer.encode(economy, inbox=delivered)
        with torch.no_grad():
            out = model(
                input_ids=torch.from_numpy(tokens.input_ids),
                attention_mask=torch.from_numpy(tokens.attention_mask),
                role_ids=torch.from_numpy(economy.role),
                tree_ids=torch.from_numpy(economy.tree_ids()),
                memory=policy.memory,
            )
        return decode_actions(out.action_logits, valid)[0].numpy()

    everything = decided(inbox)
    assert (with_all != without).any(), "the fixture needs a message that changes a decision"
    for m, j in enumerate(withheld.tolist()):
        receiver = int(inbox.receiver[j])
        assert with_all[m] == everything[receiver]
        held_back = decided(inbox.select(np.arange(len(inbox)) != j))
        assert without[m] == held_back[receiver]


def test_a_message_its_receiver_never_reads_changes_nothing(lora_forest, prompt_tokenizer):
    """Past the prompt's message slots a withheld message leaves the prompt as it was: its label
    must be "drop" whatever the float noise of a re-encoding."""
    policy = ForestPolicy(lora_forest(), prompt_tokenizer)
    economy = played(policy, rounds=3)
    inbox = economy.inbox
    read = {k for slots in first_messages(inbox, economy.n_agents) for k in slots}
    unread = np.array([k for k in range(len(inbox)) if k not in read])
    assert unread.size, "the fixture needs a receiver with more messages than slots"
    with_all, without = counterfactual_decisions(policy, economy, unread)
    assert np.array_equal(with_all, without)


def test_the_router_dataset_labels_every_sampled_message(lora_forest, prompt_tokenizer):
    policy = ForestPolicy(lora_forest(), prompt_tokenizer)
    messages, roles, labels = own_router_dataset(policy, 20, 3, seed=0, per_round=8)
    assert len(messages) == len(roles) == len(labels) > 0
    assert labels.dtype == bool and roles.shape == (len(labels), 2)


def test_routing_a_folder_adapt_did_not_write_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="forest pretrained adapt"):
        route_checkpoint(tmp_path)
    log = tmp_path / "train_log.json"
    log.write_text('{"train_config": {"seed": 0}, "log": []}')
    with pytest.raises(ConfigError, match="router settings"):
        route_checkpoint(tmp_path)
    # A token forest's or the frozen-LM forest's log has the router settings but no adapters.
    settings = {"router_agents": 60, "router_rounds": 20, "router_epochs": 200, "seed": 0}
    log.write_text(json.dumps({"train_config": {**settings, "threads": 1}, "log": []}))
    with pytest.raises(ConfigError, match="not an adapted forest"):
        route_checkpoint(tmp_path)
    adapted = {**settings, "threads": 1, "lora_layers": 2, "episodes": 2}
    log.write_text(json.dumps({"train_config": {**adapted, "router_rounds": 2.5}, "log": []}))
    with pytest.raises(ConfigError, match="router_rounds"):
        route_checkpoint(tmp_path)
    for table, message in (
        ({"casino": 1}, "unknown economy 'casino'"),
        ({"exchange": 0, "pricing": 0, "supply_chain": 0}, "leaves no economy"),
    ):
        logged = {**adapted, "economy_episodes": table}
        log.write_text(json.dumps({"train_config": logged, "log": []}))
        with pytest.raises(ConfigError, match=message):
            route_checkpoint(tmp_path)
