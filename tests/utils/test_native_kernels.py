"""has_native_kernels against the CPU's own feature flags."""
import torch

from kdmos_plugin.utils import cpu_description, has_native_kernels


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


def test_cpu_description_reads_the_model_and_the_speed_flags(tmp_path):
    listing = tmp_path / 'cpuinfo'
    listing.write_text(
        'processor\t: 0\nvendor_id\t: AuthenticAMD\n'
        'model name\t: AMD EPYC 9B14\n'
        'flags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_bf16 xsave\n'
        '\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu amx_tile\n')
    cpu = cpu_description(str(listing))
    assert cpu['model'] == 'AMD EPYC 9B14'
    # the first processor's flags, in SPEED_FLAGS order, the others dropped
    assert cpu['flags'] == ['avx2', 'avx512f', 'avx512bw', 'avx512_bf16']
    assert cpu['bf16_native'] is has_native_kernels('cpu', torch.bfloat16)


def test_cpu_description_without_a_listing_still_names_the_cpu(tmp_path):
    cpu = cpu_description(str(tmp_path / 'missing'))
    assert cpu['model'] and cpu['flags'] == []
