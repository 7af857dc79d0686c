"""attncli's core: pure numpy, no CLI, no files.

    attend(q, k, v, spec, plan)       attention on projected arrays (core/attend.py)
    project(x, weights, ...)          token vectors to Q, K, V (core/project.py)
    attention(x, weights, spec, ...)  project → attend → · W_O (core/attention.py)
    Spec, Plan                        which attention, and how to run it (core/spec.py)
"""

from attncli.core.attend import attend
from attncli.core.attention import attention
from attncli.core.project import project
from attncli.core.result import AttentionResult
from attncli.core.spec import Graph, Plan, Rope, Spec, Window2d

__all__ = ["attend", "attention", "project", "AttentionResult", "Spec", "Plan", "Rope", "Graph", "Window2d"]
