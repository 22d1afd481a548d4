"""Malformed input, end to end: one test per row of docs/MALFORMED_INPUT.md.

Every case goes through the path a user takes: the dataset built from the
synthetic student config (``DATASETS.build(cfg)[i]`` or its DataLoader),
the inference API, or the tools (``tools/infer.py`` in this process,
``tools/test.py`` as a subprocess). Each gives an error naming the file, or,
for an empty scan at inference and a scan outside the grid, the documented
handling with a logged warning naming the scan. The data is a 3-scan copy
of the tiny SemanticKITTI-layout sequence, corrupted in ``tmp_path``.
"""
import copy
import importlib.util
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint

from kdmos_plugin.apis.checkpoint import CheckpointMismatchError
from kdmos_plugin.apis.inference import (MOSStreamer, infer_sequence,
                                         init_mos_model)
from kdmos_plugin.datasets.teacher_logits import (MANIFEST_NAME,
                                                  logits_path, make_manifest)
from kdmos_plugin.datasets.kitti_io import (KittiFormatError, read_labels,
                                            read_points, write_labels,
                                            write_points)
from mmdet3d.registry import DATASETS, MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs' / 'kdmos'
GRID = [48, 36, 8]
NUM_SCANS = 3
_LOGGERS = itertools.count()


def _dataset(root, cfg, loader='test_dataloader'):
    """The dataset of ``cfg`` (a tiny-grid config) on sequence '08' of
    ``root``."""
    init_default_scope('mmdet3d')
    ds_cfg = copy.deepcopy(cfg[loader].dataset)
    ds_cfg.update(data_root=str(root), sequences=['08'])
    return DATASETS.build(ds_cfg)


def _scan(root, i, ext='bin'):
    folder = 'velodyne' if ext == 'bin' else 'labels'
    return Path(root, 'sequences', '08', folder, f'{i:06d}.{ext}')


