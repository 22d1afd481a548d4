"""Co-attention gate (CAG) fusing motion into appearance BEV features.

docs/METHOD.md section 2.2 (MotionBEV's CAG with the MGA attention).
"""
import torch
from torch import Tensor, nn

from .bev_unet_blocks import (CircularConvBNAct, circular_conv3x3,
                              circular_pad_phi)


class MotionGuidedAttention(nn.Module):
    """Motion-guided attention (MGA) of the gated features.

    ``sp = sigmoid(spatial_conv(f_m))`` (B, 1, H, W); ``x = sp * f_a``;
    ``v = softmax_c(channel_conv(mean_hw(x))) * C_a`` (B, C_a, 1, 1);
    output ``x * v + f_a``.

    Args:
        channels_a (int): Appearance channels C_a.
        channels_m (int): Motion channels C_m.
    """

    def __init__(self, channels_a: int, channels_m: int) -> None:
        super().__init__()
        self.spatial_conv = nn.Conv2d(channels_m, 1, 1)
        self.channel_conv = nn.Conv2d(channels_a, channels_a, 1)

    def forward(self, f_a: Tensor, f_m: Tensor) -> Tensor:
        """f_a (B, C_a, H, W), f_m (B, C_m, H, W) -> (B, C_a, H, W)."""
        x = torch.sigmoid(self.spatial_conv(f_m)) * f_a
        v = self.channel_conv(x.mean(dim=(2, 3), keepdim=True))
        v = torch.softmax(v, dim=1) * v.shape[1]
        return x * v + f_a


class _UnusedChannelAttention(nn.Module):
    """Parameters of the published, never-called motion channel attention.

    ``fc1`` Conv1x1 C_m -> C_m // 8 and ``fc2`` C_m // 8 -> C_m, no bias.
    Kept only so that the parameter count and published checkpoints match.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // 8, channels, 1, bias=False)


class _UnusedSpatialAttention(nn.Module):
    """Parameters of the published, never-called spatial attention.

    ``conv`` Conv3x3 2 -> 1, no bias. Kept only for parameter parity.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 3, padding=(1, 0), bias=False)


class CoAttentionGate(nn.Module):
    """Gate appearance and motion features by global scores, then fuse.

    ::

        g = gate_conv(fuse_conv(cat[f_a, f_m]))          # (B, 2, H, W)
        s_a, s_m = mean_hw(sigmoid(g))                    # (B,) each
        out = mga(s_a * f_a, s_m * f_m)                   # (B, C_a, H, W)

    ``fuse_conv`` is a circular Conv3x3 + BN + LeakyReLU to 32 channels,
    ``gate_conv`` a circular Conv3x3 32 -> 2 with bias. The gated motion
    feature is discarded by the published network, so only ``out`` is
    returned.

    Args:
        channels_a (int): Appearance channels C_a.
        channels_m (int): Motion channels C_m.
        hidden_channels (int): Channels of ``fuse_conv``.
        with_unused_attention (bool): Also build the published, never used
            motion channel/spatial attention modules (``C_m**2 / 4 + 18``
            parameters) so that parameter counts and published checkpoints
            match exactly. They do not change the output.
    """

    def __init__(self, channels_a: int, channels_m: int,
                 hidden_channels: int = 32,
                 with_unused_attention: bool = False) -> None:
        super().__init__()
        self.fuse_conv = CircularConvBNAct(channels_a + channels_m,
                                           hidden_channels)
        self.gate_conv = nn.Conv2d(hidden_channels, 2, 3, padding=(1, 0))
        self.mga = MotionGuidedAttention(channels_a, channels_m)
        if with_unused_attention:
            self.unused_channel_attention = _UnusedChannelAttention(
                channels_m)
            self.unused_spatial_attention = _UnusedSpatialAttention()

    def forward(self, f_a: Tensor, f_m: Tensor) -> Tensor:
        """f_a (B, C_a, H, W), f_m (B, C_m, H, W) -> (B, C_a, H, W)."""
        g = self.fuse_conv(torch.cat([f_a, f_m], dim=1))
        if self.training or not self.fuse_conv.fuse_eval:
            g = self.gate_conv(circular_pad_phi(g))
        else:  # the same circular convolution without a padded copy
            g = circular_conv3x3(g, self.gate_conv.weight,
                                 self.gate_conv.bias)
        s = torch.sigmoid(g).mean(dim=(2, 3), keepdim=True)  # (B, 2, 1, 1)
        return self.mga(f_a * s[:, 0:1], f_m * s[:, 1:2])
