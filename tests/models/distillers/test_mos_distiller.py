"""MOSDistiller: losses, frozen teacher, checkpoints that load into the
student, errors naming the scans."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import (get_state_dict, load_checkpoint,
                                        save_checkpoint)
from torch import nn

import kdmos_plugin  # noqa: F401
from kdmos_plugin.models.distillers import MOSDistiller
from kdmos_plugin.models.losses import DecoupledMOSDistillLoss
from kdmos_plugin.models.segmentors import BaseMOSSegmentor
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, PointData

init_default_scope('mmdet3d')

GRID = (16, 16, 4)

#: The real student at a tiny grid and width.
STUDENT = dict(
    type='KDMOSStudent',
    data_preprocessor=dict(type='MOSDataPreprocessor'),
    grid_size=GRID,
    num_classes=4,
    voxel_encoder=dict(type='BEVPointEncoder', in_channels=9,
                       feat_channels=(8, 8, 16, 16), out_channels=8,
                       motion_channels=8),
    backbone=dict(type='CABEVUNet', in_channels=8, motion_channels=8,
                  channels=(8, 8, 8, 8, 8), motion_widths=(4, 4, 4, 4)))


@MODELS.register_module(force=True)
class _StandInTeacher(BaseMOSSegmentor):
    """A tiny teacher: BN + linear on the point features of each point.

    Records the mode it ran in; ``drop_last`` returns one row too few."""

    def __init__(self, in_channels=17, num_classes=4, drop_last=False,
                 **kwargs):
        super().__init__(num_classes=num_classes, **kwargs)
        self.norm = nn.BatchNorm1d(in_channels)
        self.cls = nn.Linear(in_channels, num_classes)
        self.drop_last = drop_last
        self.seen_training = []

    def forward_feats(self, batch_inputs):
        self.seen_training.append(self.training)
        logits = self.cls(self.norm(torch.cat(batch_inputs['point_feats'])))
        return logits[:-1] if self.drop_last else logits

    def point_logits(self, feats, batch_inputs):
        return feats

    def loss_by_feats(self, feats, batch_inputs, batch_data_samples):
        return {'loss_ce': feats.sum() * 0}


def make_batch(sizes=(60, 45), seed=0, teacher_logits=True):
    """A preprocessed batch as MOSDataPreprocessor hands it over: scans of
    points within 10 m, each with 2 past scans in ``multi_points``."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(points=[], point_feats=[], grid_ind=[], multi_points=[])
    samples = []
    for b, n in enumerate(sizes):
        grid = torch.stack([torch.randint(0, s, (n, ), generator=g)
                            for s in GRID], 1)
        labels = torch.randint(0, 4, (n, ), generator=g)
        labels[:4] = torch.tensor([0, 1, 2, 3])
        points = torch.rand(n, 4, generator=g) * torch.tensor(
            [20.0, 20.0, 3.0, 1.0]) - torch.tensor([10.0, 10.0, 1.5, 0.0])
        past = points.repeat(2, 1) + 0.05 * torch.randn(2 * n, 4, generator=g)
        age = torch.cat([torch.zeros(n), torch.ones(n), torch.full((n, ), 2.)])
        inputs['points'].append(points)
        inputs['multi_points'].append(
            torch.cat([torch.cat([points, past]), age[:, None]], 1))
        inputs['point_feats'].append(torch.randn(n, 17, generator=g))
        inputs['grid_ind'].append(grid)
        cells, inv = torch.unique(grid, dim=0, return_inverse=True)
        vox_labels = torch.zeros(len(cells), dtype=torch.long)
        vox_labels[inv] = labels  # any label of the cell will do here
        sample = Det3DDataSample(metainfo=dict(
            lidar_path=f'sequences/08/velodyne/{b:06d}.bin', sequence='08',
            frame_id=b, num_points=n, grid_size=GRID))
        gt = PointData(pts_semantic_mask=labels)
        if teacher_logits:
            gt.teacher_logits = torch.randn(n, 4, generator=g) * 3
        sample.gt_pts_seg = gt
        sample.gt_voxel_seg = PointData(coors=cells, semantic_mask=vox_labels)
        samples.append(sample)
    return inputs, samples


