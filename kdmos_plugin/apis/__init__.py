"""Entry points shared by the command-line tools."""
from .config import load_config
from .distributed import finish_distributed

__all__ = ['load_config', 'finish_distributed']
from . import teacher_logits  # noqa: E402,F401
__all__ += ['teacher_logits']
