"""What to do per risk and role: allow, flag, redact or block, with score thresholds.

Two presets ship: ``draft-2023`` (the April 2023 draft Measures, the seed: real-name required,
anti-addiction for all users, a three-month model-fix deadline) and ``interim-2023`` (the final
Interim Measures: minors only, no fixed deadline). A policy file may start from a preset
(``extends: draft-2023``) and override rules.
"""

from hegui.policy.model import (
    Action,
    Duties,
    Policy,
    PolicyError,
    RedactOperator,
    Role,
    Rule,
    load_policy,
    preset_names,
)

__all__ = [
    "Action",
    "Duties",
    "Policy",
    "PolicyError",
    "RedactOperator",
    "Role",
    "Rule",
    "load_policy",
    "preset_names",
]
