"""attncli's core: pure numpy, no CLI, no files. `attention()` is the whole pipeline."""

from attncli.core.attention import attention
from attncli.core.result import AttentionResult

__all__ = ["attention", "AttentionResult"]
