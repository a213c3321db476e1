"""A suite's attack entries, resolved into variants and checked on every economy.

An entry becomes one variant per swept value (and a placebo beside each where it asks for one),
each built from its params and threat and then asked, on every economy of the suite, whether it
can act there in time, whether its threat model can choose its agents and whether its
objective applies. Every refusal is a ``ConfigError`` that points at the entry's params or its
sweep, so a suite fails before anything runs rather than mid-run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from attacks import OBJECTIVES, Attack, attack_class, attack_names
from attacks.placebo import Placebo
from forest.economy import Economy
from forest.errors import ConfigError
from forest.params import field_names, from_dict, to_dict
from redteam.suite_sections import AttackEntry, AttackVariant, ResolvedEconomy, SuiteSections


def _swept_values(entry: AttackEntry, where: str) -> list[tuple[str, Any] | None]:
    """(parameter, value) for each value of the entry's sweep; [None] when nothing is swept.
    Each value is checked on its own here, so an error about it points at the sweep."""
    if len(entry.sweep) > 1:
        raise ConfigError(
            f"{where}.sweep: sweep one parameter at a time, got {sorted(entry.sweep)}"
        )
    if not entry.sweep:
        return [None]
    ((param, values),) = entry.sweep.items()
    if param in entry.params:
        raise ConfigError(f"{where}.sweep.{param}: also set in params; set it in one place")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.sweep.{param}: expected a non-empty list, got {values!r}")
    params_class = attack_class(entry.name).params_class
    fields = field_names(params_class)
    if param not in fields:
        raise ConfigError(
            f"{where}.sweep: unknown parameter {param!r}; allowed: {', '.join(fields)}"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(
                f"{where}.sweep.{param}: only numeric parameters can be swept, got {v!r}; "
                "write one [[attacks]] entry per value instead"
            )
        from_dict(params_class, {param: v}, f"{where}.sweep")
    return [(param, v) for v in values]


def _attack_variants(entry: AttackEntry, where: str) -> list[AttackVariant]:
    """One variant per swept value (one if nothing is swept), each built and resolved."""
    if entry.name not in attack_names():
        raise ConfigError(
            f"{where}.name: unknown attack {entry.name!r}; allowed: {', '.join(attack_names())}"
        )
    swept_values = _swept_values(entry, where)
    base_label = entry.label or entry.name
    if "|" in base_label:
        raise ConfigError(f"{where}.label: {base_label!r} contains '|'; choose another")
    variants = []
    for swept in swept_values:
        params = dict(entry.params) if swept is None else {**entry.params, swept[0]: swept[1]}
        attack = attack_class(entry.name).from_config(params, entry.threat, where)
        variants.append(
            AttackVariant(
                entry=entry,
                where=where,
                label=base_label if swept is None else f"{base_label} {swept[0]}={swept[1]}",
                params=to_dict(attack.params),
                threat=to_dict(attack.threat),
                sweep=None if swept is None else (swept[0], float(swept[1])),
                attack=attack,
            )
        )
    if entry.placebo:
        variants += [
            replace(v, label=f"{v.label} placebo", attack=Placebo(v.attack), placebo=True)
            for v in variants
        ]
    return variants


def _check_error(attack: Attack, economy: Economy, rounds: int) -> str | None:
    """What ``attack.check`` refuses on this economy, or None."""
    try:
        attack.check(economy, rounds)
    except ConfigError as exc:
        return str(exc)
    return None


def _sweep_is_at_fault(variant: AttackVariant, economy: Economy, rounds: int, error: str) -> bool:
    """Whether ``check`` refused the variant for its swept value rather than its params.

    ``Attack.check`` names the parameter in its text only; rather than read the text, ask the
    attack again without the sweep: the entry's params, the swept parameter at its default.
    If they are refused the same way, the params are at fault; otherwise the sweep is. Some
    params cannot stand without the swept value (a sleeper wakes no earlier than it starts):
    then ask the swept value alone on default params, which stands (``_swept_values``
    checked it): refused the same way, the sweep is at fault.
    """
    if variant.sweep is None:
        return False
    entry, param = variant.entry, variant.sweep[0]
    cls = attack_class(entry.name)
    try:
        unswept = cls.from_config(entry.params, entry.threat, variant.where)
    except ConfigError:
        alone = cls.from_config({param: variant.params[param]}, entry.threat, variant.where)
        return _check_error(alone, economy, rounds) == error
    return _check_error(unswept, economy, rounds) != error


def _check_acts_on(variant: AttackVariant, economy: Economy, rounds: int) -> None:
    """The attack's own check that it can act on the economy in time (its rounds, the
    observations or market it needs), reported at the entry's params or sweep."""
    error = _check_error(variant.attack, economy, rounds)
    if error is not None:
        part = "sweep" if _sweep_is_at_fault(variant, economy, rounds, error) else "params"
        raise ConfigError(f"{variant.where}.{part}.{error} (on {economy.name})")


def _check_threat(variant: AttackVariant, economy: Economy) -> None:
    """Choose the attacker's agents once, so a threat model the economy cannot satisfy (too
    many agents, a role it does not have) fails now rather than mid-run."""
    try:
        variant.attack.threat.choose_agents(economy, np.random.default_rng(0))
    except ConfigError as exc:
        raise ConfigError(
            f"{variant.where}.threat.{exc} (attack {variant.entry.name} on {economy.name})"
        ) from None


def _check_variant(
    variant: AttackVariant, economies: tuple[ResolvedEconomy, ...], sections: SuiteSections
) -> None:
    """Fail now, not mid-run, where a variant cannot run on every economy of the suite: it
    cannot act there, its blast radius ends after the last round, its threat model or its
    objective does not fit the economy."""
    rounds = sections.settings.rounds
    for economy in economies:
        _check_acts_on(variant, economy.economy, rounds)
    last = max(sections.metrics.blast_radius_rounds)
    first = variant.attack.first_round
    if first + last > rounds:
        raise ConfigError(
            f"metrics.blast_radius_rounds: {last} rounds after {variant.where} starts "
            f"(round {first}) is past the last round ({rounds - 1})"
        )
    goal = OBJECTIVES[variant.params["objective"]]
    for economy in economies:
        _check_threat(variant, economy.economy)
        if goal.economies and economy.economy.name not in goal.economies:
            raise ConfigError(
                f"{variant.where}.params.objective: {goal.name!r} applies to "
                f"{', '.join(goal.economies)}, not {economy.economy.name}"
            )


def resolve_attacks(
    sections: SuiteSections, economies: tuple[ResolvedEconomy, ...]
) -> tuple[AttackVariant, ...]:
    """Every attack variant, checked on every economy; two variants under one label would be
    one scorecard row."""
    variants = [
        variant
        for i, entry in enumerate(sections.attacks)
        for variant in _attack_variants(entry, f"attacks[{i}]")
    ]
    for variant in variants:
        _check_variant(variant, economies, sections)
    labels = [v.label for v in variants]
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"attacks: two variants are both labelled {duplicate!r}; set label")
    return tuple(variants)
