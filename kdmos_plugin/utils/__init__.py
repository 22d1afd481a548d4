"""Stack compatibility fixes and device helpers."""
from .native_kernels import cpu_description, has_native_kernels
from .spconv_algo import auto_spconv_algo, set_spconv_algo

__all__ = ['auto_spconv_algo', 'cpu_description', 'has_native_kernels',
           'set_spconv_algo']
