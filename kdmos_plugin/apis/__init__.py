"""Entry points shared by the command-line tools."""
from .config import load_config

__all__ = ['load_config']