@pytest.fixture(scope='module')
def clean_root(tiny_kitti_root, tmp_path_factory):
    """The first 3 scans (~1.5k points each) of the tiny labelled sequence
    '08', with their 3 poses."""
    src = Path(tiny_kitti_root, 'sequences', '08')
    root = tmp_path_factory.mktemp('clean')
    dst = root / 'sequences' / '08'
    for folder, ext in (('velodyne', 'bin'), ('labels', 'label')):
        (dst / folder).mkdir(parents=True)
        for i in range(NUM_SCANS):
            shutil.copy(src / folder / f'{i:06d}.{ext}', dst / folder)
    shutil.copy(src / 'calib.txt', dst)
    lines = (src / 'poses.txt').read_text().splitlines()[:NUM_SCANS]
    (dst / 'poses.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


@pytest.fixture
def root(clean_root, tmp_path):
    """A fresh copy of :func:`clean_root` for a test to corrupt."""
    return Path(shutil.copytree(clean_root, tmp_path / 'kitti'))


@pytest.fixture
def warnings_log():
    """The WARNING messages logged through mmengine's current logger."""
    logger = MMLogger.get_instance(f'malformed_input_{next(_LOGGERS)}')
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _infer_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool', REPO / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------- 1. .bin size
def test_truncated_bin_is_an_error_naming_the_file(root, tiny_grid_config):
    bad = _scan(root, 1)
    with open(bad, 'ab') as f:
        f.write(b'\0' * 7)  # a partial point
    dataset = _dataset(root, tiny_grid_config())
    assert len(dataset) == NUM_SCANS
    assert len(dataset[0]['inputs']['points']) > 0  # scans before it load
    with pytest.raises(KittiFormatError, match='not a multiple of 16') as err:
        dataset[1]
    assert str(bad) in str(err.value)
    # scan 2 loads scan 1 as a past scan: the same error, also through the
    # DataLoader's worker process (nothing retries or skips the sample)
    cfg = tiny_grid_config()
    cfg.test_dataloader.dataset.update(data_root=str(root), sequences=['08'])
    cfg.test_dataloader.num_workers = 1
    loader = Runner.build_dataloader(cfg.test_dataloader)
    with pytest.raises(KittiFormatError) as err:
        list(loader)
    assert str(bad) in str(err.value)


# ------------------------------------------------------ 2. label/point count
def test_label_count_mismatch_is_an_error_naming_the_file(
        root, tiny_grid_config):
    bad = _scan(root, 2, 'label')
    write_labels(bad, read_labels(bad)[:-1])
    n = len(read_points(_scan(root, 2)))
    dataset = _dataset(root, tiny_grid_config(),
                       'train_dataloader')  # retries on None only
    assert not dataset.test_mode
    assert len(dataset[0]['inputs']['points']) > 0
    with pytest.raises(KittiFormatError, match=f'{n - 1} labels.*{n} points'
                       ) as err:
        dataset[2]
    assert str(bad) in str(err.value)


# -------------------------------------------------------- 3. missing poses
def test_missing_pose_line_is_an_error_naming_the_file(
        root, tiny_student_ckpt, tiny_grid_config, tmp_path):
    poses = root / 'sequences' / '08' / 'poses.txt'
    lines = poses.read_text().splitlines()
    assert len(lines) == NUM_SCANS
    poses.write_text('\n'.join(lines[:-1]) + '\n')
    with pytest.raises(KittiFormatError,
                       match=f'2 poses but the sequence has {NUM_SCANS}'
                       ) as err:
        _dataset(root, tiny_grid_config())
    assert str(poses) in str(err.value)
    # tools/infer.py --poses reads them with the same check
    with pytest.raises(KittiFormatError) as err:
        _infer_tool().main([
            tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt,
            '--scans',
            str(root / 'sequences' / '08' / 'velodyne'), '--out',
            str(tmp_path / 'out'), '--poses', str(poses)
        ])
    assert str(poses) in str(err.value)
    assert not (tmp_path / 'out').exists()  # failed before any output


# ------------------------------------------------------------ 4. NaN / inf
def test_nan_or_inf_points_are_an_error_naming_the_file(root,
                                                        tiny_grid_config):
    bad = _scan(root, 0)
    points = read_points(bad)
    points[5, 1] = np.nan
    points[9, 3] = np.inf
    write_points(bad, points)
    dataset = _dataset(root, tiny_grid_config())
    with pytest.raises(KittiFormatError,
                       match='2 of .* points hold NaN or inf .*point 5'
                       ) as err:
        dataset[0]
    assert str(bad) in str(err.value)


def test_streamer_refuses_nan_points(tiny_student_ckpt):
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    points = np.zeros((10, 4), np.float32)
    points[3, 0] = np.nan
    with pytest.raises(ValueError, match='scan 0: 1 of 10 points hold NaN'):
        MOSStreamer(model, pipeline).step(points)


# ------------------------------------------------------------ 5. empty scan
def test_empty_scan_is_an_error_in_the_dataset(root, tiny_grid_config):
    bad = _scan(root, 1)
    bad.write_bytes(b'')
    dataset = _dataset(root, tiny_grid_config())
    with pytest.raises(KittiFormatError, match='holds no points') as err:
        dataset[1]
    assert str(bad) in str(err.value)


def test_empty_scan_gives_an_empty_prediction_at_inference(
        root, tiny_student_ckpt, warnings_log, tmp_path,
        tiny_kitti_lidar_poses):
    velodyne = root / 'sequences' / '08' / 'velodyne'
    _scan(root, 1).write_bytes(b'')
    # tools/infer.py: an empty .label for it, full ones for its neighbours
    out = tmp_path / 'out'
    _infer_tool().main([
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt,
        '--scans',
        str(velodyne), '--out', str(out), '--vis'
    ])
    assert (out / '000001.label').is_file()
    assert (out / '000001.label').stat().st_size == 0
    assert (out / 'vis' / '000001.png').is_file()
    for i in (0, 2):
        n = len(read_points(_scan(root, i)))
        assert len(read_labels(out / f'{i:06d}.label', n)) == n
    assert [m for m in warnings_log if str(_scan(root, 1)) in m and
            'empty scan' in m]
    # the API: the same in batch and streaming (the empty scan is a past
    # scan with no points for scan 2)
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    paths = [str(_scan(root, i)) for i in range(NUM_SCANS)]
    poses = tiny_kitti_lidar_poses['08'][:NUM_SCANS]
    batch = [pred for _, pred in infer_sequence(model, pipeline, paths,
                                                poses)]
    assert [len(p) for p in batch] == [
        len(read_points(paths[0])), 0, len(read_points(paths[2]))]
    streamer = MOSStreamer(model, pipeline)
    del warnings_log[:]
    for i, expected in enumerate(batch):
        points = read_points(paths[i]) if len(expected) else np.zeros(
            (0, 4), np.float32)
        np.testing.assert_array_equal(streamer.step(points, poses[i]),
                                      expected)
    assert len(streamer.buffer) == NUM_SCANS
    assert [m for m in warnings_log if 'stream/000001' in m]


# ---------------------------------------------------- 6. outside the grid
def test_scan_outside_the_grid_is_clipped_with_a_warning(
        root, warnings_log, tiny_grid_config):
    bad = _scan(root, 0)
    points = read_points(bad)
    points[:, :3] *= 1000  # a scan in millimetres
    rho = np.hypot(points[:, 0], points[:, 1])
    assert ((rho > 50.15) | (points[:, 2] > 2) | (points[:, 2] < -4)).all()
    write_points(bad, points)
    dataset = _dataset(root, tiny_grid_config())
    sample = dataset[0]
    ind = sample['inputs']['grid_ind']
    assert len(sample['inputs']['points']) == len(points)  # none dropped
    assert len(ind) == len(points)
    # rho is clipped into the last ring (2-D rho >= 1.85 m after x1000 for
    # all but points within 1.85 mm of the axis)
    assert (ind[:, 0] == GRID[0] - 1).float().mean() > 0.99
    assert ((ind >= 0) & (ind < torch.tensor(GRID))).all()
    mine = [m for m in warnings_log if str(bad) in m]
    assert len(mine) == 1 and f'all {len(points)} points' in mine[0]
    # an ordinary scan (a few points beyond 50 m) does not warn
    dataset[2]
    assert not [m for m in warnings_log if str(_scan(root, 2)) in m]


def test_outside_fraction_threshold(warnings_log):
    """More than ``warn_outside_fraction`` of the points outside warns."""
    from kdmos_plugin.datasets.transforms import PolarVoxelize
    points = np.zeros((10, 4), np.float32)
    points[:, 0] = 10.0
    points[:6, 0] = 80.0  # 6 of 10 beyond 50.15 m
    for frac, warns in ((0.5, True), (0.6, False), (1.0, False)):
        del warnings_log[:]
        out = PolarVoxelize(GRID, warn_outside_fraction=frac)(
            dict(points=points, lidar_path='x/000007.bin'))
        assert (out['grid_ind'][:6, 0] == GRID[0] - 1).all()
        assert len(warnings_log) == int(warns), (frac, warnings_log)
    PolarVoxelize(GRID)(dict(points=points, lidar_path='x/000007.bin'))
    assert 'x/000007.bin: 6 of 10 points are outside' in warnings_log[-1]
    with pytest.raises(ValueError, match='warn_outside_fraction'):
        PolarVoxelize(GRID, warn_outside_fraction=1.5)


# ------------------------------------------------------- 7./8. teacher logits
def _kd_dataset(root, tmp_path, shapes, cfg):
    """The offline-KD training dataset with logits of the given shapes
    (None = the right shape) for frames 0..2; ``cfg`` is the tiny-grid
    student_kd_synthetic.py."""
    logits_root = tmp_path / 'logits'
    for i, shape in enumerate(shapes):
        n = len(read_points(_scan(root, i)))
        path = Path(logits_path(str(logits_root), '08', i))
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.zeros(shape or (n, 4), np.float16))
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'LoadTeacherLogits':
            step['logits_root'] = str(logits_root)
    return _dataset(root, cfg, 'train_dataloader'), logits_root


