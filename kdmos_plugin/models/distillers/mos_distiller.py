"""Teacher -> student logit distillation wrapper for MOS segmentors."""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor

from mmdet3d.registry import MODELS
from mmdet3d.structures.det3d_data_sample import OptSampleList, SampleList
from .seg3d_adapter import as_mos_segmentor

_STUDENT = 'student.'
_TEACHER = 'teacher.'


@MODELS.register_module()
class MOSDistiller(BaseModel):
    """Train a MOS student with a decoupled distillation loss.

    ::

        loss():    student.forward_feats() -> student.loss_by_feats()
                                            + student.point_logits()
                   teacher logits (online teacher or offline file)
                   -> distill_loss(student logits, teacher logits, labels)
        predict(), _forward(): the student's

    The contract with a student or an online teacher: the segmentor offers

    * ``forward_feats(batch_inputs) -> feats``: one network forward;
    * ``point_logits(feats, batch_inputs) -> (sum_b N_b, C)``: logits of
      every point of the current scans, samples in batch order, points in
      file order (``batch_inputs['points']`` gives the N_b);
    * ``loss_by_feats(feats, batch_inputs, data_samples) -> dict`` of
      scalar losses (students only);
    * ``predict(batch_inputs, data_samples)`` and ``_forward(...)``
      (students only), as mmdet3d's segmentors.

    Every :class:`BaseMOSSegmentor` (``KDMOSStudent``,
    ``Sparse4DMOSTeacher``, your subclass) offers them. An mmdet3d
    ``MinkUNet`` segmentor (``type='MinkUNet'``, e.g. from mmdet3d's own
    ``_base_/models/minkunet.py``) is given them by
    :class:`MinkUNetAdapter` here, on any device: no wrapper to write. Its
    arguments (``voxel_size``, ``batch_first``, ``features``) come from
    ``adapter`` (student) or ``teacher['adapter']``. Other segmentor types
    are refused with the list of what is supported.

    The teacher is either built online from its config (checkpoint loaded,
    frozen, always in eval mode, run under ``torch.no_grad``), or, with
    ``teacher=None``, its logits are read from
    ``data_sample.gt_pts_seg.teacher_logits`` (``LoadTeacherLogits`` in the
    pipeline). Teacher and student logits are per point of the current scan,
    rows in file order; their row counts must match sample by sample.

    Checkpoints hold the student only, under the student's own keys (a
    state-dict hook strips ``student.`` and drops the teacher), so a file
    saved while distilling loads straight into the student config
    (``configs/kdmos/student_bev.py``) for test and inference. Loading goes
    the other way (a load hook adds ``student.`` and keeps the teacher's
    current weights), so resuming a distillation run, or starting one from a
    student checkpoint with ``load_from``, works too.

    Args:
        student (dict): Config of a registered :class:`BaseMOSSegmentor`
            or of an mmdet3d ``MinkUNet``. The data preprocessor of a MOS
            student is the distiller's; a MinkUNet's (CUDA-only voxels) is
            replaced by ``MOSDataPreprocessor``.
        teacher (dict, optional): ``dict(config=..., checkpoint=...,
            adapter=None)``: ``config`` is a config file path (its ``model``
            is built) or a model config dict, ``checkpoint`` a path or URL
            loaded with mmengine's ``load_checkpoint`` (strict), ``adapter``
            the :class:`MinkUNetAdapter` arguments of an mmdet3d teacher.
            None (default) reads offline logits from the data samples.
        distill_loss (dict): Config of the distillation loss; it is called
            as ``loss(student_logits (N, C), teacher_logits (N, C),
            labels (N,))`` and returns a dict of scalar losses.
            Defaults to ``dict(type='DecoupledMOSDistillLoss')``.
        data_preprocessor (dict, optional): Replaces the student's data
            preprocessor (e.g. a top-level ``data_preprocessor`` the Runner
            passes in). Defaults to the student's own.
        adapter (dict, optional): :class:`MinkUNetAdapter` arguments of an
            mmdet3d student, e.g. ``dict(features='point_feats')``.
        init_cfg (dict, optional): Initialisation config of the distiller.
    """

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 distill_loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 adapter: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        student_model = MODELS.build(student)
        # the adapter reads the voxel size of the model's own preprocessor
        student_api = as_mos_segmentor(student_model, adapter, 'student')
        if data_preprocessor is None and student_api is not student_model:
            data_preprocessor = dict(type='MOSDataPreprocessor')
        if data_preprocessor is not None:
            student_model.data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=student_model.data_preprocessor,
            init_cfg=init_cfg)
        # the modules, under their own names (checkpoint keys) ...
        self.student = student_model
        teacher_model, teacher_api = (None, None) if teacher is None else \
            self._build_teacher(teacher)
        self.teacher = teacher_model
        # ... and what the distiller calls: the module or its adapter (a
        # plain dict, so that nothing is registered twice)
        self._api = dict(student=student_api, teacher=teacher_api)
        self.distill_loss = MODELS.build(
            distill_loss or dict(type='DecoupledMOSDistillLoss'))
        self.register_state_dict_post_hook(_student_only_state_dict)
        self._register_load_state_dict_pre_hook(self._map_loaded_keys)

    @property
    def online(self) -> bool:
        """Whether a teacher network runs in every training step."""
        return self.teacher is not None

    # ------------------------------------------------------------------
    @property
    def student_api(self):
        """The student's contract methods (the module or its adapter)."""
        return self._api['student']

    @property
    def teacher_api(self):
        """The online teacher's contract methods, or None offline."""
        return self._api['teacher']

    def _build_teacher(self, cfg: dict):
        """Build, load and freeze the teacher from ``dict(config, ckpt)``.

        Returns:
            tuple: the teacher module and its contract methods.
        """
        cfg = dict(cfg)
        unknown = set(cfg) - {'config', 'checkpoint', 'adapter'}
        if 'config' not in cfg or unknown:
            raise ValueError(
                "MOSDistiller: teacher must be dict(config=..., checkpoint="
                f"..., adapter=None) or None, got keys {sorted(cfg)}")
        config, checkpoint = cfg['config'], cfg.get('checkpoint')
        if isinstance(config, str):
            model_cfg = Config.fromfile(config).get('model')
            if model_cfg is None:
                raise ValueError(
                    f'MOSDistiller: teacher config {config} has no `model`')
        elif isinstance(config, (dict, ConfigDict)):
            model_cfg = config
        else:
            raise TypeError('MOSDistiller: teacher config must be a path or '
                            f'a dict, got {type(config).__name__}')
        teacher = MODELS.build(model_cfg)
        api = as_mos_segmentor(teacher, cfg.get('adapter'), 'teacher')
        if checkpoint:
            if '://' not in checkpoint and not osp.isfile(checkpoint):
                raise FileNotFoundError(
                    f'MOSDistiller: teacher checkpoint {checkpoint} not found '
                    '(set model.teacher.checkpoint to the trained teacher)')
            load_checkpoint(teacher, checkpoint, map_location='cpu',
                            strict=True)
        else:
            print_log(
                'MOSDistiller: no teacher checkpoint given; the online '
                'teacher keeps its random initial weights', logger='current',
                level=logging.WARNING)
        teacher.requires_grad_(False)
        teacher.eval()
        # init_weights() of the distiller must not re-initialise it
        teacher._is_init = True
        return teacher, api

    def train(self, mode: bool = True) -> 'MOSDistiller':
        """Set the training mode of the student; the teacher stays in eval.

        Args:
            mode (bool): Training (True) or evaluation mode.

        Returns:
            MOSDistiller: self.
        """
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    # ------------------------------------------------------------------
    def forward(self,
                inputs: dict,
                data_samples: OptSampleList = None,
                mode: str = 'tensor'):
        """mmengine's entry point: ``'loss'``, ``'predict'`` or ``'tensor'``.

        Args:
            inputs (dict): Batch inputs from :class:`MOSDataPreprocessor`.
            data_samples (list[Det3DDataSample], optional): Batch samples.
            mode (str): What to return.

        Returns:
            dict of losses, list of samples with predictions, or the
            (sum_b N_b, C) student point logits.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'MOSDistiller: invalid mode {mode!r}; use '
                           "'loss', 'predict' or 'tensor'")

    def loss(self, batch_inputs: dict,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Student segmentation losses plus the distillation losses.

        Args:
            batch_inputs (dict): Batch inputs (lists of per-sample tensors).
            batch_data_samples (list[Det3DDataSample]): With
                ``gt_pts_seg.pts_semantic_mask`` (N_b,) and, offline,
                ``gt_pts_seg.teacher_logits`` (N_b, C).

        Returns:
            dict[str, Tensor]: the student's losses and those of
            ``distill_loss`` (``loss_tckd``, ``loss_nckd``).
        """
        student = self.student_api
        feats = student.forward_feats(batch_inputs)
        losses = student.loss_by_feats(feats, batch_inputs,
                                       batch_data_samples)
        student_logits = student.point_logits(feats, batch_inputs)
        teacher_logits = self.teacher_logits(batch_inputs, batch_data_samples)
        self._check_rows(student_logits, teacher_logits, batch_inputs,
                         batch_data_samples)
        labels = student.gt_point_labels(batch_data_samples).to(
            student_logits.device)
        kd_losses = self.distill_loss(student_logits, teacher_logits, labels)
        clash = set(kd_losses) & set(losses)
        if clash:
            raise KeyError(f'MOSDistiller: loss names {sorted(clash)} are '
                           'used by both the student and the distill loss')
        losses.update(kd_losses)
        return losses

    def predict(self, batch_inputs: dict,
                batch_data_samples: SampleList) -> SampleList:
        """The student's predictions (see ``BaseMOSSegmentor.predict``)."""
        return self.student_api.predict(batch_inputs, batch_data_samples)

    def _forward(self,
                 batch_inputs: dict,
                 batch_data_samples: OptSampleList = None) -> Tensor:
        """The student's (sum_b N_b, C) point logits."""
        return self.student_api._forward(batch_inputs, batch_data_samples)

    @torch.no_grad()
    def teacher_logits(self, batch_inputs: dict,
                       batch_data_samples: SampleList) -> Tensor:
        """Teacher point logits (sum_b N_b, C) of a batch, no gradient.

        Online: the frozen teacher's ``point_logits``, in its own
        precision: autocast (mixed-precision training of the student) is
        off inside it, since a sparse teacher's spconv kernels take float32
        or float16, not bfloat16. Offline: the concatenated
        ``gt_pts_seg.teacher_logits`` of the samples.

        Raises:
            ValueError: Offline logits missing or of the wrong row count for
                a sample (the message names its ``lidar_path``).
        """
        if self.teacher is not None:
            if self.teacher.training:  # e.g. a caller used .train() on it
                self.teacher.eval()
            teacher = self.teacher_api
            param = next(self.teacher.parameters(), None)
            device = 'cpu' if param is None else param.device.type
            with torch.autocast(device_type=device, enabled=False):
                feats = teacher.forward_feats(batch_inputs)
                return teacher.point_logits(feats, batch_inputs).detach()
        parts: List[Tensor] = []
        for i, sample in enumerate(batch_data_samples):
            gt = sample.get('gt_pts_seg')
            logits = None if gt is None else gt.get('teacher_logits')
            if logits is None:
                raise ValueError(
                    f'MOSDistiller: {_name(sample, i)} has no '
                    'gt_pts_seg.teacher_logits; add LoadTeacherLogits to '
                    'the training pipeline or configure an online teacher')
            num_points = len(batch_inputs['points'][i])
            if logits.dim() != 2 or logits.shape[0] != num_points:
                raise ValueError(
                    f'MOSDistiller: teacher logits of {_name(sample, i)} '
                    f'have shape {tuple(logits.shape)}, expected '
                    f'({num_points}, C): one row per point of the scan')
            parts.append(torch.as_tensor(logits))
        device = batch_inputs['points'][0].device
        return torch.cat(parts).to(device=device, dtype=torch.float32)

    def _check_rows(self, student_logits: Tensor, teacher_logits: Tensor,
                    batch_inputs: dict, samples: SampleList) -> None:
        """Raise unless both logits have one row per current-scan point."""
        sizes = [len(p) for p in batch_inputs['points']]
        problems = []
        for what, logits in (('student', student_logits),
                             ('teacher', teacher_logits)):
            if logits.shape[0] != sum(sizes):
                problems.append(f'{what} {logits.shape[0]} rows')
        if student_logits.shape[1:] != teacher_logits.shape[1:]:
            problems.append(f'student {student_logits.shape[1]} vs teacher '
                            f'{teacher_logits.shape[1]} classes')
        if problems:
            names = ', '.join(f'{_name(s, i)} ({n} points)'
                              for i, (s, n) in enumerate(zip(samples, sizes)))
            raise ValueError(
                'MOSDistiller: student and teacher logits do not match the '
                f'batch ({"; ".join(problems)}, {sum(sizes)} points in '
                f'total) for {names}')

    # ------------------------------------------------------------------
    def _map_loaded_keys(self, state_dict: dict, prefix: str, *args) -> None:
        """Load hook: student keys get ``student.``; the teacher's current
        weights fill its keys when the file has none (student-only files)."""
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if rest.startswith((_STUDENT, _TEACHER)):
                continue
            # the shared data preprocessor is also the distiller's own
            value = (state_dict[key] if rest.startswith('data_preprocessor.')
                     else state_dict.pop(key))
            state_dict.setdefault(prefix + _STUDENT + rest, value)
        if self.teacher is not None:
            for key, value in self.teacher.state_dict(
                    prefix=prefix + _TEACHER).items():
                state_dict.setdefault(key, value)


def _student_only_state_dict(module: MOSDistiller, state_dict: dict,
                             prefix: str, local_metadata: dict) -> None:
    """State-dict hook: keep the student under its own keys, drop the
    teacher (in place, order kept)."""
    renamed = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            if rest.startswith(_TEACHER):
                continue
            if rest.startswith(_STUDENT):
                key = prefix + rest[len(_STUDENT):]
        renamed[key] = value
    state_dict.clear()
    state_dict.update(renamed)
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        for key in list(metadata):
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if rest == 'teacher' or rest.startswith(_TEACHER) or \
                    rest == 'student':
                metadata.pop(key)
            elif rest.startswith(_STUDENT):
                metadata[prefix + rest[len(_STUDENT):]] = metadata.pop(key)


def _name(sample, i: int) -> str:
    """The lidar_path of a sample for messages."""
    return str(sample.metainfo.get('lidar_path', f'sample {i}'))
