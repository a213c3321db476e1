"""A scripted policy plays the supply chain through PettingZoo's parallel API: every agent
orders 8 units every round, whatever it sees (the retailers' mean demand after the beer game's
step from 4 to 8 at round 5, before the trees' demand regimes move it)."""

from forest.economy.parallel_env import EconomyParallelEnv

env = EconomyParallelEnv("supply_chain", n_agents=60, rounds=30)
observations, infos = env.reset(seed=0)
completed = welfare = 0.0
while env.agents:
    actions = {agent: 8 for agent in env.agents}
    observations, rewards, terminations, truncations, infos = env.step(actions)
    completed += sum(rewards.values()) / len(rewards)
    welfare += next(iter(infos.values()))["welfare"]
print(f"task completion {completed / env.rounds:.3f}, welfare {welfare / env.rounds:.2f}")
