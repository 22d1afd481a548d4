"""Sparse 4-D (x, y, z, t) residual U-Net on spconv."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS

from ...utils.spconv_algo import auto_spconv_algo

try:
    import spconv.pytorch as spconv
    _SparseModule = spconv.SparseModule
except ImportError:  # pragma: no cover - spconv is required for this model
    spconv = None
    _SparseModule = nn.Module

Kernel = Union[int, Sequence[int]]


def _kernel(space: int, time: int) -> Tuple[int, int, int, int]:
    return (space, space, space, time)


def _bn_relu(channels: int, eps: float, momentum: float) -> List[nn.Module]:
    return [nn.BatchNorm1d(channels, eps=eps, momentum=momentum),
            nn.ReLU(inplace=True)]


class SparseResBlock4D(_SparseModule):
    """Residual block of two submanifold 4-D convolutions.

    ``out = ReLU(BN(SubM(ReLU(BN(SubM(x))))) + proj(x))`` where ``proj`` is
    the identity, or a per-voxel linear map + BN when the width changes. A
    ``spconv.SparseModule``, so ``SparseSequential`` hands it the sparse
    tensor rather than its features.

    Args:
        in_channels (int): Input width.
        out_channels (int): Output width.
        kernel (Tuple[int, int, int, int]): Kernel (kx, ky, kz, kt), odd.
        indice_key (str): spconv key shared by layers at one resolution
            and with one kernel shape (the neighbour pairs are reused).
        bn_eps (float), bn_momentum (float): BatchNorm settings.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel: Tuple[int, int, int, int], indice_key: str,
                 bn_eps: float = 1e-3, bn_momentum: float = 0.01) -> None:
        super().__init__()
        pad = tuple(k // 2 for k in kernel)
        self.conv1 = spconv.SubMConv4d(
            in_channels, out_channels, kernel, padding=pad, bias=False,
            indice_key=indice_key)
        self.act1 = nn.Sequential(*_bn_relu(out_channels, bn_eps, bn_momentum))
        self.conv2 = spconv.SubMConv4d(
            out_channels, out_channels, kernel, padding=pad, bias=False,
            indice_key=indice_key)
        self.bn2 = nn.BatchNorm1d(out_channels, eps=bn_eps,
                                  momentum=bn_momentum)
        if in_channels != out_channels:
            # a 1x1x1x1 convolution is a per-voxel linear map
            self.proj = nn.Sequential(
                nn.Linear(in_channels, out_channels, bias=False),
                nn.BatchNorm1d(out_channels, eps=bn_eps,
                               momentum=bn_momentum))
        else:
            self.proj = None

    def forward(self, x: 'spconv.SparseConvTensor'
                ) -> 'spconv.SparseConvTensor':
        """(V, C_in) sparse tensor -> (V, C_out) on the same sites."""
        identity = x.features if self.proj is None else self.proj(x.features)
        out = self.conv1(x)
        out = out.replace_feature(self.act1(out.features))
        out = self.conv2(out)
        out = out.replace_feature(
            torch.relu(self.bn2(out.features) + identity))
        return out


@MODELS.register_module()
class SparseUNet4D(BaseModule):
    """Sparse residual U-Net over space-time voxels.

    Stem (SubM + BN + ReLU) -> ``len(channels) - 1`` encoder stages
    (strided SparseConv4d, then residual blocks) -> mirrored decoder
    (SparseInverseConv4d back onto the encoder's sites, concatenation with
    the skip, residual blocks) -> features on the input voxels, in input
    order::

        feats (V, C_in) -> stem -> enc_1 ... enc_S -> dec_S ... dec_1
        -> (V, decoder_channels[-1])

    Space is down-sampled by 2 at every stage; time by
    ``temporal_strides[i]`` (1 keeps the age resolution). Submanifold
    convolutions have kernel ``space_kernel`` (odd) in x, y, z and
    ``time_kernel`` (odd) in age; 3 x 3 x 3 x 1 costs 27 taps against 81 for
    a full 3^4 kernel. The defaults (about 20 M parameters) keep the finest
    level per scan (time kernel 1) and mix time on the two middle levels,
    where one age cell holds 2 (4) scans and a time kernel of 3 spans 6
    (all 8); the deepest level has a single age cell (8 scans / 2^3), where
    a time kernel > 1 would only add unused weights. The decoder carries
    the temporal context back to the current scan's voxels.

    On CPU tensors every spconv layer runs ``ConvAlgo.Native``
    (:func:`~kdmos_plugin.utils.spconv_algo.auto_spconv_algo`).

    Args:
        in_channels (int): Voxel feature width.
        channels (Sequence[int]): Width of the stem and of every encoder
            stage, e.g. ``(32, 64, 128, 256)`` = stem + 3 stages.
        decoder_channels (Sequence[int], optional): Width after each
            decoder stage, deepest first; defaults to the encoder widths
            mirrored (``(128, 64, 32)`` for the default).
        num_blocks (int | Sequence[int]): Residual blocks per encoder stage
            (stem included: ``len(channels)`` entries).
        decoder_blocks (int | Sequence[int]): Residual blocks per decoder
            stage, deepest first; 0 fuses the up-sampled and skip features
            per voxel (Linear + BN + ReLU), which saves two convolutions at
            that resolution (the finest level is the most expensive).
        space_kernel (int): Spatial kernel of the SubM convolutions.
        time_kernel (int | Sequence[int]): Age kernel of the SubM
            convolutions, one per resolution level (``len(channels)``).
        temporal_strides (int | Sequence[int]): Age stride of each
            down-sampling (``len(channels) - 1`` entries, 1 or 2).
        bn_eps (float), bn_momentum (float): BatchNorm settings.
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> net = SparseUNet4D(in_channels=8, channels=(8, 16),
        ...                    num_blocks=1, time_kernel=3, temporal_strides=2)
        >>> coors = torch.tensor([[0, 1, 2, 3, 0], [0, 1, 2, 3, 1]]).int()
        >>> net(torch.randn(2, 8), coors).shape
        torch.Size([2, 8])
    """

    def __init__(self,
                 in_channels: int = 8,
                 channels: Sequence[int] = (32, 64, 128, 256),
                 decoder_channels: Optional[Sequence[int]] = None,
                 num_blocks: Union[int, Sequence[int]] = (1, 2, 2, 2),
                 decoder_blocks: Union[int, Sequence[int]] = 1,
                 space_kernel: int = 3,
                 time_kernel: Union[int, Sequence[int]] = (1, 3, 3, 1),
                 temporal_strides: Union[int, Sequence[int]] = (2, 2, 2),
                 bn_eps: float = 1e-3,
                 bn_momentum: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if spconv is None:
            raise ImportError('SparseUNet4D needs spconv 2.x '
                              '(pip install spconv-cu120 or spconv)')
        levels = len(channels)
        if levels < 1:
            raise ValueError('SparseUNet4D: channels must not be empty')
        num_blocks = _per_level(num_blocks, levels, 'num_blocks')
        time_kernel = _per_level(time_kernel, levels, 'time_kernel')
        temporal_strides = _per_level(temporal_strides, levels - 1,
                                      'temporal_strides')
        decoder_blocks = _per_level(decoder_blocks, levels - 1,
                                    'decoder_blocks')
        if space_kernel % 2 == 0 or any(k % 2 == 0 for k in time_kernel):
            raise ValueError('SparseUNet4D: submanifold kernels must be odd '
                             f'(space {space_kernel}, time {time_kernel})')
        if any(s not in (1, 2) for s in temporal_strides):
            raise ValueError('SparseUNet4D: temporal_strides must be 1 or 2, '
                             f'got {temporal_strides}')
        if decoder_channels is None:
            decoder_channels = list(channels[:-1])[::-1]
        if len(decoder_channels) != levels - 1:
            raise ValueError(
                f'SparseUNet4D: {levels - 1} decoder stages need as many '
                f'decoder_channels, got {decoder_channels}')
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.decoder_channels = tuple(decoder_channels)
        self.out_channels = (decoder_channels[-1] if levels > 1
                             else channels[0])
        self.temporal_strides = tuple(temporal_strides)
        t_stride = 1
        for s in temporal_strides:
            t_stride *= s
        self.total_stride = (2**(levels - 1), ) * 3 + (t_stride, )
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)

        k0 = _kernel(space_kernel, time_kernel[0])
        self.stem = spconv.SparseSequential(
            spconv.SubMConv4d(in_channels, channels[0], k0,
                              padding=tuple(k // 2 for k in k0), bias=False,
                              indice_key='subm0'),
            *_bn_relu(channels[0], bn_eps, bn_momentum),
            *[SparseResBlock4D(channels[0], channels[0], k0, 'subm0', **bn)
              for _ in range(num_blocks[0])])

        self.down = nn.ModuleList()
        self.encoder = nn.ModuleList()
        for i in range(1, levels):
            stride = (2, 2, 2, temporal_strides[i - 1])
            self.down.append(spconv.SparseSequential(
                spconv.SparseConv4d(channels[i - 1], channels[i], stride,
                                    stride=stride, bias=False,
                                    indice_key=f'down{i}'),
                *_bn_relu(channels[i], bn_eps, bn_momentum)))
            k = _kernel(space_kernel, time_kernel[i])
            self.encoder.append(spconv.SparseSequential(*[
                SparseResBlock4D(channels[i], channels[i], k, f'subm{i}',
                                 **bn) for _ in range(num_blocks[i])]))

        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        width = channels[-1]
        for j, i in enumerate(range(levels - 1, 0, -1)):
            out = decoder_channels[j]
            stride = (2, 2, 2, temporal_strides[i - 1])
            self.up.append(spconv.SparseSequential(
                spconv.SparseInverseConv4d(width, out, stride, bias=False,
                                           indice_key=f'down{i}'),
                *_bn_relu(out, bn_eps, bn_momentum)))
            k = _kernel(space_kernel, time_kernel[i - 1])
            if decoder_blocks[j] == 0:  # per-voxel fusion of up + skip
                blocks = [nn.Linear(out + channels[i - 1], out, bias=False),
                          *_bn_relu(out, bn_eps, bn_momentum)]
            else:
                blocks = [SparseResBlock4D(out + channels[i - 1], out, k,
                                           f'subm{i - 1}', **bn)]
                blocks += [
                    SparseResBlock4D(out, out, k, f'subm{i - 1}', **bn)
                    for _ in range(decoder_blocks[j] - 1)
                ]
            self.decoder.append(spconv.SparseSequential(*blocks))
            width = out
        auto_spconv_algo(self)

    def forward(self, voxel_features: Tensor, coors: Tensor,
                spatial_shape: Optional[Sequence[int]] = None,
                batch_size: Optional[int] = None) -> Tensor:
        """Features of every input voxel.

        Args:
            voxel_features (Tensor): (V, C_in) float.
            coors (Tensor): (V, 5) int ``(batch, i_x, i_y, i_z, i_t)``.
            spatial_shape (Sequence[int], optional): Grid extent (4 ints);
                default ``coors.max(0) + 1``.
            batch_size (int, optional): Default ``coors[:, 0].max() + 1``.

        Returns:
            Tensor: (V, out_channels) features in the order of ``coors``.
        """
        if coors.dim() != 2 or coors.shape[1] != 5:
            raise ValueError('SparseUNet4D: coors must be (V, 5) (batch, x, '
                             f'y, z, t), got {tuple(coors.shape)}')
        if len(coors) != len(voxel_features):
            raise ValueError(f'SparseUNet4D: {len(voxel_features)} features '
                             f'for {len(coors)} voxels')
        if spatial_shape is None:
            spatial_shape = (coors[:, 1:].max(0)[0] + 1).tolist()
        # every site must survive the strided convolutions: round the grid
        # up to a multiple of the total stride on every axis
        spatial_shape = [
            -(-int(s) // f) * f
            for s, f in zip(spatial_shape, self.total_stride)
        ]
        if batch_size is None:
            batch_size = int(coors[:, 0].max()) + 1
        x = spconv.SparseConvTensor(voxel_features, coors.int(),
                                    list(spatial_shape), batch_size)
        x = self.stem(x)
        skips = [x]
        for down, enc in zip(self.down, self.encoder):
            x = enc(down(x))
            skips.append(x)
        for j, (up, dec) in enumerate(zip(self.up, self.decoder)):
            skip = skips[-2 - j]
            x = up(x)
            x = dec(x.replace_feature(
                torch.cat([x.features, skip.features], dim=1)))
        return x.features


def _per_level(value, n: int, name: str) -> List[int]:
    """Broadcast an int to ``n`` levels or check a sequence has ``n``."""
    if isinstance(value, int):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f'SparseUNet4D: {name} needs {n} entries, '
                         f'got {value}')
    return value
