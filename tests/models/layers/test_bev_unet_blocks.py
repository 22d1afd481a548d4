"""Circular padding in azimuth and the U-Net blocks."""
import pytest
import torch
import torch.nn.functional as F

from kdmos_plugin.models.layers import (CircularConvBNAct, Down, InConv, Up,
                                        circular_pad_phi, pad_to)


def test_circular_pad_wraps_azimuth_only():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)
    out = circular_pad_phi(x)
    assert out.shape == (1, 2, 3, 6)
    torch.testing.assert_close(out[..., 0], x[..., -1])
    torch.testing.assert_close(out[..., -1], x[..., 0])
    torch.testing.assert_close(out[..., 1:-1], x)


def test_conv_is_equivariant_to_azimuth_rotation():
    """Rolling the input along phi rolls the output: the map wraps."""
    torch.manual_seed(0)
    conv = CircularConvBNAct(3, 5).eval()
    bn = conv[1]
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.normal_()
    bn.bias.data.normal_()
    x = torch.randn(2, 3, 6, 9)
    out = conv(x)
    rolled = conv(torch.roll(x, shifts=4, dims=3))
    torch.testing.assert_close(rolled, torch.roll(out, shifts=4, dims=3))
    # literal: first output column uses the last input column
    w, b = conv[0].weight, conv[0].bias
    lit = F.conv2d(torch.cat([x[..., -1:], x, x[..., :1]], 3), w, b,
                   padding=(1, 0))
    bn = conv[1]
    lit = (lit - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + bn.eps)
    lit = F.leaky_relu(lit * bn.weight[:, None, None] +
                       bn.bias[:, None, None], 0.01)
    torch.testing.assert_close(out, lit, atol=1e-5, rtol=1e-5)
    # eval (BN folded into the conv) equals the unfolded module sequence
    seq = torch.nn.Sequential(*conv)(circular_pad_phi(x))
    torch.testing.assert_close(out, seq, atol=1e-5, rtol=1e-5)


def test_zero_padding_along_rho():
    """Rows are zero padded: rolling along rho does not commute."""
    torch.manual_seed(0)
    conv = CircularConvBNAct(2, 2).eval()
    x = torch.randn(1, 2, 6, 5)
    assert not torch.allclose(conv(torch.roll(x, 2, dims=2)),
                              torch.roll(conv(x), 2, dims=2))


def test_down_and_inconv_shapes():
    x = torch.randn(1, 4, 45, 21)
    assert InConv(4, 8)(x).shape == (1, 8, 45, 21)
    assert Down(4, 8)(x).shape == (1, 8, 22, 10)


def test_pad_to_puts_extra_column_on_the_right():
    x = torch.ones(1, 1, 4, 4)
    out = pad_to(x, (5, 5))
    assert out.shape == (1, 1, 5, 5)
    assert float(out[..., 4].abs().sum()) == 0.0   # last column zero
    assert float(out[..., 4, :].abs().sum()) == 0.0  # last row zero
    torch.testing.assert_close(out[..., :4, :4], x)
    with pytest.raises(ValueError, match='smaller'):
        pad_to(x, (3, 4))


def test_up_concatenates_skip_first():
    up = Up(4, 3, torch.nn.Upsample(scale_factor=2)).eval()
    x, skip = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 7, 9)
    assert up(x, skip).shape == (1, 3, 7, 9)
