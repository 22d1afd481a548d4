"""KDMOS polar-BEV student segmentor (MotionBEV network with DySample)."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from ..layers.pillar_scatter import pillar_keys, unique_pillars
from mmdet3d.structures.det3d_data_sample import SampleList
from .base_mos_segmentor import BaseMOSSegmentor


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
        head (nn.Conv2d): 1x1 convolution K -> C * Z (``backbone.outc``).
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


@MODELS.register_module()
class KDMOSStudent(BaseMOSSegmentor):
    """Polar BEV student of KDMOS (docs/METHOD.md sections 2 and 4).

    ::

        forward_feats(): point_feats, grid_ind -> voxel_encoder()
                         -> appearance (B, 32, R, P), motion (B, 8, R, P)
                         -> backbone.decode() -> dropout -> bev_feats
                            (B, 32, R, P)
        point_logits():  backbone.outc at each point's pillar, channels
                         z * C .. z * C + C - 1 (head_logits_at_cells)
        loss_by_feats(): the same read at the occupied, labelled voxels of
                         ``gt_voxel_seg`` -> loss_ce + loss_lovasz

    The voxel loss is computed on the occupied voxels only. Empty and
    unlabelled voxels carry label ``ignore_index`` in the published dense
    loss, so both CE (mean over non-ignored voxels) and Lovasz (flattened
    over non-ignored voxels) are identical. Neither the dense
    ``(B, C * Z, R, P)`` head output nor the ``(B, C, R, P, Z)`` voxel
    tensor is ever built: the 1x1 head runs only at the pillars read.

    Args:
        voxel_encoder (dict): Config of the point encoder
            (:class:`BEVPointEncoder`); ``bev_shape`` is set from
            ``grid_size``.
        backbone (dict): Config of the BEV network (:class:`CABEVUNet`);
            ``num_classes`` and ``grid_z`` are set from this model.
        grid_size (Sequence[int]): (R, P, Z) polar cells.
        num_classes (int): Classes incl. the ignored class 0.
        ignore_index (int): Label ignored by the losses.
        loss_ce (dict): Config of the cross-entropy loss on voxels.
        loss_lovasz (dict, optional): Config of the Lovasz loss on voxels.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 voxel_encoder: dict,
                 backbone: dict,
                 grid_size: Sequence[int] = (480, 360, 32),
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 loss_ce: dict = dict(
                     type='mmdet.CrossEntropyLoss',
                     use_sigmoid=False,
                     ignore_index=0,
                     avg_non_ignore=True,
                     loss_weight=1.0),
                 loss_lovasz: Optional[dict] = dict(
                     type='LovaszSoftmaxLoss', ignore_index=0,
                     loss_weight=1.0),
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
        backbone = _set_consistent(
            backbone, 'backbone', num_classes=num_classes,
            grid_z=self.grid_size[2])
        self.voxel_encoder = MODELS.build(voxel_encoder)
        self.backbone = MODELS.build(backbone)
        self.loss_ce = MODELS.build(loss_ce)
        self.loss_lovasz = (MODELS.build(loss_lovasz)
                            if loss_lovasz is not None else None)

    # ------------------------------------------------------------------
    def forward_feats(self, batch_inputs: dict) -> Dict[str, Tensor]:
        """Run the network once.

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
        self._check_cells(grid_ind, 'inputs["grid_ind"]')
        batch_idx = torch.repeat_interleave(
            torch.arange(batch_size), sizes).to(grid_ind.device)
        appearance, motion = self.voxel_encoder(point_feats, grid_ind,
                                                batch_idx, batch_size)
        bev_feats = self.backbone.dropout(
            self.backbone.decode(appearance, motion))
        return dict(bev_feats=bev_feats, grid_ind=grid_ind,
                    batch_idx=batch_idx)

    def cell_logits(self, feats: Dict[str, Tensor], batch_idx: Tensor,
                    cells: Tensor) -> Tensor:
        """Logits (M, C) of cells (M, 3) of samples ``batch_idx`` (M,)."""
        return head_logits_at_cells(feats['bev_feats'], self.backbone.outc,
                                    batch_idx, cells, self.num_classes)

    def point_logits(self, feats: Dict[str, Tensor],
                     batch_inputs: dict) -> Tensor:
        """Per-point logits (sum_b N_b, C), each point its voxel's logits."""
        return self.cell_logits(feats, feats['batch_idx'], feats['grid_ind'])

    def voxel_targets(self, batch_data_samples: SampleList,
                      device: torch.device) -> List[Tensor]:
        """Occupied voxels of a batch from ``gt_voxel_seg``.

        Returns:
            list[Tensor]: batch index (V,), cells (V, 3) and labels (V,),
            all int64 on ``device``.
        """
        batch_idx, cells, labels = [], [], []
        for i, sample in enumerate(batch_data_samples):
            if 'gt_voxel_seg' not in sample:
                raise ValueError(
                    f'KDMOSStudent: sample '
                    f'{sample.metainfo.get("lidar_path", i)} has no '
                    f'gt_voxel_seg; the training pipeline must produce it')
            vox = sample.gt_voxel_seg
            coors = vox.coors.to(device).long()
            mask = vox.semantic_mask.to(device).long()
            if coors.shape != (len(mask), 3):
                raise ValueError(
                    f'KDMOSStudent: gt_voxel_seg of sample '
                    f'{sample.metainfo.get("lidar_path", i)} has coors '
                    f'{tuple(coors.shape)} and {len(mask)} labels')
            batch_idx.append(torch.full_like(mask, i))
            cells.append(coors)
            labels.append(mask)
        return [torch.cat(batch_idx), torch.cat(cells), torch.cat(labels)]

    def loss_by_feats(self, feats: Dict[str, Tensor], batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """CE and Lovasz-softmax on the labelled occupied voxels.

        Returns:
            dict: ``loss_ce`` and ``loss_lovasz`` scalars.
        """
        device = feats['bev_feats'].device
        batch_idx, cells, labels = self.voxel_targets(batch_data_samples,
                                                      device)
        self._check_cells(cells, 'gt_voxel_seg.coors')
        valid = labels != self.ignore_index
        voxel_logits = self.cell_logits(feats, batch_idx[valid],
                                        cells[valid])
        labels = labels[valid]
        losses = {'loss_ce': self.loss_ce(voxel_logits, labels)}
        if self.loss_lovasz is not None:
            losses['loss_lovasz'] = self.loss_lovasz(voxel_logits, labels)
        return losses

    def _check_cells(self, cells: Tensor, what: str) -> None:
        """Raise if any (i_rho, i_phi, i_z) lies outside ``grid_size``."""
        if cells.numel() == 0:
            return
        lo = cells.min(dim=0).values
        hi = cells.max(dim=0).values
        size = torch.tensor(self.grid_size, device=cells.device)
        if bool((lo < 0).any()) or bool((hi >= size).any()):
            raise ValueError(
                f'KDMOSStudent: {what} spans {lo.tolist()}..{hi.tolist()}, '
                f'outside the model grid {self.grid_size}; the dataset and '
                f'model grid_size must agree')


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
