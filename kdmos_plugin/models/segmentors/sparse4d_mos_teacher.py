"""The sparse space-time voxel teacher of KDMOS."""
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList

from ...utils.spconv_algo import auto_spconv_algo
from .base_mos_segmentor import BaseMOSSegmentor

_HEAD_KEYS = ('channels', 'dropout_ratio')


@MODELS.register_module()
class Sparse4DMOSTeacher(BaseMOSSegmentor):
    """Sparse voxel segmentor over the merged multi-scan cloud.

    The merged cloud ``inputs['multi_points']`` (M, 5: x, y, z [m],
    intensity, age in scans; the current scan's N points first) is voxelised
    in space-time, a sparse backbone turns the voxel features into voxel
    embeddings, and a linear classifier gives the logits of every
    current-scan point from its voxel::

        forward_feats(): voxelizer() -> backbone(feats, coors)
                         -> gather at current points -> dropout -> cls_seg
        point_logits():  the gathered (sum_b N_b, C) logits
        loss_by_feats(): CE + Lovasz on the current points, label 0 ignored

    Any registered backbone called as ``backbone(voxel_features (V, F),
    coors (V, 1 + D) int32 (batch, cell...))`` and returning ``(V, C)`` in
    the order of ``coors`` plugs in: :class:`SparseUNet4D` with 4-D cells
    (x, y, z, age), or mmdet3d's ``MinkUNetBackbone`` (spconv backend) with
    3-D cells (the age is then a voxel feature). Every spconv layer of the
    backbone follows the input's device (``ConvAlgo.Native`` on CPU).

    Args:
        backbone (dict): Backbone config.
        voxelizer (dict): :class:`SpacetimeVoxelizer` config; its
            ``num_features`` must equal the backbone's ``in_channels``.
        decode_head (dict, optional): Classifier settings, in mmdet3d's
            names so mmdet3d model configs can be inherited: ``channels``
            (backbone output width; default ``backbone.out_channels``) and
            ``dropout_ratio`` (default 0).
        num_classes (int): Classes incl. the ignored class 0.
        ignore_index (int): Label ignored by the losses.
        loss_ce (dict): Cross-entropy loss config.
        loss_lovasz (dict, optional): Lovasz-softmax loss config on the
            logits; its ``ignore_index`` defaults to ours.
        train_cfg, test_cfg (dict, optional): Unused; mmdet3d's names.
        data_preprocessor (dict, optional): Usually ``MOSDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 voxelizer: dict = dict(type='SpacetimeVoxelizer'),
                 decode_head: Optional[dict] = None,
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 loss_ce: dict = dict(
                     type='mmdet.CrossEntropyLoss',
                     use_sigmoid=False,
                     avg_non_ignore=True,
                     loss_weight=1.0),
                 loss_lovasz: Optional[dict] = dict(
                     type='LovaszSoftmaxLoss', loss_weight=1.0),
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_classes=num_classes,
            ignore_index=ignore_index,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.voxelizer = MODELS.build(voxelizer)
        in_channels = backbone.get('in_channels')
        if in_channels is not None and \
                in_channels != self.voxelizer.num_features:
            raise ValueError(
                f'Sparse4DMOSTeacher: the voxelizer makes '
                f'{self.voxelizer.num_features} features per voxel but the '
                f'backbone {backbone.get("type")} expects in_channels='
                f'{in_channels}')
        self.backbone = auto_spconv_algo(MODELS.build(backbone))
        head = dict(decode_head or {})
        unknown = set(head) - set(_HEAD_KEYS)
        if unknown:
            raise ValueError(
                f'Sparse4DMOSTeacher: decode_head accepts only {_HEAD_KEYS}, '
                f'got {sorted(unknown)}')
        channels = head.get('channels') or getattr(self.backbone,
                                                   'out_channels', None)
        if channels is None:
            raise ValueError('Sparse4DMOSTeacher: set decode_head.channels '
                             '(the backbone output width)')
        self.dropout = nn.Dropout(head.get('dropout_ratio', 0.0))
        self.cls_seg = nn.Linear(channels, num_classes)
        self.loss_ce = MODELS.build(loss_ce)
        self.loss_lovasz = None
        if loss_lovasz is not None:
            loss_lovasz = dict(loss_lovasz)
            loss_lovasz.setdefault('ignore_index', ignore_index)
            self.loss_lovasz = MODELS.build(loss_lovasz)
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
        vox = self.voxelizer(multi, num_current)
        voxel_feats = self.backbone(vox.features, vox.coors)
        logits = self.cls_seg(self.dropout(voxel_feats[vox.current2voxel]))
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
        logits = feats['point_logits']
        labels = self.gt_point_labels(batch_data_samples).to(logits.device)
        if len(labels) != len(logits):
            raise ValueError(
                f'Sparse4DMOSTeacher: {len(labels)} labels for '
                f'{len(logits)} current-scan points')
        losses = dict(
            loss_ce=self.loss_ce(
                logits, labels, ignore_index=self.ignore_index))
        if self.loss_lovasz is not None:
            losses['loss_lovasz'] = self.loss_lovasz(logits, labels)
        return losses
