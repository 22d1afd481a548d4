"""Entry points shared by the command-line tools."""
from .config import load_config

__all__ = ['load_config']
from . import teacher_logits  # noqa: E402,F401
__all__ += ['teacher_logits']
