"""Point MLP + per-pillar max pooling into appearance and motion BEV maps."""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet3d.registry import MODELS
from ..layers.pillar_scatter import (REDUCE_BACKENDS, pillar_keys,
                                     pillar_max, scatter_to_bev,
                                     unique_pillars)


@MODELS.register_module()
class BEVPointEncoder(nn.Module):
    """Encode points and pool them into polar BEV maps (docs/METHOD.md 2.1).

    ::

        f = mlp(point_feats[:, :9])            # BN1d, 9->32->64->128->256
        A = compression(pillar_max(f))         # Linear 256->32 + ReLU
        M = pillar_max(point_feats[:, 9:])     # raw motion channels

    A pillar is one (sample, i_rho, i_phi) cell, all heights together. Empty
    cells are zero in both maps.

    ``mlp`` is ``Sequential(BN1d(in), [Linear, BN1d, ReLU] x 3, Linear)``
    (no activation after the last Linear); ``compression`` is
    ``Sequential(Linear, ReLU)``.

    Args:
        in_channels (int): Appearance feature channels (9:
            d_rho, d_phi, d_z, rho, phi, z, x, y, intensity).
        feat_channels (Sequence[int]): MLP widths; the last one is pooled.
        out_channels (int): Channels of the appearance BEV map.
        motion_channels (int): Motion channels following the appearance
            ones in ``point_feats`` (8 for the reference residuals).
        bev_shape (tuple[int, int]): (R, P) rho and phi cells.
        reduce_backend (str): See :func:`pillar_max`.
        eval_chunk_size (int): Points per chunk of the eval-mode MLP.
    """

    def __init__(self,
                 in_channels: int = 9,
                 feat_channels: Sequence[int] = (32, 64, 128, 256),
                 out_channels: int = 32,
                 motion_channels: int = 8,
                 bev_shape: Tuple[int, int] = (480, 360),
                 reduce_backend: str = 'torch',
                 eval_chunk_size: int = 16384) -> None:
        super().__init__()
        if reduce_backend not in REDUCE_BACKENDS:
            raise ValueError(f'BEVPointEncoder: unknown reduce_backend '
                             f'{reduce_backend!r}; choose one of '
                             f'{REDUCE_BACKENDS}')
        self.in_channels = in_channels
        self.motion_channels = motion_channels
        self.out_channels = out_channels
        self.bev_shape = tuple(bev_shape)
        self.reduce_backend = reduce_backend
        self.eval_chunk_size = int(eval_chunk_size)
        layers = [nn.BatchNorm1d(in_channels)]
        prev = in_channels
        for width in feat_channels[:-1]:
            layers += [nn.Linear(prev, width), nn.BatchNorm1d(width),
                       nn.ReLU(inplace=True)]
            prev = width
        layers.append(nn.Linear(prev, feat_channels[-1]))
        self.mlp = nn.Sequential(*layers)
        self.compression = nn.Sequential(
            nn.Linear(feat_channels[-1], out_channels), nn.ReLU(inplace=True))

    def point_mlp(self, x: Tensor) -> Tensor:
        """Per-point MLP (N, in) -> (N, feat_channels[-1]).

        In eval mode the BatchNorm layers are folded into the Linear layers
        (one matrix product + in-place ReLU per layer, no separate
        normalisation passes); in training mode ``self.mlp`` runs as is.
        """
        if self.training:
            return self.mlp(x)
        layers = fold_linear_bn(self.mlp)
        for weight, bias in layers[:-1]:
            x = torch.addmm(bias, x, weight.t()).relu_()
        weight, bias = layers[-1]
        return torch.addmm(bias, x, weight.t())

    def pooled_point_features(self, x: Tensor, inverse: Tensor,
                              num_pillars: int) -> Tensor:
        """Per-pillar max of the point MLP output, (V, feat_channels[-1]).

        Training: the MLP on all points, then :func:`pillar_max`. Eval:
        BatchNorm folded, points processed in chunks of ``eval_chunk_size``
        (running maxima, so only one chunk of MLP activations is alive),
        and the bias of the last Linear added after pooling (a per-channel
        constant commutes with the max), which saves a pass over the
        (N, 256) point features.

        Args:
            x (Tensor): (N, in) appearance features.
            inverse (Tensor): (N,) int64 pillar of every point.
            num_pillars (int): V, every pillar holds at least one point.
        """
        if self.training:
            return pillar_max(self.mlp(x), inverse, num_pillars,
                              self.reduce_backend)
        layers = fold_linear_bn(self.mlp)
        last_w, last_b = layers[-1]
        out = x.new_full((num_pillars, last_w.shape[0]), float('-inf'))
        for start in range(0, x.shape[0], self.eval_chunk_size):
            h = x[start:start + self.eval_chunk_size]
            for weight, bias in layers[:-1]:
                h = torch.addmm(bias, h, weight.t()).relu_()
            pillar_max(torch.mm(h, last_w.t()),
                       inverse[start:start + self.eval_chunk_size],
                       num_pillars, self.reduce_backend, out=out)
        return out.add_(last_b)

    def forward(self, point_feats: Tensor, grid_ind: Tensor,
                batch_idx: Tensor, batch_size: int) -> Tuple[Tensor, Tensor]:
        """Pool the points of a batch into BEV maps.

        Args:
            point_feats (Tensor): (N, in + motion) float32 point features.
            grid_ind (Tensor): (N, 3) int64 (i_rho, i_phi, i_z) cells.
            batch_idx (Tensor): (N,) int64 sample of every point.
            batch_size (int): B.

        Returns:
            tuple[Tensor, Tensor]: appearance (B, out, R, P) and motion
            (B, motion, R, P) BEV maps.
        """
        expected = self.in_channels + self.motion_channels
        if point_feats.dim() != 2 or point_feats.shape[1] != expected:
            raise ValueError(
                f'BEVPointEncoder: point_feats must be (N, {expected}) = '
                f'{self.in_channels} appearance + {self.motion_channels} '
                f'motion channels, got {tuple(point_feats.shape)}')
        keys = pillar_keys(grid_ind, batch_idx, self.bev_shape)
        pillars, inverse = unique_pillars(
            keys, batch_size * self.bev_shape[0] * self.bev_shape[1])
        num = pillars.numel()
        pooled = self.pooled_point_features(
            point_feats[:, :self.in_channels], inverse, num)
        appearance = scatter_to_bev(
            self.compression(pooled), pillars, batch_size, self.bev_shape)
        motion_in = point_feats[:, self.in_channels:]
        if self.motion_channels:
            motion = scatter_to_bev(
                pillar_max(motion_in, inverse, num, self.reduce_backend),
                pillars, batch_size, self.bev_shape)
        else:
            motion = point_feats.new_zeros(batch_size, 0, *self.bev_shape)
        return appearance, motion


