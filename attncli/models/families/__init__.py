"""Every family attncli runs, by config.json's model_type: each group's table (one module per group of families
that share a layer; models/family.py says what a Family holds), and how config.json picks one and refuses
settings it does not compute. Adding a family: a table entry in its group's module (or a new module listed here)
and only the operations it truly adds (docs/models.md, "Adding a family")."""

from __future__ import annotations

from attncli.models import rope_config, rules
from attncli.models.families import deberta, decoders, encoders, encoders2, gemma, moe, neox, phi3
from attncli.models.family import COMMON_KEYS, Family, Honoured, Key, Refused, Rounding, json_text

__all__ = ["ARCHITECTURES", "COMMON_KEYS", "FAMILIES", "Family", "Honoured", "Key", "Refused", "Rounding",
           "family_of", "refusal"]

GROUPS = (encoders, decoders, encoders2, neox, gemma, moe, deberta, phi3)
FAMILIES: dict[str, Family] = {name: fam for group in GROUPS for name, fam in group.FAMILIES.items()}

# architectures (config.json "architectures") -> model_type, for configs that do not say model_type
ARCHITECTURES: dict[str, str] = {stem: name for group in GROUPS for stem, name in group.ARCHITECTURES.items()}


def family_of(config: dict) -> Family:
    """The family config.json describes (model_type, else architectures), or an error naming the supported."""
    from attncli.errors import AttnError

    kind = config.get("model_type")
    if kind is None:
        for arch in config.get("architectures") or []:
            for stem, name in ARCHITECTURES.items():
                rest = arch[len(stem):] if isinstance(arch, str) and arch.startswith(stem) else None
                if rest is not None and (rest in ("", "Model") or rest.startswith(("For", "LMHead"))):
                    kind = name
    if kind not in FAMILIES:
        shown = repr(kind) if kind is not None else "nothing (no model_type or known architectures)"
        raise AttnError(f"MODEL: config.json names model_type {shown}, which attncli does not support; supported: "
                        f"{', '.join(FAMILIES)}")
    return FAMILIES[kind]


def refusal(config: dict, family: Family) -> str | None:
    """The message for the first key of `family.config` that config.json sets to a value attncli does not
    compute (None: every one is honoured or at a value attncli computes)."""
    for key in family.config:
        if not isinstance(key, Refused):
            continue
        value = rules.lookup(config, key.key)
        if value is rules.MISSING or any(value == ok for ok in key.accepts):
            continue
        name = rules.found_at(config, key.key)
        allowed = " or ".join(json_text(ok) for ok in key.accepts) if key.accepts else "absent"
        return (f"MODEL: config.json sets {name} to {json_text(value)}; attncli computes a {family.name} model only "
                f"with {key.key} {allowed} ({key.what}), so it stops rather than show maps that would be wrong")
    for key in family.numbers:
        value = rules.lookup(config, key)
        if value is not rules.MISSING and not rules.is_number(value):
            return (f"MODEL: config.json sets {key} to {json_text(value)}; attncli computes a {family.name} model "
                    f"only with a finite number there")
    if family.positions != "rope":
        return None
    layers = config.get("num_hidden_layers")  # a RoPE per layer (Gemma 3's layer types): each one checked
    count = layers if family.layer_rope is not rules.same_rope and isinstance(layers, int) and layers > 0 else 1
    for i in range(min(count, 4096)):
        problem = rope_config.rope_problem(family.layer_rope(config, i), family.rope_keys)
        if problem is not None:
            return f"MODEL: config.json's {problem}, so attncli stops rather than guess its RoPE"
    return None
