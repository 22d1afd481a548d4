"""KDMOS polar-BEV student segmentor (MotionBEV network with DySample)."""
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList
from ..decode_heads.bev_voxel_head import check_cells
from .base_mos_segmentor import BaseMOSSegmentor


@MODELS.register_module()
class KDMOSStudent(BaseMOSSegmentor):
    """Polar BEV student of KDMOS (docs/METHOD.md sections 2 and 4).

    Voxel encoder + BEV backbone + decode head, as mmdet3d's
    ``EncoderDecoder3D``::

        point_feats (N, 9 + R), grid_ind (N, 3)
          -> voxel_encoder()            appearance (B, Ca, R, P),
                                        motion (B, Cm, R, P)
          -> backbone(appearance, motion)   decoder features (B, K, R, P)
          -> decode_head()              head dropout, (B, K, R, P)
        forward_feats() ends here; then
        point_logits():  decode_head.predict_by_feat() at each point's cell
                         -> (sum_b N_b, C)
        loss_by_feats(): decode_head.loss_by_feat() at the labelled occupied
                         voxels of gt_voxel_seg -> loss_ce + loss_lovasz

    Any registered backbone called as ``backbone(appearance, motion)`` that
    returns (B, K, R, P) features on the input grid plugs in (its
    ``out_channels`` attribute gives K to the head); see
    :class:`CABEVUNet` and :class:`PlainBEVUNet`.

    Args:
        voxel_encoder (dict): Config of the point encoder
            (:class:`BEVPointEncoder`); ``bev_shape`` is set from
            ``grid_size``.
        backbone (dict): Config of the BEV network.
        decode_head (dict): Config of the head (:class:`BEVVoxelHead`);
            ``num_classes``, ``ignore_index`` and ``grid_z`` are set from
            this model, ``channels`` from ``backbone.out_channels``.
        grid_size (Sequence[int]): (R, P, Z) polar cells.
        num_classes (int): Classes incl. the ignored class 0.
        ignore_index (int): Label ignored by the losses.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 voxel_encoder: dict,
                 backbone: dict,
                 decode_head: dict = dict(type='BEVVoxelHead'),
                 grid_size: Sequence[int] = (480, 360, 32),
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_classes=num_classes,
            ignore_index=ignore_index,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.grid_size = tuple(int(g) for g in grid_size)
        if len(self.grid_size) != 3:
            raise ValueError(f'KDMOSStudent: grid_size must be (R, P, Z), '
                             f'got {grid_size}')
        voxel_encoder = _set_consistent(
            voxel_encoder, 'voxel_encoder',
            bev_shape=tuple(self.grid_size[:2]))
        self.voxel_encoder = MODELS.build(voxel_encoder)
        self.backbone = MODELS.build(backbone)
        width = getattr(self.backbone, 'out_channels', None)
        head = dict(decode_head)
        if width is None and head.get('channels') is None:
            raise ValueError(
                f'KDMOSStudent: backbone {backbone.get("type")} has no '
                'out_channels attribute; set decode_head.channels')
        head = _set_consistent(
            head, 'decode_head', num_classes=num_classes,
            ignore_index=ignore_index, grid_z=self.grid_size[2],
            **({} if width is None else dict(channels=int(width))))
        self.decode_head = MODELS.build(head)

    # ------------------------------------------------------------------
    def forward_feats(self, batch_inputs: dict) -> Dict[str, Tensor]:
        """Run the network once, up to the head's classifier.

        Args:
            batch_inputs (dict): ``point_feats`` list of (N_b, 9 + R) and
                ``grid_ind`` list of (N_b, 3) int64 per sample.

        Returns:
            dict: ``bev_feats`` (B, K, R, P) decoder features after the
            head dropout, ``grid_ind`` (N, 3) and ``batch_idx`` (N,) of all
            current-scan points in batch order.
        """
        feats_list = batch_inputs['point_feats']
        grid_list = batch_inputs['grid_ind']
        batch_size = len(feats_list)
        sizes = torch.tensor([len(f) for f in feats_list])
        grid_ind = torch.cat(grid_list).long()
        point_feats = torch.cat(feats_list)
        if len(grid_ind) != len(point_feats):
            raise ValueError(f'KDMOSStudent: {len(point_feats)} point_feats '
                             f'rows but {len(grid_ind)} grid_ind rows')
        check_cells(grid_ind, self.grid_size, 'inputs["grid_ind"]',
                    'KDMOSStudent')
        batch_idx = torch.repeat_interleave(
            torch.arange(batch_size), sizes).to(grid_ind.device)
        appearance, motion = self.voxel_encoder(point_feats, grid_ind,
                                                batch_idx, batch_size)
        bev_feats = self.decode_head(self.backbone(appearance, motion))
        return dict(bev_feats=bev_feats, grid_ind=grid_ind,
                    batch_idx=batch_idx)

    def point_logits(self, feats: Dict[str, Tensor],
                     batch_inputs: dict) -> Tensor:
        """Per-point logits (sum_b N_b, C), each point its voxel's logits."""
        return self.decode_head.predict_by_feat(
            feats['bev_feats'], feats['grid_ind'], feats['batch_idx'])

    def loss_by_feats(self, feats: Dict[str, Tensor], batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """CE and Lovasz-softmax on the labelled occupied voxels.

        Returns:
            dict: ``loss_ce`` and ``loss_lovasz`` scalars.
        """
        return self.decode_head.loss_by_feat(feats['bev_feats'],
                                             batch_data_samples)


def _set_consistent(cfg: dict, name: str, **values) -> dict:
    """Copy ``cfg`` with ``values`` set; raise if it states other values."""
    cfg = dict(cfg)
    for key, value in values.items():
        given = cfg.get(key)
        if given is not None and tuple(_as_tuple(given)) != tuple(
                _as_tuple(value)):
            raise ValueError(f'KDMOSStudent: {name}.{key}={given} contradicts '
                             f'the model ({value}); set it once')
        cfg[key] = value
    return cfg


def _as_tuple(value):
    return value if isinstance(value, (tuple, list)) else (value, )