def fold_linear_bn(mlp: nn.Sequential) -> List[Tuple[Tensor, Tensor]]:
    """Fold eval-mode BatchNorm layers into the Linear layers of an MLP.

    ``mlp`` is ``[BN1d], Linear, [BN1d], [ReLU], Linear, ...``: a BN before a
    Linear folds into its input side, a BN after it into its output side;
    ReLUs separate the layers.

    Args:
        mlp (nn.Sequential): The MLP (BatchNorm layers use running stats).

    Returns:
        list[tuple[Tensor, Tensor]]: (weight (out, in), bias (out,)) per
        Linear; ReLU follows every layer but the last.
    """
    layers: List[List[Tensor]] = []
    in_scale = in_shift = None
    for module in mlp:
        if isinstance(module, _BatchNorm):  # BatchNorm1d or a synced one
            scale = module.weight / torch.sqrt(module.running_var +
                                               module.eps)
            shift = module.bias - module.running_mean * scale
            if layers:
                w, b = layers[-1]
                layers[-1] = [w * scale[:, None], b * scale + shift]
            else:
                in_scale, in_shift = scale, shift
        elif isinstance(module, nn.Linear):
            w = module.weight
            b = module.bias if module.bias is not None else w.new_zeros(
                w.shape[0])
            if in_scale is not None:
                b = b + w @ in_shift
                w = w * in_scale[None, :]
                in_scale = in_shift = None
            layers.append([w, b])
        elif not isinstance(module, nn.ReLU):
            raise TypeError(f'fold_linear_bn: unsupported layer {module}')
    return [(w, b) for w, b in layers]
