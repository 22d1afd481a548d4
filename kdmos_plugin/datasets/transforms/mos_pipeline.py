"""The MOS data pipelines, written once, for the config files.

mmengine resolves an old-style ``.py`` config when the file is run, so a
pipeline built from variables (grid size, motion mode) is fixed in the file
that builds it: a child config that changes a variable must build the list
again. Config files therefore call :func:`mos_pipeline` with their values
instead of restating the steps::

    _base_ = ['./mos_common.py']
    from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline

    train_pipeline = mos_pipeline(_base_.num_past_scans, voxelize_cfg,
                                  train=True, motion_cfg=motion_cfg)

mmengine drops imported functions and modules from the parsed config, so the
resolved (and dumped) config holds only the list of dicts; a dumped config
does not need this module. Two mmengine rules shape the call site:

- the import must come after ``_base_ = ...``: mmengine takes a file whose
  first statement imports a non-standard module for a new-style
  (``read_base``) config;
- values of a base are passed as ``_base_.name`` (the value), not
  ``{{_base_.name}}`` (a placeholder string, replaced only after the file
  has run).
"""
import copy
import math
from typing import List, Mapping, Optional

#: The training augmentations ``mos_pipeline(train_aug=...)`` chooses from.
TRAIN_AUGS = {
    'kdmos': (dict(type='MOSGlobalAug', rotate=True, flip=True,
                   translate_std=0.1), ),
    'mambamos': (dict(type='MambaMOSAug', rotate_prob=0.5, max_yaw=math.pi,
                      scale_range=[0.9, 1.1], flip_prob=0.5,
                      jitter_std=0.005, jitter_clip=0.02),
                 dict(type='MOSSphereCrop', sample_rate=0.8)),
}


def mos_pipeline(num_past_scans: int,
                 voxelize_cfg: Mapping,
                 train: bool,
                 num_future_scans: int = 0,
                 motion_cfg: Optional[Mapping] = None,
                 teacher_logits: Optional[Mapping] = None,
                 train_aug: str = 'kdmos',
                 normalize_intensity: bool = False,
                 future_in_multi_points: bool = False) -> List[dict]:
    """The transform configs of one MOS data pipeline, in order.

    ``LoadMOSScans`` -> [``MOSNormalizeIntensity``] -> ``LoadMOSLabels``
    -> [``LoadTeacherLogits``] ->
    [motion features] -> [augmentation, train only] -> ``voxelize_cfg``
    -> ``PackMOSInputs``. The student reads the motion features; the sparse
    teacher reads only the merged past scans (no ``motion_cfg``, no future
    scans); offline distillation adds the teacher logits of every point.
    The augmentation is ``MOSGlobalAug`` (``train_aug='kdmos'``, every
    point kept) or the MambaMOS teacher recipe ``MambaMOSAug`` ->
    ``MOSSphereCrop(0.8)`` (``train_aug='mambamos'``, drops points: for
    training the sparse teacher only).

    Args:
        num_past_scans: K past scans loaded beside the current one.
        voxelize_cfg: The ``PolarVoxelize`` config (kept for the teacher
            too: it packs the student keys).
        train: Add the augmentation chosen by ``train_aug``.
        num_future_scans: Scans after the current one (the 'reference'
            motion features look 7 scans ahead; 0 otherwise).
        motion_cfg: The ``MOSMotionFeatures`` config, or None for no motion
            features (the teacher).
        teacher_logits: ``LoadTeacherLogits`` arguments (``logits_root``,
            ``num_classes``), or None.
        train_aug: ``'kdmos'``: the student's rigid augmentation (docs/METHOD.md
            1.4: yaw, 4-way flip, translation with std 0.1 m). ``'mambamos'``:
            the MambaMOS teacher's (docs/METHOD.md 3.2: yaw with p 0.5, scale
            U[0.9, 1.1], x/y flips with p 0.5, jitter N(0, 0.005 m) clipped
            at 0.02 m, sphere crop keeping 80% of the merged cloud); it
            refuses ``teacher_logits`` (their rows are per raw point).
        normalize_intensity: Add ``MOSNormalizeIntensity`` after the scans
            are loaded: intensities on the 0-1 scale, from the dataset's
            ``sensor`` profiles (for data of several sensors).
        future_in_multi_points: Merge the ``num_future_scans`` future
            scans into the teacher's cloud (a non-causal, offline teacher;
            ``LoadMOSScans(future_in_multi_points=True)``).

    Returns:
        list[dict]: New dicts (the given configs are copied), e.g. for
        ``mos_pipeline(7, vox, train=False)``: ``[dict(type='LoadMOSScans',
        num_past=7, num_future=0), dict(type='LoadMOSLabels'), vox,
        dict(type='PackMOSInputs')]``.
    """
    if train_aug not in TRAIN_AUGS:
        raise ValueError(f'mos_pipeline: train_aug must be one of '
                         f'{sorted(TRAIN_AUGS)}, got {train_aug!r}')
    if train_aug == 'mambamos' and teacher_logits is not None:
        raise ValueError(
            "mos_pipeline: train_aug='mambamos' drops points (sphere crop) "
            'but offline teacher logits need every point of the scan')
    steps = [
        dict(type='LoadMOSScans', num_past=num_past_scans,
             num_future=num_future_scans),
    ]
    if future_in_multi_points:
        steps[0]['future_in_multi_points'] = True
    if normalize_intensity:
        steps.append(dict(type='MOSNormalizeIntensity'))
    steps.append(dict(type='LoadMOSLabels'))
    if teacher_logits is not None:
        steps.append(dict(type='LoadTeacherLogits', **teacher_logits))
    if motion_cfg is not None:
        steps.append(dict(motion_cfg))
    if train:
        steps.extend(copy.deepcopy(TRAIN_AUGS[train_aug]))
    steps.append(dict(voxelize_cfg))
    steps.append(dict(type='PackMOSInputs'))
    return steps
