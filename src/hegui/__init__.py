"""hegui (合规): compliance for generative-AI services under China's Generative AI Measures.

The in-process API is `Guard`::

    from hegui import Guard
    verdict = Guard().check("我的手机号是13812345678", role="input")
    verdict.action, verdict.redacted
"""

from hegui.detect.base import Finding
from hegui.guard import Guard, Verdict
from hegui.policy import Action, Policy, Role, load_policy

__version__ = "0.1.0"

__all__ = ["Action", "Finding", "Guard", "Policy", "Role", "Verdict", "__version__", "load_policy"]
