"""Stack compatibility fixes and device helpers."""
from .spconv_algo import auto_spconv_algo, set_spconv_algo

__all__ = ['auto_spconv_algo', 'set_spconv_algo']
