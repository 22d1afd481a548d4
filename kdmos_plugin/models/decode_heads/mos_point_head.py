"""The teacher's point head: a linear classifier of per-point features."""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList
from .mos_decode_head import MOSDecodeHead


@MODELS.register_module()
class MOSPointHead(MOSDecodeHead):
    """Logits of points from their (N, K) features; losses on points.

    The head of :class:`Sparse4DMOSTeacher`, as mmdet3d's ``MinkUNetHead``
    (a ``Linear`` classifier) but on the current scan's points, each with
    its voxel's feature row, so that the loss and the distillation see
    every point, not one point a voxel::

        forward(x (N, K))            -> conv_seg(dropout(x)): (N, C)
        loss_by_feat(logits, data)   -> loss_ce + loss_lovasz against
                                        gt_pts_seg.pts_semantic_mask

    Args:
        channels (int): Feature channels K.
        num_classes (int): Classes C incl. the ignored class 0.
        dropout_ratio (float): Dropout before ``conv_seg``.
        **kwargs: ``ignore_index``, ``loss_decode``, ``loss_lovasz``,
            ``init_cfg`` of :class:`MOSDecodeHead`.
    """

    def build_conv_seg(self, channels: int, num_classes: int,
                       kernel_size: int) -> nn.Module:
        """A ``Linear(channels, num_classes)``, as ``MinkUNetHead``."""
        return nn.Linear(channels, num_classes)

    def forward(self, point_feats: Tensor) -> Tensor:
        """(N, K) point features -> (N, C) logits."""
        if point_feats.dim() != 2 or point_feats.shape[1] != self.channels:
            raise ValueError(
                f'MOSPointHead: expected (N, {self.channels}) point '
                f'features, got {tuple(point_feats.shape)}')
        return self.cls_seg(point_feats)

    def loss_by_feat(self, logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """CE and Lovasz on (sum_b N_b, C) point logits.

        Returns:
            dict: ``loss_ce`` and ``loss_lovasz`` scalars.
        """
        labels = [s.gt_pts_seg.pts_semantic_mask.long()
                  for s in batch_data_samples]
        num = sum(len(label) for label in labels)
        if num != len(logits):
            names = ', '.join(str(s.metainfo.get('lidar_path', i))
                              for i, s in enumerate(batch_data_samples))
            raise ValueError(
                f'MOSPointHead: {num} labels for {len(logits)} current-scan '
                f'points ({names})')
        labels = torch.cat(labels).to(logits.device)
        return self.seg_losses(logits, labels)

    def loss(self, inputs: Tensor, batch_data_samples: SampleList,
             train_cfg: Optional[dict] = None) -> Dict[str, Tensor]:
        """``loss_by_feat(forward(inputs))`` (mmdet3d's signature)."""
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)