def teacher_cfg(tmp_path, **kwargs):
    """An online teacher: model config + a checkpoint with known weights."""
    model_cfg = dict(type='_StandInTeacher', **kwargs)
    torch.manual_seed(123)
    teacher = MODELS.build(model_cfg)
    teacher.norm.running_mean.uniform_(-1, 1)
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint({'state_dict': get_state_dict(teacher)}, ckpt)
    return dict(config=model_cfg, checkpoint=ckpt), teacher


def test_offline_loss_is_student_loss_plus_distill_loss():
    torch.manual_seed(0)
    model = MOSDistiller(student=copy.deepcopy(STUDENT)).eval()
    assert model.data_preprocessor is model.student.data_preprocessor
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_ce', 'loss_lovasz', 'loss_tckd',
                           'loss_nckd'}
    student_losses = model.student.loss(inputs, samples)
    logits = model.student._forward(inputs, samples)
    teacher = torch.cat([s.gt_pts_seg.teacher_logits for s in samples])
    labels = torch.cat([s.gt_pts_seg.pts_semantic_mask for s in samples])
    kd = DecoupledMOSDistillLoss()(logits, teacher, labels)
    for key in ('loss_ce', 'loss_lovasz'):
        torch.testing.assert_close(losses[key], student_losses[key])
    for key in ('loss_tckd', 'loss_nckd'):
        torch.testing.assert_close(losses[key], kd[key])
        assert losses[key] > 0
    # predict and tensor mode are the student's
    torch.testing.assert_close(model(inputs, samples, mode='tensor'), logits)
    preds = model(inputs, copy.deepcopy(samples), mode='predict')
    torch.testing.assert_close(
        torch.cat([p.pred_pts_seg.pts_semantic_mask for p in preds]),
        logits.argmax(1))


def test_online_teacher_frozen_in_eval_without_gradient(tmp_path):
    cfg, reference = teacher_cfg(tmp_path)
    torch.manual_seed(0)
    model = MOSDistiller(student=copy.deepcopy(STUDENT), teacher=cfg)
    model.init_weights()  # must not re-initialise the loaded teacher
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.teacher.state_dict()[key], value)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    model.train()
    assert model.student.training and not model.teacher.training
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    student_before = [p.clone() for p in model.student.parameters()]
    inputs, samples = make_batch(teacher_logits=False)
    for _ in range(2):
        log_vars = model.train_step(
            dict(inputs=inputs, data_samples=samples), optim)
    assert {'loss_tckd', 'loss_nckd', 'loss'} <= set(log_vars)
    assert model.teacher.seen_training == [False, False]
    assert all(p.grad is None and not p.requires_grad
               for p in model.teacher.parameters())
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key])  # BN stats too
    assert any(not torch.equal(a, b) for a, b in zip(
        student_before, model.student.parameters()))


def real_teacher_distiller(tmp_path):
    """A distiller of :data:`STUDENT` with the real sparse 4-D teacher of the
    synthetic config (random weights, loaded from a checkpoint), and that
    teacher as built."""
    from mmengine.config import Config
    teacher_model = Config.fromfile(osp.join(
        osp.dirname(__file__), '..', '..', '..', 'configs', 'kdmos',
        'teacher_sparse4d_synthetic.py')).model
    torch.manual_seed(5)
    teacher = MODELS.build(teacher_model)
    ckpt = str(tmp_path / 'sparse_teacher.pth')
    save_checkpoint({'state_dict': get_state_dict(teacher)}, ckpt)
    model = MOSDistiller(student=copy.deepcopy(STUDENT),
                         teacher=dict(config=teacher_model, checkpoint=ckpt))
    model.init_weights()
    return model, teacher


def test_real_teacher_frozen_in_eval_without_gradient(tmp_path):
    """The same with the real sparse 4-D teacher of the synthetic config."""
    model, teacher = real_teacher_distiller(tmp_path)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    seen = []
    forward = model.teacher.forward_feats
    model.teacher.forward_feats = lambda inputs: (
        seen.append((model.teacher.training, torch.is_grad_enabled())),
        forward(inputs))[1]
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    inputs, samples = make_batch(teacher_logits=False)
    log_vars = model.train_step(dict(inputs=inputs, data_samples=samples),
                                optim)
    assert log_vars['loss_nckd'] > 0
    assert seen == [(False, False)]  # eval mode, no autograd graph
    assert all(p.grad is None for p in model.teacher.parameters())
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_real_teacher_runs_in_float32_under_bf16_autocast(tmp_path):
    """Training the student in bf16 (AutocastOptimWrapper) keeps the online
    sparse teacher in float32: spconv has no bfloat16 kernels, and its
    logits are those of a float32 forward outside any autocast."""
    from kdmos_plugin.engine import AutocastOptimWrapper
    model, _ = real_teacher_distiller(tmp_path)
    inputs, samples = make_batch(teacher_logits=False)
    expected = model.teacher_logits(inputs, samples)
    assert expected.dtype == torch.float32
    optim = AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with optim.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        got = model.teacher_logits(inputs, samples)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    model.train()
    log_vars = model.train_step(dict(inputs=inputs, data_samples=samples),
                                optim)
    assert log_vars['loss_nckd'] > 0


