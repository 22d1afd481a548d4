"""Dual-branch polar BEV U-Net with co-attention gates (MotionBEV/KDMOS)."""
from typing import Optional, Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from ..layers.bev_unet_blocks import Down, InConv, Up, check_bev_maps
from ..layers.co_attention_gate import CoAttentionGate
from ..layers.dropblock import DropBlock2D
from ..layers.dysample import DySample

UPSAMPLERS = ('dysample', 'deconv')


@MODELS.register_module()
class CABEVUNet(BaseModule):
    """CA-BEV-UNet: appearance U-Net gated by a motion encoder.

    docs/METHOD.md section 2.2. Call flow for (R, P) = (480, 360)::

        appearance A (B, 32, R, P)          motion M (B, 8, R, P)
        c0 = cag0(inc(A), m0)               m0 = res_inc(M)        480x360
        c1 = cag1(down1(c0), m1)            m1 = res_down1(m0)     240x180
        c2 = cag2(down2(c1), m2)            m2 = res_down2(m1)     120x90
        c3 = cag3(down3(c2), m3)            m3 = res_down3(m2)      60x45
        c4 = down4(c3)                                              30x22
        d = up3(c4, c3); d = up2(d, c2); d = up1(d, c1); d = up0(d, c0)
        return d                            (B, channels[0], R, P)

    ``forward()`` returns the decoder features ``d`` and nothing else; the
    head dropout and the 1x1 classifier of the published network are the
    student's decode head (:class:`BEVVoxelHead`). Every ``up`` block
    up-samples x2 (DySample, or a ConvTranspose2d(2, stride 2) for
    MotionBEV), zero-pads to the skip size, concatenates ``[skip, up]``,
    runs a circular double conv and DropBlock2D (training only). R and P
    must be at least 16.

    Args:
        in_channels (int): Appearance BEV channels.
        motion_channels (int): Motion BEV channels.
        channels (Sequence[int]): Appearance encoder widths, 5 levels.
        motion_widths (Sequence[int]): Motion encoder widths, 4 levels.
        upsample (str): ``'dysample'`` (KDMOS) or ``'deconv'`` (MotionBEV).
        dropblock_size (int): DropBlock2D block size.
        dropblock_prob (float): DropBlock2D drop probability (0 disables).
        input_norm (bool): BatchNorm2d on both BEV inputs.
        with_unused_attention (bool): Keep the published, never used
            attention parameters in every gate (exact parameter count and
            checkpoint keys); see :class:`CoAttentionGate`.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int = 32,
                 motion_channels: int = 8,
                 channels: Sequence[int] = (32, 64, 128, 256, 256),
                 motion_widths: Sequence[int] = (16, 32, 64, 128),
                 upsample: str = 'dysample',
                 dropblock_size: int = 7,
                 dropblock_prob: float = 0.5,
                 input_norm: bool = True,
                 with_unused_attention: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if upsample not in UPSAMPLERS:
            raise ValueError(f'CABEVUNet: unknown upsample {upsample!r}; '
                             f'choose one of {UPSAMPLERS}')
        if len(channels) != 5 or len(motion_widths) != 4:
            raise ValueError('CABEVUNet: channels needs 5 and motion_widths '
                             f'4 entries, got {channels} and {motion_widths}')
        self.out_channels = channels[0]
        self.upsample_type = upsample
        c, m = list(channels), list(motion_widths)

        self.inc = InConv(in_channels, c[0], input_norm)
        self.down1 = Down(c[0], c[1])
        self.down2 = Down(c[1], c[2])
        self.down3 = Down(c[2], c[3])
        self.down4 = Down(c[3], c[4])
        self.res_inc = InConv(motion_channels, m[0], input_norm)
        self.res_down1 = Down(m[0], m[1])
        self.res_down2 = Down(m[1], m[2])
        self.res_down3 = Down(m[2], m[3])
        for k in range(4):
            self.add_module(
                f'cag{k}',
                CoAttentionGate(c[k], m[k],
                                with_unused_attention=with_unused_attention))

        def up(deeper: int, skip: int, out: int) -> Up:
            if upsample == 'dysample':
                sampler = DySample(deeper)
            else:
                sampler = nn.ConvTranspose2d(deeper, deeper, 2, stride=2)
            drop = (DropBlock2D(dropblock_size, dropblock_prob)
                    if dropblock_prob > 0 else None)
            return Up(deeper + skip, out, sampler, drop)

        self.up3 = up(c[4], c[3], c[2])
        self.up2 = up(c[2], c[2], c[1])
        self.up1 = up(c[1], c[1], c[0])
        self.up0 = up(c[0], c[0], c[0])

    def forward(self, appearance: Tensor, motion: Tensor) -> Tensor:
        """Decoder features of a batch.

        Args:
            appearance (Tensor): (B, in_channels, R, P) appearance BEV map.
            motion (Tensor): (B, motion_channels, R, P) motion BEV map.

        Returns:
            Tensor: (B, channels[0], R, P) features.
        """
        check_bev_maps('CABEVUNet', appearance, motion, num_downs=4)
        m0 = self.res_inc(motion)
        m1 = self.res_down1(m0)
        m2 = self.res_down2(m1)
        m3 = self.res_down3(m2)
        c0 = self.cag0(self.inc(appearance), m0)
        c1 = self.cag1(self.down1(c0), m1)
        c2 = self.cag2(self.down2(c1), m2)
        c3 = self.cag3(self.down3(c2), m3)
        c4 = self.down4(c3)
        d = self.up3(c4, c3)
        d = self.up2(d, c2)
        d = self.up1(d, c1)
        return self.up0(d, c0)
