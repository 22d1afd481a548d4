"""The distiller's contract for mmdet3d's voxel segmentors (MinkUNet)."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdet3d.structures.det3d_data_sample import OptSampleList, SampleList
from ...utils.spconv_algo import auto_spconv_algo
from ..segmentors.base_mos_segmentor import BaseMOSSegmentor

#: Input keys of a MOS batch a voxel segmentor can take its features from.
FEATURE_KEYS = ('points', 'point_feats')


class MinkUNetAdapter:
    """Give an mmdet3d ``MinkUNet`` segmentor the MOS segmentor methods.

    mmdet3d's ``MinkUNet`` (an ``EncoderDecoder3D``) reads
    ``inputs['voxels']`` made by ``Det3DDataPreprocessor(voxel_type=
    'minkunet')``, which runs on CUDA only. The adapter makes the same
    voxels on any device from the MOS batch and exposes the methods the
    distiller calls (those of :class:`BaseMOSSegmentor`)::

        forward_feats(): per sample: cells = round(xyz / voxel_size) - min,
                         one voxel per distinct cell with the features of
                         its first point (mmdet3d's minkunet voxelisation)
                         -> model.extract_feat()  (V, K)
                         -> model.decode_head.forward()  voxel logits (V, C)
        point_logits():  each current-scan point its voxel's logits
        loss_by_feats(): gt_pts_seg.voxel_semantic_mask = the label of
                         each voxel's first point (as mmdet3d), then
                         model.decode_head.loss_by_feat()
        predict():       point logits -> pred_pts_seg of every sample

    It is a plain object, not a module: the model's parameters keep their
    own names in the distiller (``student.backbone...``), so the
    checkpoints it writes hold the mmdet3d model's keys. mmdet3d's random
    voxel subsampling at training time (``max_voxels``) is not done: every
    point keeps its voxel, as the distillation needs.

    Args:
        model (nn.Module): A built mmdet3d ``MinkUNet`` (or a segmentor
            with the same ``extract_feat``/``decode_head``).
        voxel_size (Sequence[float], optional): Cell size (m). Defaults to
            the model's ``data_preprocessor.voxel_layer.voxel_size``.
        batch_first (bool, optional): Batch index as the first coordinate
            column (spconv, MinkowskiEngine) or the last (torchsparse).
            Defaults to the model's ``data_preprocessor.batch_first``.
        features (str): Input key the voxel features come from:
            ``'points'`` (x, y, z, intensity; mmdet3d's choice) or
            ``'point_feats'`` (the student features, motion included).
    """

    def __init__(self,
                 model: nn.Module,
                 voxel_size: Optional[Sequence[float]] = None,
                 batch_first: Optional[bool] = None,
                 features: str = 'points') -> None:
        name = type(model).__name__
        if not (hasattr(model, 'extract_feat') and hasattr(
                getattr(model, 'decode_head', None), 'loss_by_feat')):
            raise TypeError(
                f'MinkUNetAdapter: {name} has no extract_feat/decode_head; '
                'only BaseMOSSegmentor and mmdet3d MinkUNet segmentors can '
                'be distilled')
        if features not in FEATURE_KEYS:
            raise ValueError(f'MinkUNetAdapter: features must be one of '
                             f'{FEATURE_KEYS}, got {features!r}')
        preprocessor = getattr(model, 'data_preprocessor', None)
        if voxel_size is None:
            layer = getattr(preprocessor, 'voxel_layer', None)
            voxel_size = getattr(layer, 'voxel_size', None)
        if voxel_size is None or len(voxel_size) != 3:
            raise ValueError(
                f'MinkUNetAdapter: {name} needs a 3-D voxel_size (from its '
                'data_preprocessor.voxel_layer or the adapter config), got '
                f'{voxel_size}')
        if batch_first is None:
            batch_first = bool(getattr(preprocessor, 'batch_first', True))
        self.model = model
        self.voxel_size = tuple(float(v) for v in voxel_size)
        self.batch_first = batch_first
        self.features = features
        self.num_classes = int(model.decode_head.num_classes)
        if hasattr(model, 'backbone'):
            auto_spconv_algo(model.backbone)

    # ---- what the distiller reads of a module ----
    @property
    def training(self) -> bool:
        return self.model.training

    def eval(self) -> 'MinkUNetAdapter':
        self.model.eval()
        return self

    # ---- the contract ----
    def voxelize(self, batch_inputs: dict) -> Dict[str, object]:
        """mmdet3d's ``minkunet`` voxels of the current scans.

        Returns:
            dict: ``voxels`` (V, F) features, ``coors`` (V, 4) int32,
            ``point2voxel`` (sum_b N_b,) int64 into the V voxels,
            ``first`` list of (V_b,) int64 first point of every voxel of
            each sample.
        """
        points: List[Tensor] = batch_inputs['points']
        if self.features not in batch_inputs:
            raise KeyError(f'MinkUNetAdapter: the batch has no inputs['
                           f'{self.features!r}] to take voxel features from')
        feats: List[Tensor] = batch_inputs[self.features]
        voxels, coors, point2voxel, firsts = [], [], [], []
        offset = 0
        for i, (pts, f) in enumerate(zip(points, feats)):
            if len(f) != len(pts):
                raise ValueError(
                    f'MinkUNetAdapter: sample {i} has {len(pts)} points but '
                    f'{len(f)} rows of inputs[{self.features!r}]')
            size = pts.new_tensor(self.voxel_size)
            cells = torch.round(pts[:, :3] / size).int()
            cells -= cells.min(0)[0]
            unique, inverse = torch.unique(cells, dim=0, return_inverse=True)
            order = torch.arange(len(pts), device=pts.device)
            first = torch.full((len(unique), ), len(pts), dtype=torch.long,
                               device=pts.device).scatter_reduce_(
                                   0, inverse, order, 'amin')
            batch = unique.new_full((len(unique), 1), i)
            coors.append(torch.cat([batch, unique], 1) if self.batch_first
                         else torch.cat([unique, batch], 1))
            voxels.append(f[first])
            point2voxel.append(inverse + offset)
            firsts.append(first)
            offset += len(unique)
        return dict(voxels=torch.cat(voxels), coors=torch.cat(coors),
                    point2voxel=torch.cat(point2voxel), first=firsts)

    def forward_feats(self, batch_inputs: dict) -> Dict[str, object]:
        """Voxelise, run the model's backbone and head once.

        Returns:
            dict: ``voxel_logits`` (V, C) and the :meth:`voxelize` keys.
        """
        vox = self.voxelize(batch_inputs)
        x = self.model.extract_feat(dict(
            points=batch_inputs['points'],
            voxels=dict(voxels=vox['voxels'], coors=vox['coors'])))
        vox['voxel_logits'] = self.model.decode_head.forward(x)
        return vox

    def point_logits(self, feats: dict, batch_inputs: dict) -> Tensor:
        """Per-point logits (sum_b N_b, C): each point its voxel's."""
        return feats['voxel_logits'][feats['point2voxel']]

    def loss_by_feats(self, feats: dict, batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The model head's own loss on voxel labels (first point's)."""
        for sample, first in zip(batch_data_samples, feats['first']):
            gt = sample.gt_pts_seg
            gt.voxel_semantic_mask = gt.pts_semantic_mask.to(
                first.device)[first]
        return self.model.decode_head.loss_by_feat(feats['voxel_logits'],
                                                   batch_data_samples)

    def _forward(self,
                 batch_inputs: dict,
                 batch_data_samples: OptSampleList = None) -> Tensor:
        """Per-point logits (sum_b N_b, C)."""
        return self.point_logits(self.forward_feats(batch_inputs),
                                 batch_inputs)

    def predict(self, batch_inputs: dict,
                batch_data_samples: SampleList) -> SampleList:
        """``pred_pts_seg`` (N,) and ``pts_seg_logits`` (C, N) per sample."""
        logits = self._forward(batch_inputs)
        per_sample = BaseMOSSegmentor.split_by_sample(logits, batch_inputs)
        return self.model.postprocess_result([lg.t() for lg in per_sample],
                                             batch_data_samples)

    gt_point_labels = staticmethod(BaseMOSSegmentor.gt_point_labels)


def as_mos_segmentor(model: nn.Module, adapter: Optional[dict] = None,
                     role: str = 'student'):
    """``model`` itself if it is a :class:`BaseMOSSegmentor`, else a
    :class:`MinkUNetAdapter` of it (``adapter`` holds its arguments)."""
    if isinstance(model, BaseMOSSegmentor):
        if adapter:
            raise ValueError(
                f'MOSDistiller: the {role} {type(model).__name__} is a '
                f'BaseMOSSegmentor; it takes no adapter ({adapter})')
        return model
    try:
        return MinkUNetAdapter(model, **dict(adapter or {}))
    except TypeError as err:
        raise TypeError(f'MOSDistiller: {role}: {err}') from err