def test_checkpoint_loads_into_student_and_resumes(tmp_path):
    cfg, _ = teacher_cfg(tmp_path)
    torch.manual_seed(0)
    model = MOSDistiller(student=copy.deepcopy(STUDENT), teacher=cfg)
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(torch.randn_like(p))
    state = get_state_dict(model)
    assert set(state) == set(model.student.state_dict())
    assert set(model.state_dict()) == set(model.student.state_dict())
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint({'state_dict': state}, path)
    # straight into the student of student_bev (strict: same keys)
    student = MODELS.build(copy.deepcopy(STUDENT))
    load_checkpoint(student, path, strict=True)
    for a, b in zip(student.state_dict().values(),
                    model.student.state_dict().values()):
        torch.testing.assert_close(a, b)
    # back into a distiller (resume / load_from): student restored,
    # teacher kept from its own checkpoint
    torch.manual_seed(1)
    fresh = MOSDistiller(student=copy.deepcopy(STUDENT), teacher=cfg)
    load_checkpoint(fresh, path, strict=True)
    for a, b in zip(fresh.student.state_dict().values(),
                    model.student.state_dict().values()):
        torch.testing.assert_close(a, b)
    for a, b in zip(fresh.teacher.state_dict().values(),
                    model.teacher.state_dict().values()):
        torch.testing.assert_close(a, b)
    # torch's own load_state_dict works as well
    fresh.load_state_dict(model.state_dict(), strict=True)


def test_errors_name_the_scans(tmp_path):
    model = MOSDistiller(student=copy.deepcopy(STUDENT))
    inputs, samples = make_batch(teacher_logits=False)
    with pytest.raises(ValueError,
                       match='velodyne/000000.bin has no gt_pts_seg.teacher'):
        model.loss(inputs, samples)
    cfg, _ = teacher_cfg(tmp_path, drop_last=True)
    model = MOSDistiller(student=copy.deepcopy(STUDENT), teacher=cfg)
    with pytest.raises(ValueError, match=r'teacher 104 rows.*'
                       r'velodyne/000000.bin \(60 points\).*000001.bin'):
        model.loss(inputs, samples)
    with pytest.raises(FileNotFoundError, match='teacher checkpoint'):
        MOSDistiller(student=copy.deepcopy(STUDENT),
                     teacher=dict(config=cfg['config'],
                                  checkpoint=str(tmp_path / 'missing.pth')))
    with pytest.raises(ValueError, match='dict\\(config'):
        MOSDistiller(student=copy.deepcopy(STUDENT),
                     teacher=dict(checkpoint='x.pth'))
    with pytest.raises(TypeError, match='BaseMOSSegmentor'):
        MOSDistiller(student=dict(type='DecoupledMOSDistillLoss'))


def test_data_preprocessor_is_shared_with_the_student():
    student = copy.deepcopy(STUDENT)
    model = MOSDistiller(student=student)
    assert model.data_preprocessor is model.student.data_preprocessor
    own = model.data_preprocessor
    model = MOSDistiller(student=student,
                         data_preprocessor=dict(type='MOSDataPreprocessor'))
    assert model.data_preprocessor is model.student.data_preprocessor
    assert model.data_preprocessor is not own


def test_offline_logits_of_wrong_shape_raise():
    model = MOSDistiller(student=copy.deepcopy(STUDENT))
    inputs, samples = make_batch()
    # a sample whose logits cover a different scan than its points
    inputs['points'][1] = inputs['points'][1][:-1]
    with pytest.raises(ValueError, match='000001.bin have shape'):
        model.teacher_logits(inputs, samples)