def test_teacher_logits_with_wrong_row_count(root, tmp_path,
                                            tiny_grid_config):
    n = len(read_points(_scan(root, 1)))
    dataset, logits_root = _kd_dataset(
        root, tmp_path, [None, (n - 1, 4), None],
        tiny_grid_config('student_kd_synthetic.py'))
    assert dataset[0]['data_samples'].gt_pts_seg.teacher_logits.shape[1] == 4
    bad = logits_path(str(logits_root), '08', 1)
    with pytest.raises(ValueError, match=f'{n} points') as err:
        dataset[1]
    assert bad in str(err.value) and str(_scan(root, 1)) in str(err.value)


def test_teacher_logits_with_wrong_class_count(root, tmp_path,
                                              tiny_grid_config):
    n = len(read_points(_scan(root, 2)))
    kd_cfg = tiny_grid_config('student_kd_synthetic.py')
    dataset, logits_root = _kd_dataset(root, tmp_path, [None, None, (n, 3)],
                                       kd_cfg)
    bad = logits_path(str(logits_root), '08', 2)
    with pytest.raises(ValueError, match='3 classes.*num_classes=4') as err:
        dataset[2]
    assert bad in str(err.value)
    # a manifest of a 3-class teacher is refused at the first sample
    (logits_root / MANIFEST_NAME).write_text(json.dumps(make_manifest(
        ('static', 'movable', 'moving'), 'teacher.py', '0' * 64)))
    dataset, _ = _kd_dataset(root, tmp_path, [None] * NUM_SCANS, kd_cfg)
    with pytest.raises(ValueError, match='num_classes 3 .*num_classes=4'
                       ) as err:
        dataset[0]
    assert str(logits_root / MANIFEST_NAME) in str(err.value)


