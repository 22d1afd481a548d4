"""Which reduced-precision kernels a device has (bf16 on CPU, on CUDA)."""
from functools import lru_cache

import torch


@lru_cache(maxsize=None)
def has_native_kernels(device_type: str, dtype: torch.dtype) -> bool:
    """Whether ``device_type`` computes ``dtype`` with fast kernels.

    oneDNN's bf16 kernels need AVX-512 (BW, VL and DQ; AVX-512 BF16 and AMX
    make them faster still); on an AVX2-only CPU PyTorch emulates bf16
    slowly. Measured on a 2-core AMD EPYC without AVX-512, one iteration of
    the synthetic student (configs/kdmos/student_bev_synthetic.py, one
    thread): 15.6 s under bf16 autocast against 2.4 s in float32. On CUDA
    bf16 needs an Ampere or newer GPU; float16 is native on every CUDA GPU.

    Args:
        device_type (str): ``'cpu'``, ``'cuda'``, ...
        dtype (torch.dtype): ``torch.bfloat16`` or ``torch.float16``.

    Returns:
        bool: False when unknown (another device type, or no way to ask).
    """
    if device_type == 'cuda':
        return dtype == torch.float16 or torch.cuda.is_bf16_supported()
    if device_type == 'cpu' and dtype == torch.bfloat16:
        try:  # oneDNN's own check (AVX-512 BW, VL, DQ)
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # pragma: no cover
            return False
    return False  # float16 on CPU: emulated where not refused
