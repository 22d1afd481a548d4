"""Fixtures of the deploy tests: a tiny-grid student with non-trivial
BatchNorm statistics and packed synthetic scans."""
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch


def _randomise_batchnorm(model, seed: int = 1) -> None:
    """Running statistics and affine parameters away from (0, 1), so that
    folding them is a real test."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)


@pytest.fixture(scope='session')
def deploy_student(tiny_student_ckpt):
    """``(model, pipeline)``: the tiny-grid synthetic student (48x36x8) with
    its checkpoint and randomised BatchNorms, eval mode, CPU."""
    from kdmos_plugin.apis.inference import init_mos_model
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    with torch.no_grad():
        _randomise_batchnorm(model)
    return model.eval(), pipeline


def _sequence(root, seq):
    from kdmos_plugin.datasets.kitti_io import (camera_to_lidar_poses,
                                                read_calib, read_poses)
    seq_dir = osp.join(root, 'sequences', seq)
    paths = sorted(str(p) for p in Path(seq_dir, 'velodyne').glob('*.bin'))
    poses = camera_to_lidar_poses(
        read_poses(osp.join(seq_dir, 'poses.txt')),
        read_calib(osp.join(seq_dir, 'calib.txt'))['Tr'])
    return paths, poses[:len(paths)]


@pytest.fixture(scope='session')
def synthetic_sequence(synthetic_root):
    """``(paths, poses)`` of the synthetic sequence 08 (10 scans)."""
    return _sequence(synthetic_root, '08')


@pytest.fixture(scope='session')
def packed_scans(deploy_student, synthetic_sequence):
    """The 10 scans of synthetic sequence 08 through the inference pipeline
    (causal motion features): a list of ``PackMOSInputs`` outputs."""
    _, pipeline = deploy_student
    paths, poses = synthetic_sequence
    seq_info = dict(lidar_paths=paths, lidar_poses=poses, sequence='08')
    return [pipeline(dict(lidar_path=p, scan_index=t, seq_info=seq_info,
                          sequence='08', frame_id=t))
            for t, p in enumerate(paths)]


def _model_logits(model, packed: dict) -> torch.Tensor:
    """(N, C) logits of one packed scan by the model's own forward."""
    inputs = packed['inputs']
    batch = dict(points=[inputs['points']],
                 point_feats=[inputs['point_feats']],
                 grid_ind=[inputs['grid_ind']])
    with torch.no_grad():
        return model.point_logits(model.forward_feats(batch), batch)


@pytest.fixture(scope='session')
def reference_logits(deploy_student, packed_scans):
    """fp32 logits of every packed scan by the model itself."""
    model, _ = deploy_student
    return [_model_logits(model, p) for p in packed_scans]


def _agreement(a, b) -> float:
    """Fraction of equal labels of two (N, C) logit arrays."""
    a, b = np.asarray(a), np.asarray(b)
    return float((a.argmax(1) == b.argmax(1)).mean())


@pytest.fixture(scope='session')
def agreement():
    """``f(a, b)``: fraction of equal labels of two (N, C) logit arrays."""
    return _agreement
