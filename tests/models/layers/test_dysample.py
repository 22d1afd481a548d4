"""DySample: bilinear x2 with zero offsets, offset layout vs a literal loop."""
import math

import pytest
import torch
import torch.nn.functional as F

from kdmos_plugin.models.layers import DySample


def _literal_dysample(x, offset_out, scale=2, groups=4):
    """Slow per-output-pixel DySample from the formula (border clamping)."""
    b, c, h, w = x.shape
    out = torch.zeros(b, c, scale * h, scale * w, dtype=torch.float64)
    x = x.double()
    per = scale * scale
    for bi in range(b):
        for g in range(groups):
            chans = slice(g * c // groups, (g + 1) * c // groups)
            for i in range(scale):
                for j in range(scale):
                    k = g * per + i * scale + j
                    for hh in range(h):
                        for ww in range(w):
                            dx = 0.25 * float(offset_out[bi, k, hh, ww]) + \
                                (j - (scale - 1) / 2) / scale
                            dy = 0.25 * float(
                                offset_out[bi, groups * per + k, hh, ww]) + \
                                (i - (scale - 1) / 2) / scale
                            # continuous index space: centre of pixel q is q
                            xs = min(max(ww + dx, 0.0), w - 1.0)
                            ys = min(max(hh + dy, 0.0), h - 1.0)
                            x0, y0 = math.floor(xs), math.floor(ys)
                            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
                            ax, ay = xs - x0, ys - y0
                            v = ((1 - ay) * ((1 - ax) * x[bi, chans, y0, x0] +
                                             ax * x[bi, chans, y0, x1]) +
                                 ay * ((1 - ax) * x[bi, chans, y1, x0] +
                                       ax * x[bi, chans, y1, x1]))
                            out[bi, chans, scale * hh + i, scale * ww + j] = v
    return out


def test_zero_offsets_equal_bilinear_interpolation():
    torch.manual_seed(0)
    up = DySample(16)
    torch.nn.init.zeros_(up.offset.weight)
    torch.nn.init.zeros_(up.offset.bias)
    x = torch.randn(2, 16, 5, 7)
    ref = F.interpolate(x, scale_factor=2, mode='bilinear',
                        align_corners=False)
    out = up(x)
    assert out.shape == (2, 16, 10, 14)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_learned_offsets_match_literal_sampling():
    torch.manual_seed(1)
    up = DySample(8)
    torch.nn.init.normal_(up.offset.weight, std=1.0)
    torch.nn.init.normal_(up.offset.bias, std=1.0)
    x = torch.randn(1, 8, 3, 4)
    with torch.no_grad():
        offset_out = up.offset(x)
        out = up(x)
    ref = _literal_dysample(x, offset_out)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    # the learned offsets really move the samples
    assert not torch.allclose(
        out, F.interpolate(x, scale_factor=2, mode='bilinear'), atol=1e-3)


@pytest.mark.parametrize('channels,params', [(256, 8224), (128, 4128),
                                             (64, 2080), (32, 1056)])
def test_parameter_count_and_init(channels, params):
    up = DySample(channels)
    assert sum(p.numel() for p in up.parameters()) == params
    assert up.init_pos.shape == (1, 32, 1, 1)
    assert float(up.offset.bias.detach().abs().max()) == 0.0
    assert float(up.offset.weight.detach().std()) < 0.01


def test_rejects_indivisible_channels():
    with pytest.raises(ValueError, match='groups'):
        DySample(6)


def test_reduced_precision_samples_at_float32_positions():
    """bf16 weights or autocast: the sampling positions stay float32 (in
    bf16 a column index in 128..255 has a step of one whole pixel)."""
    import copy
    torch.manual_seed(0)
    up = DySample(16).eval()
    torch.nn.init.normal_(up.offset.weight, 0.0, 0.3)
    x = torch.randn(1, 16, 20, 150)
    with torch.no_grad():
        ref = up(x)
        low = copy.deepcopy(up).to(torch.bfloat16)
        out = low(x.to(torch.bfloat16))
        assert out.dtype == torch.bfloat16
        with torch.autocast('cpu', dtype=torch.bfloat16):
            auto = up(x)
    # bf16 rounding of the input and the offsets only: a few 1e-2
    assert (out.float() - ref).abs().max() < 0.1
    assert (auto.float() - ref).abs().max() < 0.1
