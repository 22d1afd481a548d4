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
from typing import List, Mapping, Optional


def mos_pipeline(num_past_scans: int,
                 voxelize_cfg: Mapping,
                 train: bool,
                 num_future_scans: int = 0,
                 motion_cfg: Optional[Mapping] = None,
                 teacher_logits: Optional[Mapping] = None) -> List[dict]:
    """The transform configs of one MOS data pipeline, in order.

    ``LoadMOSScans`` -> ``LoadMOSLabels`` -> [``LoadTeacherLogits``] ->
    [motion features] -> [``MOSGlobalAug``, train only] -> ``voxelize_cfg``
    -> ``PackMOSInputs``. The student reads the motion features; the sparse
    teacher reads only the merged past scans (no ``motion_cfg``, no future
    scans); offline distillation adds the teacher logits of every point.

    Args:
        num_past_scans: K past scans loaded beside the current one.
        voxelize_cfg: The ``PolarVoxelize`` config (kept for the teacher
            too: it packs the student keys).
        train: Add the rigid augmentation (rotation, flip, translation with
            std 0.1 m).
        num_future_scans: Scans after the current one (the 'reference'
            motion features look 7 scans ahead; 0 otherwise).
        motion_cfg: The ``MOSMotionFeatures`` config, or None for no motion
            features (the teacher).
        teacher_logits: ``LoadTeacherLogits`` arguments (``logits_root``,
            ``num_classes``), or None.

    Returns:
        list[dict]: New dicts (the given configs are copied), e.g. for
        ``mos_pipeline(7, vox, train=False)``: ``[dict(type='LoadMOSScans',
        num_past=7, num_future=0), dict(type='LoadMOSLabels'), vox,
        dict(type='PackMOSInputs')]``.
    """
    steps = [
        dict(type='LoadMOSScans', num_past=num_past_scans,
             num_future=num_future_scans),
        dict(type='LoadMOSLabels'),
    ]
    if teacher_logits is not None:
        steps.append(dict(type='LoadTeacherLogits', **teacher_logits))
    if motion_cfg is not None:
        steps.append(dict(motion_cfg))
    if train:
        steps.append(dict(type='MOSGlobalAug', rotate=True, flip=True,
                          translate_std=0.1))
    steps.append(dict(voxelize_cfg))
    steps.append(dict(type='PackMOSInputs'))
    return steps