# ------------------------------------------------- 9. another model's weights
@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """Weights of the synthetic sparse teacher."""
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(CONFIGS / 'teacher_sparse4d_synthetic.py'))
    teacher = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('teacher') / 'teacher_epoch_3.pth'
    save_checkpoint({'state_dict': teacher.state_dict()}, str(path))
    return str(path)


def test_checkpoint_of_another_model_is_refused(
        tiny_student_ckpt, teacher_ckpt, tmp_path, clean_root):
    student_cfg = tiny_student_ckpt.replace('.pth', '.py')
    # tools/infer.py (in this process)
    with pytest.raises(CheckpointMismatchError,
                       match='does not fit the model KDMOSStudent') as err:
        _infer_tool().main([
            student_cfg, teacher_ckpt, '--scans',
            str(Path(clean_root, 'sequences', '08', 'velodyne')), '--out',
            str(tmp_path / 'infer')
        ])
    assert teacher_ckpt in str(err.value)
    assert not list((tmp_path / 'infer').glob('*.label'))
    # tools/test.py as a user runs it: mmengine's Runner alone would only
    # warn and test random weights
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'test.py'), student_cfg,
         teacher_ckpt, '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', f'test_dataloader.dataset.data_root={clean_root}'],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert res.returncode != 0
    tail = res.stderr[-3000:]
    assert 'CheckpointMismatchError' in tail, tail
    assert f'{teacher_ckpt}: does not fit the model KDMOSStudent' in tail
    assert not list((tmp_path / 'work').rglob('*.json'))  # no metrics


def _student_cfg(ckpt):
    return ckpt.replace('.pth', '.py')


def _train_ids(label_file, n=None):
    """Train ids (0..3) of a .label file written by tools/infer.py."""
    from kdmos_plugin.datasets.label_map import INV_MAP_4CLASS
    raw = read_labels(label_file, n)
    inv = {v: k for k, v in INV_MAP_4CLASS.items()}
    return np.array([inv[int(v)] for v in raw], np.int64)


# ---------------------------------------- 10. a .bin of another layout
def test_bin_of_five_columns_or_float64_is_named(root, tiny_grid_config,
                                                 tiny_student_ckpt, tmp_path):
    bad = _scan(root, 1)
    points = read_points(bad)
    n = len(points) - len(points) % 4  # 20 * n bytes, a multiple of 16 too
    ring = (np.arange(n) % 32).astype(np.float32)[:, None]
    np.concatenate([points[:n], ring], 1).astype(np.float32).tofile(bad)
    assert bad.stat().st_size % 16 == 0  # the size check alone passes
    dataset = _dataset(root, tiny_grid_config())
    with pytest.raises(KittiFormatError,
                       match='5 float32 a point.*ring indices 0..31') as err:
        dataset[1]
    assert str(bad) in str(err.value)
    # (the folder source of tools/infer.py names it as a SourceFormatError)
    with pytest.raises(ValueError, match='5 float32 a point') as err:
        _infer_tool().main([_student_cfg(tiny_student_ckpt),
                            tiny_student_ckpt, '--scans', str(bad.parent),
                            '--out', str(tmp_path / 'out')])
    assert str(bad) in str(err.value)
    points.astype(np.float64).tofile(bad)  # 32 bytes a point
    with pytest.raises(KittiFormatError, match='float64 x 4') as err:
        dataset[1]
    assert str(bad) in str(err.value)


