"""Measure episodes you play yourself. A scripted order-up-to policy runs the supply chain
through PettingZoo; in the attacked episodes 5% of the agents order the most they can from
round 5 on. ``redteam.measure`` pairs each with its twin (the same seed, nobody attacking):
the harm, welfare lost per round, with its t interval over 3 seeds, and how far the orders
spread to honest agents (blast radius, R0 on the supply chain's graph)."""

import numpy as np

import redteam
from forest.economy.parallel_env import EconomyParallelEnv

AGENTS, ROUNDS, START = 60, 20, 5
COMPROMISED = np.arange(0, AGENTS, 20)  # 3 agents of 60


def order_up_to(observation: np.ndarray) -> int:
    scale = np.exp(observation[10])  # the features are in units of the economy's scale
    forecast, position, lead = observation[6], observation[7], observation[9]
    return int(np.rint(scale * (forecast + 0.5 * (forecast * (lead + 1) - position))))


def play(seed: int, attackers: np.ndarray) -> tuple[redteam.EpisodeTrace, object]:
    """The episode of ``seed``, and its economy's interaction graph (it depends on the seed)."""
    env = EconomyParallelEnv("supply_chain", n_agents=AGENTS, rounds=ROUNDS)
    observations, _ = env.reset(seed=seed)
    graph = env.interaction_graph()
    top = env.action_space(env.agents[0]).n - 1
    actions, welfare = [], []
    while env.agents:
        orders = [min(max(order_up_to(observations[a]), 0), top) for a in env.agents]
        if len(actions) >= START:
            orders = [top if i in attackers else o for i, o in enumerate(orders)]
        observations, _, _, _, infos = env.step(dict(zip(env.agents, orders, strict=True)))
        actions.append(orders)
        welfare.append(next(iter(infos.values()))["welfare"])
    return redteam.EpisodeTrace(np.array(actions), np.array(welfare)), graph


seeds = range(3)
twins = [play(s, np.array([], dtype=int))[0] for s in seeds]
attacked, graphs = zip(*(play(s, COMPROMISED) for s in seeds), strict=True)
m = redteam.measure(twins, list(attacked), COMPROMISED, start_round=START, graph=list(graphs))
for figure in ("harm", "blast_radius_final", "r0"):
    print(f"{figure}: {m.differences[figure].text()}")
