"""Convolution blocks of the polar BEV U-Net, padded circularly in azimuth.

The BEV maps are laid out ``(B, C, rho, phi)``: dim 2 is range, dim 3 is
azimuth. Azimuth wraps around (column ``P - 1`` neighbours column 0), so the
3x3 convolutions pad one column circularly along phi and zero-pad one row
along rho (``padding=(1, 0)`` in the convolution itself).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_bev_maps(owner: str, appearance: Tensor, motion: Tensor,
                   num_downs: int) -> None:
    """Refuse BEV inputs a U-Net with ``num_downs`` stride-2 stages cannot
    take: appearance (B, C_a, R, P) and motion (B, C_m, R, P) maps of
    different (R, P), or R or P below ``2 ** num_downs`` cells.

    Args:
        owner (str): Name of the backbone, for the message.
        appearance (Tensor): (B, C_a, R, P) appearance map.
        motion (Tensor): (B, C_m, R, P) motion map.
        num_downs (int): Number of stride-2 down-samplings.
    """
    if appearance.shape[-2:] != motion.shape[-2:]:
        raise ValueError(
            f'{owner}: appearance {tuple(appearance.shape)} and motion '
            f'{tuple(motion.shape)} maps differ in size')
    least = 2**num_downs
    if min(appearance.shape[-2:]) < least:
        raise ValueError(
            f'{owner}: {num_downs + 1} levels need a BEV grid of at least '
            f'{least}x{least}, got {tuple(appearance.shape[-2:])}')


def circular_pad_phi(x: Tensor, pad: int = 1) -> Tensor:
    """Pad the last (azimuth) dimension circularly.

    Args:
        x (Tensor): (B, C, R, P) BEV features.
        pad (int): Columns added on each side.

    Returns:
        Tensor: (B, C, R, P + 2 * pad); the new left columns are the last
        ``pad`` columns of ``x`` and the new right ones its first ``pad``.
    """
    return F.pad(x, (pad, pad, 0, 0), mode='circular')


def circular_conv3x3(x: Tensor, weight: Tensor,
                     bias: Optional[Tensor]) -> Tensor:
    """``conv2d(circular_pad_phi(x), weight, bias, padding=(1, 0))`` without
    copying the map.

    One zero-padded convolution of the whole map, plus a convolution of the
    4 columns ``P-2, P-1, 0, 1`` that recomputes the two wrapped border
    columns ``P-1`` and ``0``. Equal up to float rounding (the same
    products, summed by another kernel).

    Args:
        x (Tensor): (B, C_in, R, P) BEV features, P >= 2.
        weight (Tensor): (C_out, C_in, 3, 3).
        bias (Tensor, optional): (C_out,).

    Returns:
        Tensor: (B, C_out, R, P).
    """
    out = F.conv2d(x, weight, bias, padding=(1, 1))
    edge = F.conv2d(torch.cat([x[..., -2:], x[..., :2]], dim=-1), weight,
                    bias, padding=(1, 0))
    out[..., -1:] = edge[..., :1]
    out[..., :1] = edge[..., 1:]
    return out


class CircularConvBNAct(nn.Sequential):
    """Circular pad along phi, Conv3x3 (zero pad along rho), BN, LeakyReLU.

    Submodules ``0`` (conv), ``1`` (norm), ``2`` (activation).

    Training runs pad -> conv -> BN -> LeakyReLU literally. In eval mode
    (with ``fuse_eval``, the default) the BatchNorm is folded into the
    convolution and the circular padding is done without copying the map:
    one zero-padded convolution of the whole map plus a 4-column
    convolution that recomputes the two wrapped border columns.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        fuse_eval (bool): Use the fused eval path.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 fuse_eval: bool = True) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=(1, 0)),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.01, inplace=True))
        self.fuse_eval = fuse_eval

    def folded_weights(self) -> Tuple[Tensor, Tensor]:
        """Conv weight (O, I, 3, 3) and bias (O,) with the eval BN folded
        (the convolution's own, if the norm is already folded into it and
        replaced by ``nn.Identity``, see ``kdmos_plugin.deploy``)."""
        conv, norm = self[0], self[1]
        if isinstance(norm, nn.Identity):
            return conv.weight, conv.bias
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(
            scale)
        return (conv.weight * scale.view(-1, 1, 1, 1),
                (bias - norm.running_mean) * scale + norm.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, R, P) -> (B, C_out, R, P)."""
        if self.training or not self.fuse_eval or x.shape[-1] < 2:
            return super().forward(circular_pad_phi(x))
        weight, bias = self.folded_weights()
        return F.leaky_relu_(circular_conv3x3(x, weight, bias),
                             self[2].negative_slope)


class DoubleConvCircular(nn.Module):
    """Two :class:`CircularConvBNAct` (``conv1`` changes the channels).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = CircularConvBNAct(in_channels, out_channels)
        self.conv2 = CircularConvBNAct(out_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, R, P) -> (B, C_out, R, P)."""
        return self.conv2(self.conv1(x))


class InConv(nn.Module):
    """Input block: BatchNorm2d on the raw BEV map, then a double conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        input_norm (bool): Whether to normalise the input first (the
            published ``use_norm: True``).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 input_norm: bool = True) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels) if input_norm else None
        self.conv = DoubleConvCircular(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, R, P) -> (B, C_out, R, P)."""
        if self.norm is not None:
            x = self.norm(x)
        return self.conv(x)


class Down(nn.Module):
    """Encoder step: MaxPool2d(2) (floors odd sizes), then a double conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConvCircular(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, R, P) -> (B, C_out, R // 2, P // 2)."""
        return self.conv(self.pool(x))


def pad_to(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Zero-pad (B, C, H, W) to ``size``, splitting like the reference.

    The smaller half of each difference goes before (top/left), the larger
    after (bottom/right): 60x44 -> 60x45 adds one zero column on the right.
    Not circular.

    Args:
        x (Tensor): (B, C, H, W).
        size (tuple[int, int]): Target (H', W') with H' >= H, W' >= W.

    Returns:
        Tensor: (B, C, H', W').
    """
    dy, dx = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dy < 0 or dx < 0:
        raise ValueError(f'pad_to: cannot pad {tuple(x.shape[-2:])} to '
                         f'the smaller size {tuple(size)}')
    if dy == 0 and dx == 0:
        return x
    return F.pad(x, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))


class Up(nn.Module):
    """Decoder step: up-sample x2, pad to the skip, concat, conv, DropBlock.

    ``forward(x, skip)`` = dropblock(conv(cat[skip, pad(upsample(x))])).

    Args:
        in_channels (int): Channels after the concatenation (twice the
            channels of ``x``, which equal those of ``skip``).
        out_channels (int): Output channels.
        upsample (nn.Module): Maps (B, in/2, H, W) to (B, in/2, 2H, 2W).
        dropblock (nn.Module, optional): Applied to the output.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 upsample: nn.Module, dropblock: nn.Module = None) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = DoubleConvCircular(in_channels, out_channels)
        self.dropblock = dropblock

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """x (B, C_in/2, H, W), skip (B, C_skip, H', W') with
        H' >= 2H, W' >= 2W -> (B, C_out, H', W')."""
        x = pad_to(self.upsample(x), skip.shape[-2:])
        x = self.conv(torch.cat([skip, x], dim=1))
        if self.dropblock is not None:
            x = self.dropblock(x)
        return x
