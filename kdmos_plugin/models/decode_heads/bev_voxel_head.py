"""The student's BEV voxel head: a 1x1 classifier read at the cells used."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList
from ..layers.pillar_scatter import pillar_keys, unique_pillars
from .mos_decode_head import MOSDecodeHead


def head_logits_at_cells(bev_feats: Tensor, head: nn.Conv2d,
                         batch_idx: Tensor, cells: Tensor,
                         num_classes: int) -> Tensor:
    """Class logits of voxel cells, computing the 1x1 head only where read.

    Equivalent to ``voxel[b, :, i_rho, i_phi, i_z]`` on the published
    ``(B, C, R, P, Z)`` voxel tensor, i.e. to reading channels
    ``z * C .. z * C + C - 1`` of ``head(bev_feats)`` (B, C * Z, R, P) at
    ``(b, i_rho, i_phi)``, without building either dense tensor: the
    feature vectors of the V distinct pillars are gathered, the head is one
    (V, K) x (K, C * Z) matrix product, and every cell reads its C logits.

    Args:
        bev_feats (Tensor): (B, K, R, P) decoder features (after dropout).
        head (nn.Conv2d): 1x1 convolution K -> C * Z.
        batch_idx (Tensor): (M,) int64 sample of every cell.
        cells (Tensor): (M, 3) int64 (i_rho, i_phi, i_z).
        num_classes (int): C.

    Returns:
        Tensor: (M, C) logits.
    """
    b, k, r, p = bev_feats.shape
    out_ch = head.out_channels
    if out_ch % num_classes:
        raise ValueError(f'head_logits_at_cells: {out_ch} head channels are '
                         f'not a multiple of num_classes={num_classes}')
    keys = pillar_keys(cells, batch_idx, (r, p))
    pillars, inverse = unique_pillars(keys, b * r * p)
    plane = r * p
    feats = bev_feats.reshape(b, k, plane)[pillars // plane, :,
                                           pillars % plane]  # (V, K)
    weight = head.weight.reshape(out_ch, k)
    bias = head.bias if head.bias is not None else weight.new_zeros(out_ch)
    logits = torch.addmm(bias, feats, weight.t())  # (V, C * Z)
    base = inverse * out_ch + cells[:, 2] * num_classes
    index = base.unsqueeze(1) + torch.arange(num_classes,
                                             device=base.device)
    return logits.reshape(-1)[index]


def check_cells(cells: Tensor, grid_size: Sequence[int], what: str,
                owner: str) -> None:
    """Raise if any (i_rho, i_phi, i_z) row of ``cells`` lies outside
    ``grid_size`` (R, P, Z); the message names ``what`` and ``owner``."""
    if cells.numel() == 0:
        return
    lo = cells.min(dim=0).values
    hi = cells.max(dim=0).values
    size = torch.tensor(tuple(grid_size), device=cells.device)
    if bool((lo < 0).any()) or bool((hi >= size).any()):
        raise ValueError(
            f'{owner}: {what} spans {lo.tolist()}..{hi.tolist()}, outside '
            f'the model grid {tuple(grid_size)}; the dataset and model '
            f'grid_size must agree')


@MODELS.register_module()
class BEVVoxelHead(MOSDecodeHead):
    """Voxel logits of a polar BEV feature map, read only where needed.

    The head of :class:`KDMOSStudent` (docs/METHOD.md section 2.2: dropout,
    then a 1x1 convolution to ``num_classes * grid_z`` channels; channel
    ``z * num_classes + c`` is the logit of class ``c`` in height cell
    ``z``)::

        forward(bev (B, K, R, P))      -> dropout(bev), dense, (B, K, R, P)
        predict_by_feat(x, cells, b)   -> conv_seg at the pillars of the
                                          (M, 3) cells only -> (M, C)
        loss_by_feat(x, data_samples)  -> the same read at the labelled
                                          occupied voxels of gt_voxel_seg
                                          -> loss_ce + loss_lovasz

    Neither the dense ``(B, C * Z, R, P)`` output of ``conv_seg`` nor the
    published ``(B, C, R, P, Z)`` voxel tensor is built. The loss is taken
    on the occupied voxels only: empty and unlabelled voxels carry label
    ``ignore_index`` in the published dense loss, so CE (mean over
    non-ignored voxels) and Lovasz (over non-ignored voxels) are the same.

    Args:
        channels (int): Feature channels K of the backbone output.
        grid_z (int): Height cells Z.
        num_classes (int): Classes C incl. the ignored class 0.
        dropout_ratio (float): Dropout before ``conv_seg`` (published 0.5).
        **kwargs: ``ignore_index``, ``loss_decode``, ``loss_lovasz``,
            ``init_cfg`` of :class:`MOSDecodeHead`.
    """

    def __init__(self,
                 channels: int,
                 grid_z: int = 32,
                 num_classes: int = 4,
                 dropout_ratio: float = 0.5,
                 **kwargs) -> None:
        self.grid_z = int(grid_z)
        super().__init__(
            channels=channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            **kwargs)

    def build_conv_seg(self, channels: int, num_classes: int,
                       kernel_size: int) -> nn.Module:
        """The 1x1 convolution K -> num_classes * grid_z."""
        return nn.Conv2d(channels, num_classes * self.grid_z, kernel_size)

    def forward(self, bev_feats: Tensor) -> Tensor:
        """Dropout on the (B, K, R, P) backbone features (same shape)."""
        if bev_feats.dim() != 4 or bev_feats.shape[1] != self.channels:
            raise ValueError(
                f'BEVVoxelHead: expected (B, {self.channels}, R, P) backbone '
                f'features, got {tuple(bev_feats.shape)}')
        return bev_feats if self.dropout is None else self.dropout(bev_feats)

    def predict_by_feat(self, feats: Tensor, cells: Tensor,
                        batch_idx: Tensor) -> Tensor:
        """Logits (M, C) of cells (M, 3) int64 of samples ``batch_idx``
        (M,), from the output (B, K, R, P) of :meth:`forward`."""
        return head_logits_at_cells(feats, self.conv_seg, batch_idx, cells,
                                    self.num_classes)

    def voxel_targets(self, batch_data_samples: SampleList,
                      device: torch.device) -> List[Tensor]:
        """Occupied voxels of a batch from ``gt_voxel_seg``.

        Returns:
            list[Tensor]: batch index (V,), cells (V, 3) and labels (V,),
            all int64 on ``device``.
        """
        batch_idx, cells, labels = [], [], []
        for i, sample in enumerate(batch_data_samples):
            name = sample.metainfo.get('lidar_path', i)
            if 'gt_voxel_seg' not in sample:
                raise ValueError(
                    f'BEVVoxelHead: sample {name} has no gt_voxel_seg; the '
                    'training pipeline must produce it (PolarVoxelize)')
            vox = sample.gt_voxel_seg
            coors = vox.coors.to(device).long()
            mask = vox.semantic_mask.to(device).long()
            if coors.shape != (len(mask), 3):
                raise ValueError(
                    f'BEVVoxelHead: gt_voxel_seg of sample {name} has coors '
                    f'{tuple(coors.shape)} and {len(mask)} labels')
            batch_idx.append(torch.full_like(mask, i))
            cells.append(coors)
            labels.append(mask)
        return [torch.cat(batch_idx), torch.cat(cells), torch.cat(labels)]

    def loss_by_feat(self, feats: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """CE and Lovasz-softmax on the labelled occupied voxels.

        Args:
            feats (Tensor): (B, K, R, P) output of :meth:`forward`.
            batch_data_samples (list[Det3DDataSample]): With
                ``gt_voxel_seg.coors`` (V_b, 3) and ``.semantic_mask``.

        Returns:
            dict: ``loss_ce`` and ``loss_lovasz`` scalars.
        """
        batch_idx, cells, labels = self.voxel_targets(batch_data_samples,
                                                      feats.device)
        check_cells(cells, (*feats.shape[-2:], self.grid_z),
                    'gt_voxel_seg.coors', 'BEVVoxelHead')
        valid = labels != self.ignore_index
        logits = self.predict_by_feat(feats, cells[valid], batch_idx[valid])
        return self.seg_losses(logits, labels[valid])

    def loss(self, inputs: Tensor, batch_data_samples: SampleList,
             train_cfg: Optional[dict] = None) -> Dict[str, Tensor]:
        """``loss_by_feat(forward(inputs))`` (mmdet3d's signature)."""
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def predict(self, inputs: Tensor, cells: Tensor,
                batch_idx: Tensor) -> Tensor:
        """``predict_by_feat(forward(inputs), cells, batch_idx)``: (M, C)."""
        return self.predict_by_feat(self.forward(inputs), cells, batch_idx)
