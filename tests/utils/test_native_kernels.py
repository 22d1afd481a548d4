"""has_native_kernels against the CPU's own feature flags."""
import torch

from kdmos_plugin.utils import has_native_kernels


def _cpu_flags():
    """The x86 feature flags of /proc/cpuinfo (empty elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def test_native_kernels_follow_the_cpu_flags():
    flags = _cpu_flags()
    if flags:  # x86 Linux: oneDNN's bf16 needs AVX-512 BW, VL and DQ
        want = {'avx512bw', 'avx512vl', 'avx512dq'} <= flags
        assert has_native_kernels('cpu', torch.bfloat16) is want
    assert has_native_kernels('cpu', torch.float16) is False
    assert has_native_kernels('meta', torch.bfloat16) is False
