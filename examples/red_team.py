"""Red-team the shipped forest from Python: 5% of supply-chain agents push noise into their
summary tokens; the harm (total cost per agent-round lost against the clean twin) and the
spread come back with t intervals over seeds, beside the same budget spent at random."""

import redteam

suite = redteam.build_suite(
    redteam.SuiteSettings(name="example", checkpoint="checkpoints/small", rounds=14, seeds=2),
    economies=[redteam.EconomyEntry("supply_chain", agents=100)],
    attacks=[redteam.AttackEntry("latent-noise", params={"start_round": 3, "norm": 256.0},
                                 threat={"fraction": 0.05}, placebo=True)],
)  # fmt: skip
results = redteam.run(suite)
columns = ["group", "seeds", "harm", "harm_low", "harm_high", "blast_radius_final"]
print(results.groups[columns].to_string())
