"""The sparse space-time voxel teacher of KDMOS."""
from typing import Dict, List, Optional

import torch
from torch import Tensor

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList

from ...utils.spconv_algo import auto_spconv_algo
from .base_mos_segmentor import BaseMOSSegmentor


@MODELS.register_module()
class Sparse4DMOSTeacher(BaseMOSSegmentor):
    """Sparse voxel segmentor over the merged multi-scan cloud.

    Voxel encoder + sparse backbone + point head, as mmdet3d's
    ``EncoderDecoder3D``. The merged cloud ``inputs['multi_points']``
    (M, 5: x, y, z [m], intensity, age in scans; the current scan's N points
    first) is voxelised in space-time, the backbone turns the voxel features
    into voxel embeddings, and the head classifies every current-scan point
    from its voxel's embedding::

        forward_feats(): voxel_encoder(multi_points)   features (V, F),
                                                       coors (V, 1 + D)
                         -> backbone(features, coors)  (V, K)
                         -> gather at the current points (sum_b N_b, K)
                         -> decode_head()              (sum_b N_b, C)
        point_logits():  those logits
        loss_by_feats(): decode_head.loss_by_feat(): CE + Lovasz on the
                         current points, label ignore_index left out

    Any registered backbone called as ``backbone(voxel_features (V, F),
    coors (V, 1 + D) int32 (batch, cell...))`` and returning ``(V, K)`` in
    the order of ``coors`` plugs in: :class:`SparseUNet4D` with 4-D cells
    (x, y, z, age), or mmdet3d's ``MinkUNetBackbone`` (spconv backend) with
    3-D cells (the age is then a voxel feature). Every spconv layer of the
    backbone follows the input's device (``ConvAlgo.Native`` on CPU).

    Args:
        backbone (dict): Backbone config.
        voxel_encoder (dict): :class:`SpacetimeVoxelizer` config; its
            ``num_features`` must equal the backbone's ``in_channels``.
        decode_head (dict, optional): Head config (:class:`MOSPointHead`
            when ``type`` is not given); ``num_classes`` and
            ``ignore_index`` are set from this model, ``channels``
            defaults to ``backbone.out_channels``.
        num_classes (int): Classes incl. the ignored class 0.
        ignore_index (int): Label ignored by the losses.
        train_cfg, test_cfg (dict, optional): Unused; mmdet3d's names.
        data_preprocessor (dict, optional): Usually ``MOSDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 voxel_encoder: dict = dict(type='SpacetimeVoxelizer'),
                 decode_head: Optional[dict] = None,
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_classes=num_classes,
            ignore_index=ignore_index,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.voxel_encoder = MODELS.build(voxel_encoder)
        in_channels = backbone.get('in_channels')
        if in_channels is not None and \
                in_channels != self.voxel_encoder.num_features:
            raise ValueError(
                f'Sparse4DMOSTeacher: the voxel encoder makes '
                f'{self.voxel_encoder.num_features} features per voxel but '
                f'the backbone {backbone.get("type")} expects in_channels='
                f'{in_channels}')
        self.backbone = auto_spconv_algo(MODELS.build(backbone))
        head = dict(decode_head or {})
        head.setdefault('type', 'MOSPointHead')
        for key, value in (('num_classes', num_classes),
                           ('ignore_index', ignore_index)):
            if head.get(key, value) != value:
                raise ValueError(
                    f'Sparse4DMOSTeacher: decode_head.{key}={head[key]} '
                    f'contradicts the model ({value}); set it once')
            head[key] = value
        if not head.get('channels'):
            head['channels'] = getattr(self.backbone, 'out_channels', None)
        if head['channels'] is None:
            raise ValueError('Sparse4DMOSTeacher: set decode_head.channels '
                             '(the backbone output width)')
        self.decode_head = MODELS.build(head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def forward_feats(self, batch_inputs: dict) -> Dict[str, Tensor]:
        """Voxelise, run the backbone, classify the current points.

        Args:
            batch_inputs (dict): ``points`` [(N_b, 4)] and ``multi_points``
                [(M_b, 5)] per sample.

        Returns:
            dict: ``point_logits`` (sum_b N_b, C) and ``current2voxel``
            (sum_b N_b,) int64, the voxel of each current point.
        """
        multi = batch_inputs.get('multi_points')
        if multi is None:
            raise KeyError(
                'Sparse4DMOSTeacher needs inputs["multi_points"] (M, 5): '
                'load the past scans in the pipeline and pack them')
        points: List[Tensor] = batch_inputs['points']
        num_current = [len(p) for p in points]
        for b, (cur, mp) in enumerate(zip(points, multi)):
            n = len(cur)
            if len(mp) < n or not torch.allclose(
                    mp[:n, :4], cur[:, :4].to(mp.dtype), atol=1e-3):
                raise ValueError(
                    f'Sparse4DMOSTeacher: sample {b}: multi_points does not '
                    f'start with the {n} current-scan points (contract: '
                    'multi_points[:N, :4] == points)')
        vox = self.voxel_encoder(multi, num_current)
        voxel_feats = self.backbone(vox.features, vox.coors)
        logits = self.decode_head(voxel_feats[vox.current2voxel])
        return dict(point_logits=logits, current2voxel=vox.current2voxel)

    def point_logits(self, feats: Dict[str, Tensor],
                     batch_inputs: dict) -> Tensor:
        """Per-point logits (sum_b N_b, C) of the current scans."""
        return feats['point_logits']

    def loss_by_feats(self, feats: Dict[str, Tensor], batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """CE and Lovasz-softmax on the current points (label 0 ignored).

        Returns:
            dict: ``loss_ce`` and ``loss_lovasz`` scalars.
        """
        return self.decode_head.loss_by_feat(feats['point_logits'],
                                             batch_data_samples)
