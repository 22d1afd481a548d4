"""Which reduced-precision kernels a device has (bf16 on CPU, on CUDA)."""
import platform
from functools import lru_cache
from typing import Dict, List

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


#: The x86 feature flags that decide which CPU inference path is fast:
#: AVX2 (float32 convolutions), AVX-512 (oneDNN's bf16), AVX-512 BF16 and
#: AMX (bf16 matrix units).
SPEED_FLAGS = ('avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq',
               'avx512_bf16', 'amx_bf16', 'amx_tile')


def cpu_description(cpuinfo: str = '/proc/cpuinfo') -> Dict[str, object]:
    """The CPU model and the feature flags of :data:`SPEED_FLAGS` it has,
    for benchmark reports (their figures depend on them).

    Args:
        cpuinfo (str): A Linux ``/proc/cpuinfo`` listing; where it cannot
            be read, ``platform.processor()`` names the CPU and no flags
            are given.

    Returns:
        dict: ``model`` (str), ``flags`` (list of str, in
        :data:`SPEED_FLAGS` order) and ``bf16_native`` (bool,
        :func:`has_native_kernels` of bf16 on this CPU).
    """
    model, flags = '', set()
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'model name' and not model:
                    model = value.strip()
                elif key == 'flags' and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    have: List[str] = [f for f in SPEED_FLAGS if f in flags]
    return dict(model=model or platform.processor() or platform.machine(),
                flags=have,
                bf16_native=has_native_kernels('cpu', torch.bfloat16))
