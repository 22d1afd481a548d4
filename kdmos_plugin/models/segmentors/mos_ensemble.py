"""An ensemble teacher: the mean of several trained segmentors' logits."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import SampleList

from .base_mos_segmentor import BaseMOSSegmentor


@MODELS.register_module()
class MOSEnsemble(BaseMOSSegmentor):
    """Average the per-point logits of several trained segmentors.

    A teacher for offline distillation that is steadier and more accurate
    than any one of its members (each member is trained on its own, e.g.
    with another seed). The members read the same packed inputs (one data
    pipeline), so any mix of this plugin's segmentors with the same classes
    works, e.g. two sparse 4-D teachers::

        forward_feats(): [member.forward_feats(inputs) for each member]
        point_logits():  mean_m member.point_logits(feats_m)  (sum_b N_b, C)

    The mean of the logits is the normalised geometric mean of the members'
    class probabilities; with the distillation temperature it is a
    temperature-scaled product of experts.

    The weights come from one checkpoint whose keys are the members' under
    ``members.<i>.`` (written by
    :func:`kdmos_plugin.apis.checkpoint.merge_member_checkpoints`, CLI
    ``tools/merge_checkpoints.py``), so ``tools/test.py``,
    ``tools/dump_teacher_logits.py`` and the inference API take it as they
    take any checkpoint. An ensemble is assembled, not trained: ``loss``
    raises.

    Args:
        members (list[dict], optional): Two or more segmentor configs.
        member (dict, optional): Instead of ``members``: one config, built
            ``num_members`` times (``--cfg-options model.num_members=3``
            then changes the count, ``model.member.<key>=...`` every
            member).
        num_members (int, optional): With ``member``: how many.
        num_classes (int): Classes incl. the ignored class 0; every member
            must predict as many.
        ignore_index (int): Label ignored by the metrics.
        data_preprocessor (dict, optional): Defaults to the first member's.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 members: Optional[Sequence[dict]] = None,
                 member: Optional[dict] = None,
                 num_members: Optional[int] = None,
                 num_classes: int = 4,
                 ignore_index: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if (members is None) == (member is None) or \
                (member is not None) != (num_members is not None):
            raise ValueError('MOSEnsemble: give either members=[...] or '
                             'member=dict(...) with num_members=N')
        members = list(members) if member is None else \
            [member] * int(num_members)
        if len(members) < 2:
            raise ValueError(f'MOSEnsemble: needs two or more members, got '
                             f'{len(members)}')
        if data_preprocessor is None:
            data_preprocessor = members[0].get('data_preprocessor')
        super().__init__(
            num_classes=num_classes,
            ignore_index=ignore_index,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.members = nn.ModuleList(MODELS.build(m) for m in members)
        for i, member in enumerate(self.members):
            if not isinstance(member, BaseMOSSegmentor):
                raise TypeError(f'MOSEnsemble: member {i} is a '
                                f'{type(member).__name__}, not a MOS '
                                'segmentor (forward_feats / point_logits)')
            if member.num_classes != num_classes:
                raise ValueError(
                    f'MOSEnsemble: member {i} ({type(member).__name__}) '
                    f'predicts {member.num_classes} classes, the ensemble '
                    f'{num_classes}')

    def forward_feats(self, batch_inputs: dict) -> List:
        """Every member's own ``forward_feats`` output, in member order."""
        return [m.forward_feats(batch_inputs) for m in self.members]

    def point_logits(self, feats: List, batch_inputs: dict) -> Tensor:
        """The mean (sum_b N_b, C) of the members' per-point logits."""
        logits = [m.point_logits(f, batch_inputs)
                  for m, f in zip(self.members, feats)]
        return torch.stack(logits).mean(0)

    def loss_by_feats(self, feats: List, batch_inputs: dict,
                      batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Not supported: train each member with its own config instead."""
        raise NotImplementedError(
            'MOSEnsemble is assembled from trained members, not trained: '
            'train each member with its own config, then merge their '
            'checkpoints with tools/merge_checkpoints.py')


def ensemble_model_config(member: dict, num_classes: int,
                          num_members: int = 2) -> dict:
    """The ``model`` of a config whose teacher is the ensemble of
    ``num_members`` trainings of its base config's ``member`` model.

    For a config file that inherits a single teacher's config::

        _base_ = ['./teacher_sparse4d_synthetic.py']
        from kdmos_plugin.models.segmentors.mos_ensemble import \\
            ensemble_model_config
        model = ensemble_model_config(_base_.model, _base_.num_classes)

    Returns:
        dict: ``MOSEnsemble`` config that replaces (``_delete_``) the
        inherited model.
    """
    return dict(_delete_=True, type='MOSEnsemble', num_classes=num_classes,
                member=member, num_members=num_members)

