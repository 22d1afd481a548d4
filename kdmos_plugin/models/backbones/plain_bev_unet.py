"""A plain polar BEV U-Net: one encoder over appearance and motion maps."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from ..layers.bev_unet_blocks import Down, InConv, Up, check_bev_maps


@MODELS.register_module()
class PlainBEVUNet(BaseModule):
    """U-Net on the concatenated appearance and motion BEV maps.

    A second student backbone with the contract of :class:`CABEVUNet`
    (``forward(appearance, motion) -> (B, channels[0], R, P)``), but
    without the motion branch and its co-attention gates: the motion
    channels simply join the appearance channels at the input. Blocks are
    the CA-BEV-UNet's (circular along phi), up-sampling by transposed
    convolution. Call flow with L = len(channels) levels::

        x = cat[appearance, motion]        (B, Ca + Cm, R, P)
        e0 = inc(x)                        (B, c0, R, P)
        e_l = down_l(e_{l-1})              (B, c_l, R / 2^l, P / 2^l)
        d = e_{L-1}
        d = up_l(d, e_l), l = L-2 .. 0     (B, c_l, ...)
        return d                           (B, c0, R, P)

    R and P must be at least ``2 ** (L - 1)``.

    Args:
        in_channels (int): Appearance BEV channels Ca.
        motion_channels (int): Motion BEV channels Cm.
        channels (Sequence[int]): Widths per level, finest first (>= 2).
        input_norm (bool): BatchNorm2d on the concatenated input.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int = 32,
                 motion_channels: int = 8,
                 channels: Sequence[int] = (32, 64, 128, 128),
                 input_norm: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        c = [int(w) for w in channels]
        if len(c) < 2:
            raise ValueError(f'PlainBEVUNet: channels needs at least 2 '
                             f'levels, got {channels}')
        self.in_channels = in_channels
        self.motion_channels = motion_channels
        self.out_channels = c[0]
        self.inc = InConv(in_channels + motion_channels, c[0], input_norm)
        self.downs = nn.ModuleList(
            Down(c[i - 1], c[i]) for i in range(1, len(c)))
        # ups[l] takes level l + 1 up to level l (deepest is used first)
        self.ups = nn.ModuleList(
            Up(c[i + 1] + c[i], c[i],
               nn.ConvTranspose2d(c[i + 1], c[i + 1], 2, stride=2))
            for i in range(len(c) - 1))

    def forward(self, appearance: Tensor, motion: Tensor) -> Tensor:
        """Decoder features of a batch.

        Args:
            appearance (Tensor): (B, in_channels, R, P) appearance BEV map.
            motion (Tensor): (B, motion_channels, R, P) motion BEV map.

        Returns:
            Tensor: (B, channels[0], R, P) features.
        """
        check_bev_maps('PlainBEVUNet', appearance, motion,
                       num_downs=len(self.downs))
        skips = [self.inc(torch.cat([appearance, motion], 1))]
        for down in self.downs:
            skips.append(down(skips[-1]))
        d = skips.pop()
        for level in reversed(range(len(self.ups))):
            d = self.ups[level](d, skips[level])
        return d
