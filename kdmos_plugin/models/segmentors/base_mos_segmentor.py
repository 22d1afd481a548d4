"""The contract every moving-object segmentor of this plugin follows."""
from abc import abstractmethod
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor

from mmdet3d.models.segmentors.base import Base3DSegmentor
from mmdet3d.structures import PointData
from mmdet3d.structures.det3d_data_sample import OptSampleList, SampleList


class BaseMOSSegmentor(Base3DSegmentor):
    """Base class of the student and teacher MOS segmentors.

    A concrete segmentor implements three methods; ``loss``, ``predict`` and
    ``_forward`` are built from them, and the distiller uses them directly so
    that one network forward serves both the segmentation loss and the
    distillation loss::

        loss():    forward_feats() -> loss_by_feats()
        predict(): forward_feats() -> point_logits() -> postprocess_result()
        distiller: forward_feats() -> loss_by_feats() + point_logits()

    ``batch_inputs`` is the dict made by
    :class:`~kdmos_plugin.models.MOSDataPreprocessor`; each entry is a list
    with one tensor per sample (see its docstring for the keys and shapes).
    ``point_logits`` returns the logits of the *current scan's* points of all
    samples concatenated in batch order, each sample's points in file order.

    Args:
        num_classes (int): Number of classes incl. the ignored class 0.
        ignore_index (int): Label ignored by losses and metrics.
        data_preprocessor (dict, optional): Config of the preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    # ---- the three methods a concrete segmentor implements ----
    @abstractmethod
    def forward_feats(self, batch_inputs: dict) -> Any:
        """Run the network once; returns whatever the other two need."""

    @abstractmethod
    def point_logits(self, feats: Any, batch_inputs: dict) -> Tensor:
        """Per-point logits (sum_b N_b, num_classes) of the current scans."""

    @abstractmethod
    def loss_by_feats(self, feats: Any, batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The segmentation losses from the network output."""

    # ---- mmdet3d's contract, built from the three above ----
    def extract_feat(self, batch_inputs: dict) -> Any:
        """Alias of :meth:`forward_feats` for mmdet3d's interface."""
        return self.forward_feats(batch_inputs)

    def encode_decode(self, batch_inputs: dict,
                      batch_data_samples: SampleList) -> Tensor:
        """Per-point logits (sum_b N_b, C) of a batch."""
        return self.point_logits(self.forward_feats(batch_inputs),
                                 batch_inputs)

    def loss(self, batch_inputs: dict,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Segmentation losses of a batch (dict of scalar tensors)."""
        feats = self.forward_feats(batch_inputs)
        return self.loss_by_feats(feats, batch_inputs, batch_data_samples)

    def predict(self, batch_inputs: dict,
                batch_data_samples: SampleList) -> SampleList:
        """Fill ``pred_pts_seg.pts_semantic_mask`` (N,) int64 and
        ``pts_seg_logits.pts_seg_logits`` (C, N) of every sample."""
        logits = self.encode_decode(batch_inputs, batch_data_samples)
        per_sample = self.split_by_sample(logits, batch_inputs)
        return self.postprocess_result([l.t() for l in per_sample],
                                       batch_data_samples)

    def _forward(self,
                 batch_inputs: dict,
                 batch_data_samples: OptSampleList = None) -> Tensor:
        """Per-point logits (sum_b N_b, C); the traceable forward."""
        return self.encode_decode(batch_inputs, batch_data_samples)

    @staticmethod
    def split_by_sample(values: Tensor, batch_inputs: dict) -> List[Tensor]:
        """Split a (sum_b N_b, ...) tensor into one tensor per sample."""
        sizes = [len(p) for p in batch_inputs['points']]
        return list(torch.split(values, sizes, dim=0))

    @staticmethod
    def gt_point_labels(batch_data_samples: SampleList) -> Tensor:
        """Concatenated per-point labels (sum_b N_b,) int64 of a batch."""
        return torch.cat([
            ds.gt_pts_seg.pts_semantic_mask.long()
            for ds in batch_data_samples
        ])

    def postprocess_result(self, seg_logits_list: List[Tensor],
                           batch_data_samples: SampleList) -> SampleList:
        """Write predictions; ``seg_logits_list`` holds (C, N) tensors."""
        for logits, data_sample in zip(seg_logits_list, batch_data_samples):
            data_sample.set_data({
                'pts_seg_logits': PointData(pts_seg_logits=logits),
                'pred_pts_seg': PointData(pts_semantic_mask=logits.argmax(0)),
            })
        return batch_data_samples
