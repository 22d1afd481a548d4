"""DySample: learned point-sampling up-sampler (Liu et al., ICCV 2023).

Style "lp" (offsets predicted on the low-resolution input), static scope,
as used by KDMOS. docs/METHOD.md section 2.3.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DySample(nn.Module):
    """Up-sample by ``scale`` with learned per-pixel sampling offsets.

    For every output pixel ``(scale*h + i, scale*w + j)`` and channel group
    ``g``, the input is sampled bilinearly (``grid_sample``,
    ``align_corners=False``, ``padding_mode='border'``) at the input-pixel
    position ``(w + 0.5 + dx, h + 0.5 + dy)`` with::

        (dx, dy) = 0.25 * offset_conv(x)[g, i, j] + init_pos[i, j]
        init_pos[i, j] = ((j - (scale-1)/2) / scale, (i - (scale-1)/2) / scale)

    The offset convolution output has ``2 * groups * scale**2`` channels,
    laid out ``coord * groups*scale**2 + g * scale**2 + i * scale + j`` with
    ``coord`` 0 = x (width, phi) and 1 = y (height, rho). With its weights
    zeroed the module is bilinear up-sampling (``F.interpolate``,
    ``align_corners=False``). It does not wrap around in azimuth.

    Parameters: ``(C + 1) * 2 * groups * scale**2`` (32 C + 32 for the
    defaults). The buffer ``init_pos`` (1, 2*groups*scale**2, 1, 1) is
    persistent, as in the published checkpoints.

    Args:
        in_channels (int): Channels C (divisible by ``groups``).
        scale (int): Up-sampling factor.
        groups (int): Channel groups sharing one set of offsets.
    """

    def __init__(self, in_channels: int, scale: int = 2,
                 groups: int = 4) -> None:
        super().__init__()
        if in_channels % groups:
            raise ValueError(f'DySample: in_channels={in_channels} is not '
                             f'divisible by groups={groups}')
        self.scale = scale
        self.groups = groups
        out_channels = 2 * groups * scale**2
        self.offset = nn.Conv2d(in_channels, out_channels, 1)
        nn.init.normal_(self.offset.weight, 0.0, 0.001)
        nn.init.zeros_(self.offset.bias)
        self.register_buffer('init_pos', self._init_pos())

    def _init_pos(self) -> Tensor:
        """(1, 2*groups*scale**2, 1, 1): the sub-pixel grid of bilinear x2."""
        s = self.scale
        h = (torch.arange(s, dtype=torch.float32) - (s - 1) / 2) / s
        dx = h.view(1, s).expand(s, s)  # [i, j] -> h[j]
        dy = h.view(s, 1).expand(s, s)  # [i, j] -> h[i]
        pos = torch.stack([dx, dy]).unsqueeze(1).expand(2, self.groups, s, s)
        return pos.reshape(1, -1, 1, 1).clone()

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, scale*H, scale*W), dtype of ``x``.

        Sampling positions and the bilinear sampling are float32 (or
        float64) for any input dtype (bf16 under autocast or in a bf16 network: its 8-bit
        mantissa would round a position in columns 128-255 to whole
        pixels); for float32 and float64 input every cast is a no-op.
        """
        b, c, h, w = x.shape
        s, g = self.scale, self.groups
        wide = torch.promote_types(x.dtype, torch.float32)
        offset = self.offset(x).to(wide) * 0.25 + self.init_pos.to(wide)
        offset = offset.view(b, 2, g, s, s, h, w)
        base_x = torch.arange(w, device=x.device, dtype=wide) + 0.5
        base_y = torch.arange(h, device=x.device, dtype=wide) + 0.5
        gx = (offset[:, 0] + base_x) * (2.0 / w) - 1.0
        gy = (offset[:, 1] + base_y.view(h, 1)) * (2.0 / h) - 1.0
        # (B, G, i, j, H, W) -> (B, G, H, i, W, j, 2) -> (B*G, sH, sW, 2):
        # one stack of the permuted views writes the final layout
        order = (0, 1, 4, 2, 5, 3)
        grid = torch.stack([gx.permute(order), gy.permute(order)], dim=-1)
        grid = grid.reshape(b * g, s * h, s * w, 2)
        with torch.autocast(x.device.type, enabled=False):
            out = F.grid_sample(
                x.to(wide).reshape(b * g, c // g, h, w), grid,
                mode='bilinear', padding_mode='border', align_corners=False)
        return out.view(b, c, s * h, s * w).to(x.dtype)