# ---------------------------- 11. scan names, macOS metadata files
def test_scans_in_frame_number_order_and_macos_files_skipped(
        root, tiny_student_ckpt, tmp_path, warnings_log, capsys):
    scans = tmp_path / 'scans'
    scans.mkdir()
    names = ['8', '9', '10']  # as strings: '10' < '8' < '9'
    for i, name in enumerate(names):
        shutil.copy(_scan(root, i), scans / f'{name}.bin')
    # an AppleDouble file: 4096 bytes (a multiple of 16) of metadata
    (scans / '._8.bin').write_bytes(b'\0\x05\x16\x07' + b'\0' * 4092)
    out = tmp_path / 'out'
    _infer_tool().main([_student_cfg(tiny_student_ckpt), tiny_student_ckpt,
                        '--scans', str(scans), '--out', str(out)])
    assert sorted(p.name for p in out.glob('*.label')) == [
        '10.label', '8.label', '9.label']
    assert [m for m in warnings_log if '._8.bin' in m and 'macOS' in m]
    # the labels of frames 8, 9, 10 in time order (each the past of the
    # next), as the API gives them for the same scans in that order
    model, pipeline = init_mos_model(_student_cfg(tiny_student_ckpt),
                                     tiny_student_ckpt)
    paths = [str(_scan(root, i)) for i in range(NUM_SCANS)]
    expected = [p for _, p in infer_sequence(model, pipeline, paths)]
    progress = [line.split()[2] for line in capsys.readouterr().out
                .splitlines() if line.startswith('[infer] ') and '/' in
                line.split()[1]]
    assert progress == ['8:', '9:', '10:']  # the time order
    for name, want in zip(names, expected):
        np.testing.assert_array_equal(_train_ids(out / f'{name}.label'),
                                      want)
    # the dataset skips them too (and keeps scan 0 as scan 0)
    (root / 'sequences' / '08' / 'velodyne' / '._000000.bin').write_bytes(
        b'\0' * 4096)
    del warnings_log[:]
    dataset = _dataset(root, _tiny_cfg(tiny_student_ckpt))
    assert len(dataset) == NUM_SCANS
    assert dataset.get_data_info(0)['lidar_path'] == str(_scan(root, 0))
    assert [m for m in warnings_log if '._000000.bin' in m]


def _tiny_cfg(ckpt):
    return Config.fromfile(_student_cfg(ckpt))


# -------------------------------------------------- 12. frame gaps
def test_frame_gap_refused_by_the_dataset_named_by_infer(
        root, tiny_student_ckpt, tmp_path, warnings_log):
    for ext in ('bin', 'label'):
        _scan(root, 1, ext).unlink()
    with pytest.raises(KittiFormatError,
                       match='frames are missing: 000001 .between 000000 '
                       'and 000002') as err:
        _dataset(root, _tiny_cfg(tiny_student_ckpt))
    assert str(root / 'sequences' / '08' / 'velodyne') in str(err.value)
    # own scans: a warning naming the folder and the gap, then labels
    _infer_tool().main([_student_cfg(tiny_student_ckpt), tiny_student_ckpt,
                        '--scans', str(_scan(root, 0).parent), '--out',
                        str(tmp_path / 'out')])
    assert len(list((tmp_path / 'out').glob('*.label'))) == 2
    assert [m for m in warnings_log if 'frames are missing: 000001' in m
            and str(_scan(root, 0).parent) in m]


# ------------------------------- 13. more poses than scans: a warning
def test_more_poses_than_scans_is_named(root, tiny_student_ckpt,
                                        tiny_kitti_root, warnings_log):
    poses = root / 'sequences' / '08' / 'poses.txt'
    shutil.copy(Path(tiny_kitti_root, 'sequences', '08', 'poses.txt'), poses)
    dataset = _dataset(root, _tiny_cfg(tiny_student_ckpt))
    assert len(dataset) == NUM_SCANS
    assert [m for m in warnings_log if str(poses) in m and
            f'holds 16 poses but there are {NUM_SCANS} scans' in m]


