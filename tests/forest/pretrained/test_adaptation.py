"""LoRA + DAgger adaptation of the pretrained forest (forest/pretrained/adaptation.py), on the
tiny stand-in LM: the split LM pass, the adapters' save and load, determinism, and its last stage
(the router) run again by `forest pretrained route`."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open

from forest.checkpoints import load_policy
from forest.economy import economy_names, make_economy
from forest.errors import ConfigError, InvalidInputError
from forest.pretrained.adaptation import AdaptConfig, adapt_pretrained_forest, gather
from forest.pretrained.language_model import load_language_model
from forest.pretrained.modeling import PretrainedForestConfig
from forest.pretrained.own_router import route_checkpoint

TINY = {
    "forest_preset": "tiny",
    "prompt_layers": 2,
    "lora_layers": 1,
    "lora_rank": 2,
    "iterations": 2,
    "n_agents": 20,
    "rounds": 3,
    "episodes": 1,
    "economy_episodes": {"supply_chain": 2, "pricing": 0},
    "router_agents": 20,
    "router_rounds": 3,
    "router_epochs": 5,
}


def played_round(tokenizer, name="supply_chain", rounds=2):
    economy = make_economy(name, seed=3, n_agents=20)
    for _ in range(rounds):
        economy.step(*economy.expert())
    tokens = tokenizer.encode(economy)
    return economy, torch.from_numpy(tokens.input_ids), torch.from_numpy(tokens.attention_mask)


def test_the_split_pass_gives_the_whole_lm_pass_bit_for_bit(lora_forest, prompt_tokenizer):
    forest = lora_forest()
    _, ids, mask = played_round(prompt_tokenizer)
    assert not bool(mask.all())  # padded prompts among them
    with torch.no_grad():
        whole = forest.prompt_states(ids, mask)
        split = forest.adapted_states(forest.frozen_states(ids, mask), mask)
    assert torch.equal(whole, split)


def test_the_adapters_change_the_states_and_only_the_layers_they_sit_on(
    lora_forest, prompt_tokenizer
):
    adapted, plain = lora_forest(), lora_forest()
    with torch.no_grad():
        for name, p in plain.named_parameters():
            if "lora_B" in name:
                p.zero_()
    _, ids, mask = played_round(prompt_tokenizer)
    with torch.no_grad():
        assert torch.equal(adapted.frozen_states(ids, mask), plain.frozen_states(ids, mask))
        assert not torch.allclose(adapted.prompt_states(ids, mask), plain.prompt_states(ids, mask))
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    lm_trainable = {n for n in trainable if n.startswith("language_model.")}
    assert lm_trainable and all(".lora_" in n and ".layers.1." in n for n in lm_trainable)


def test_lora_settings_are_validated():
    with pytest.raises(InvalidInputError, match="lora_rank, lora_layers"):
        PretrainedForestConfig(max_agent_tokens=128, lora_rank=4, lora_layers=0)
    with pytest.raises(ConfigError, match="lora_layers"):
        PretrainedForestConfig(max_agent_tokens=128, lora_rank=4, lora_layers=31)
    for bad in (
        {"lora_layers": 3, "prompt_layers": 2},
        {"n_agents": 25},
        {"expert_share": 2.0},
        {"economy_episodes": {"supply_chian": 4}},
        {"economy_episodes": {"supply_chain": 10}},
        {"economy_episodes": {"supply_chain": -1}},
        {"economy_episodes": [("supply_chain", 4)]},
    ):
        with pytest.raises(ConfigError):
            AdaptConfig(**bad)
    for bad, field in (
        ({"large_agents": 25}, "large_agents"),
        ({"large_agents": 60}, "large_agents"),  # not above n_agents
        ({"large_agents": False}, "large_agents"),
        ({"large_agents": 260, "large_episodes": 0}, "large_episodes"),
        ({"large_agents": 260, "large_episodes": 2}, "large_episodes"),  # every episode large
        ({"large_agents": 260, "economy_episodes": {"exchange": 1}}, r"large_episodes.*exchange"),
        ({"large_episodes": 2}, "large_episodes: needs large_agents"),
    ):
        with pytest.raises(ConfigError, match=field):
            AdaptConfig(**bad)
    AdaptConfig(large_agents=260, economy_episodes={"exchange": 0, "pricing": 0, "supply_chain": 6})


def test_the_last_episodes_of_each_economy_gather_at_large_agents(lora_forest, prompt_tokenizer):
    train = AdaptConfig(**{**TINY, "episodes": 2, "large_agents": 30})
    episodes = gather(train, 0, lora_forest(), prompt_tokenizer)
    sizes = [(e.economy, r.input_ids.shape[0]) for e in episodes for r in e.rounds[:1]]
    # The exchange and the supply chain gather two episodes an iteration; pricing none.
    expected = [("exchange", 20), ("exchange", 30), ("supply_chain", 20), ("supply_chain", 30)]
    assert sizes == expected
    assert {"large_agents": 30, "large_episodes": 1}.items() <= train.to_dict().items()
    assert AdaptConfig(**TINY).to_dict().keys().isdisjoint({"large_agents", "large_episodes"})


@pytest.fixture(scope="module")
def adapted_twice(tiny_lm_dir, tmp_path_factory):
    runs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"adapted{k}")
        policy, _ = adapt_pretrained_forest(AdaptConfig(**TINY), tiny_lm_dir, out)
        runs.append((out, policy))
    return runs


def test_adapting_twice_gives_the_same_bytes(adapted_twice):
    (first, _), (second, _) = adapted_twice
    for name in ("model.safetensors", "router.safetensors", "train_log.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_each_economy_trains_on_the_episodes_it_gathers(adapted_twice):
    """The supply chain gathers two episodes per iteration, the exchange one and pricing none:
    each joint pass over an iteration's new rounds takes that many rounds' steps per economy,
    and the router is calibrated on the economies the forest was adapted to alone."""
    out, _ = adapted_twice[0]
    written = json.loads((out / "train_log.json").read_text())
    joint = [row for row in written["log"] if row["phase"] == "joint" and row["iteration"] == 0]
    per_economy = {name: sum(row["economy"] == name for row in joint) for name in economy_names()}
    episodes = {"exchange": 1, "pricing": 0, "supply_chain": 2}
    assert per_economy == {name: TINY["rounds"] * episodes[name] for name in economy_names()}
    calibrated = {row["economy"] for row in written["router_calibration"]}
    assert calibrated == {"exchange", "supply_chain"}


def test_an_adaptation_needs_an_economy_to_adapt_to():
    assert AdaptConfig(economy_episodes={"exchange": 0}).economies == ("pricing", "supply_chain")
    with pytest.raises(ConfigError, match="leaves no economy"):
        AdaptConfig(economy_episodes=dict.fromkeys(economy_names(), 0))


def base_weights(language_model) -> dict[str, torch.Tensor]:
    return {
        name.replace(".base_layer", ""): tensor
        for name, tensor in language_model.state_dict().items()
        if ".lora_" not in name
    }


def test_the_checkpoint_holds_the_adapters_and_no_lm_weight(adapted_twice, tiny_lm_dir):
    out, trained = adapted_twice[0]
    with safe_open(str(out / "model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
        lora_b = [weights.get_tensor(n) for n in names if "lora_B" in n]
    lm_names = [n for n in names if n.startswith("language_model.")]
    assert lm_names and all(".lora_" in n for n in lm_names)
    assert any(bool(t.abs().max() > 0) for t in lora_b)  # the adapters learned something
    # Training moved the adapters only: the LM under them is still the pretrained one.
    original = base_weights(load_language_model(tiny_lm_dir))
    after = base_weights(trained.model.language_model)
    assert after.keys() == original.keys()
    assert all(torch.equal(original[name], after[name]) for name in original)


def test_a_loaded_checkpoint_decides_as_the_forest_it_saved(adapted_twice):
    out, trained = adapted_twice[0]
    loaded = load_policy(out)
    for name in ("exchange", "supply_chain"):
        economies = [make_economy(name, seed=0, n_agents=20) for _ in range(2)]
        trained.reset()
        for _ in range(3):
            steps = [p.act(e) for p, e in zip((trained, loaded), economies, strict=True)]
            assert np.array_equal(steps[0].actions, steps[1].actions)
            assert np.array_equal(steps[0].messages.tokens, steps[1].messages.tokens)
            for step, economy in zip(steps, economies, strict=True):
                economy.step(step.actions, step.messages)


def test_routing_an_adapted_forest_again_gives_the_router_adapt_saved(
    adapted_twice, tiny_lm_dir, tmp_path
):
    """`forest pretrained route` is adapt's last stage: on the saved forest it writes the same
    router, threshold and log, so a router can be retrained without fitting the forest again."""
    out = adapted_twice[0][0]
    copy = tmp_path / "routed"
    shutil.copytree(out, copy)
    # What route must write anew: no router weights, another threshold, the log in another
    # order without the router's entries.
    (copy / "router.safetensors").unlink()
    (copy / "router.json").write_text('{"threshold": 0.5, "keep_budget": 1.0}')
    log = json.loads((out / "train_log.json").read_text())
    (copy / "train_log.json").write_text(
        json.dumps({"log": log["log"], "train_config": log["train_config"]})
    )
    figures = route_checkpoint(copy, tiny_lm_dir)
    for name in ("router.safetensors", "router.json", "train_log.json"):
        assert (copy / name).read_bytes() == (out / name).read_bytes()
    assert figures["router_threshold"] == json.loads((out / "router.json").read_text())["threshold"]


def test_economy_episodes_are_logged_in_economy_order_and_not_at_all_when_none():
    """The same table, in any order, gives the same config bytes; an empty one logs as configs
    written before the option existed (the shipped checkpoint's log)."""
    tables = ({"supply_chain": 4, "exchange": 3}, {"exchange": 3, "supply_chain": 4})
    logged = [json.dumps(AdaptConfig(economy_episodes=t).to_dict()) for t in tables]
    assert logged[0] == logged[1]
    order = list(AdaptConfig(economy_episodes=tables[0]).economy_episodes)
    assert order == [name for name in economy_names() if name in tables[0]]
    assert "economy_episodes" not in AdaptConfig().to_dict()