# -------------------------- 14. poses and Tr that are not rigid motions
@pytest.mark.parametrize('kind', ['scaled', 'sheared', 'singular'])
def test_pose_that_is_not_rigid_is_refused(root, tiny_student_ckpt,
                                           tmp_path, kind):
    poses = root / 'sequences' / '08' / 'poses.txt'
    lines = poses.read_text().splitlines()
    values = np.array(lines[1].split(), float).reshape(3, 4)
    if kind == 'scaled':
        values[:, :3] *= 2
    elif kind == 'sheared':
        values[0, 1] += 0.3
    else:
        values[:, :3] = 0
    lines[1] = ' '.join(repr(float(v)) for v in values.reshape(-1))
    poses.write_text('\n'.join(lines) + '\n')
    with pytest.raises(KittiFormatError,
                       match='line 2: not a rigid transform') as err:
        _dataset(root, _tiny_cfg(tiny_student_ckpt))
    assert str(poses) in str(err.value)
    with pytest.raises(KittiFormatError, match='line 2') as err:
        _infer_tool().main([_student_cfg(tiny_student_ckpt),
                            tiny_student_ckpt, '--scans',
                            str(_scan(root, 0).parent), '--out',
                            str(tmp_path / 'out'), '--poses', str(poses)])
    assert str(poses) in str(err.value)


def test_singular_calibration_is_refused(root, tiny_student_ckpt):
    calib = root / 'sequences' / '08' / 'calib.txt'
    text = [line if not line.startswith('Tr:') else
            'Tr: ' + ' '.join(['0'] * 12) for line in
            calib.read_text().splitlines()]
    calib.write_text('\n'.join(text) + '\n')
    with pytest.raises(KittiFormatError, match='"Tr": not a rigid') as err:
        _dataset(root, _tiny_cfg(tiny_student_ckpt))  # not LinAlgError
    assert str(calib) in str(err.value)


# --------------------------------------- 15. an empty checkpoint file
def test_empty_or_truncated_checkpoint_is_named(tiny_student_ckpt, tmp_path,
                                                clean_root):
    from kdmos_plugin.utils.compat import CorruptCheckpointError
    empty = tmp_path / 'epoch_3.pth'
    empty.write_bytes(b'')
    half = tmp_path / 'half.pth'
    data = Path(tiny_student_ckpt).read_bytes()
    half.write_bytes(data[:len(data) // 2])
    for ckpt, what in ((empty, 'empty file'), (half, 'truncated')):
        with pytest.raises(CorruptCheckpointError, match=what) as err:
            _infer_tool().main([
                _student_cfg(tiny_student_ckpt), str(ckpt), '--scans',
                str(Path(clean_root, 'sequences', '08', 'velodyne')),
                '--out', str(tmp_path / 'out')])
        assert str(ckpt) in str(err.value)
        with pytest.raises(CorruptCheckpointError, match=what):
            init_mos_model(_student_cfg(tiny_student_ckpt), str(ckpt))


# ------------------------------ 16. MOSStreamer: a pose that is not rigid
@pytest.mark.parametrize('kind', ['nan', 'singular', '3x4', 'scaled'])
def test_streamer_refuses_a_bad_pose_at_once(tiny_student_ckpt, clean_root,
                                             tiny_kitti_lidar_poses, kind):
    model, pipeline = init_mos_model(_student_cfg(tiny_student_ckpt),
                                     tiny_student_ckpt)
    paths = [str(Path(clean_root, 'sequences', '08', 'velodyne',
                      f'{i:06d}.bin')) for i in range(NUM_SCANS)]
    poses = tiny_kitti_lidar_poses['08'][:NUM_SCANS]
    expected = [p for _, p in infer_sequence(model, pipeline, paths, poses)]
    bad = poses[1].copy()
    if kind == 'nan':
        bad[0, 3] = np.nan
    elif kind == 'singular':
        bad[:3, :3] = 0
    elif kind == '3x4':
        bad = bad[:3]
    else:
        bad[:3, :3] *= 2
    streamer = MOSStreamer(model, pipeline)
    streamer.step(read_points(paths[0]), poses[0])
    with pytest.raises(ValueError, match='scan 1: its pose: not a rigid'):
        streamer.step(read_points(paths[1]), bad)
    assert len(streamer.buffer) == 1  # refused before it entered
    # the next steps are those of a stream that never saw the bad pose
    for i in (1, 2):
        np.testing.assert_array_equal(
            streamer.step(read_points(paths[i]), poses[i]), expected[i])
