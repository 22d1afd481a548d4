"""Shared pytest fixtures.

``tiny_kitti_root``: a tiny dataset in the SemanticKITTI layout, written with
the package's own KITTI writers:

* ``sequences/00`` (12 scans) and ``sequences/08`` (16 scans, long enough for
  every reference motion window), with labels: ground, walls, a pole
  (static), a parked car (movable), a moving car and a walking person
  (moving), unlabeled and outlier points; ~1.5k points a scan, a few of them
  beyond 60 m or above 2 m;
* ``sequences/11`` (6 scans) without a labels folder (the hidden test split);
* ``poses.txt`` (KITTI camera poses of an ego vehicle that drives and turns)
  and ``calib.txt`` with a KITTI-like ``Tr`` in every sequence.
"""
import os.path as osp
import socket
import traceback

import numpy as np
import pytest

#: KITTI-like LiDAR -> camera transform used by the tiny dataset.
TINY_TR = np.array([[0.0, -1.0, 0.0, -0.01], [0.0, 0.0, -1.0, -0.08],
                    [1.0, 0.0, 0.0, -0.27], [0.0, 0.0, 0.0, 1.0]])
#: Scans a sequence of the tiny dataset.
TINY_SEQUENCES = {'00': 12, '08': 16, '11': 6}
LIDAR_HEIGHT = 1.73


def _yaw_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    pose[:3, 3] = [x, y, z]
    return pose


def _box(rng, center, size, n):
    """n points on the side faces and top of an axis-aligned box."""
    cx, cy, cz = center
    sx, sy, sz = size
    face = rng.integers(0, 5, n)
    u, v = rng.random(n), rng.random(n)
    x = cx + (u - 0.5) * sx
    y = cy + (v - 0.5) * sy
    z = cz + rng.random(n) * sz
    x = np.where(face == 0, cx - sx / 2, np.where(face == 1, cx + sx / 2, x))
    y = np.where(face == 2, cy - sy / 2, np.where(face == 3, cy + sy / 2, y))
    z = np.where(face == 4, cz + sz, z)
    return np.stack([x, y, z], 1)


def tiny_world_scan(rng, i: int):
    """World points (n, 3) and raw labels (n,) uint32 seen at scan ``i``."""
    ego = tiny_ego_pose(i)[:3, 3]
    parts, labels = [], []

    def add(pts, sem, inst=0):
        parts.append(pts)
        labels.append(np.full(len(pts), (inst << 16) | sem, dtype=np.uint32))

    # ground around the ego vehicle (road 40 / sidewalk 48)
    r = np.sqrt(rng.random(600)) * 33 + 3
    a = rng.random(600) * 2 * np.pi
    g = np.stack([ego[0] + r * np.cos(a), ego[1] + r * np.sin(a),
                  rng.normal(0, 0.02, 600)], 1)
    add(g[:400], 40)
    add(g[400:], 48)
    # walls (building 50) along the street, up to 6 m high
    for y in (14.0, -14.0):
        w = np.stack([ego[0] + rng.uniform(-30, 40, 250),
                      np.full(250, y) + rng.normal(0, 0.05, 250),
                      rng.uniform(0, 6, 250)], 1)
        add(w, 50)
    add(_box(rng, (45.0, 0.0, 0.0), (1.0, 26.0, 5.0), 150), 50)
    add(_box(rng, (20.0, 5.0, 0.0), (0.3, 0.3, 4.0), 40), 80)  # pole
    add(_box(rng, (15.0, -8.0, 0.0), (4.0, 1.8, 1.5), 120), 10, 3)  # parked
    # moving car towards the ego vehicle, walking person
    add(_box(rng, (32.0 - 1.2 * i, 5.0, 0.0), (4.2, 1.8, 1.5), 160), 252, 7)
    add(_box(rng, (12.0 + 0.15 * i, -4.0 + 0.1 * i, 0.0), (0.6, 0.6, 1.8),
             50), 254, 9)
    add(rng.uniform([-20, -20, -1], [20, 20, 3], (30, 3)), 0)  # unlabeled
    add(rng.uniform([-20, -20, -1], [20, 20, 3], (10, 3)), 1)  # outlier
    add(np.array([[ego[0] + 70.0, 0.0, 1.0], [ego[0] - 65.0, 3.0, 0.5]]), 50)
    return np.concatenate(parts), np.concatenate(labels)


def tiny_ego_pose(i: int) -> np.ndarray:
    """World pose (4, 4) of the LiDAR at scan ``i``: drives and turns."""
    return _yaw_pose(0.8 * i, 0.03 * i * i, LIDAR_HEIGHT, 0.02 * i)


def tiny_lidar_poses(num: int) -> np.ndarray:
    """(num, 4, 4) LiDAR poses relative to scan 0 (what the dataset derives
    from poses.txt and calib.txt)."""
    w0 = np.linalg.inv(tiny_ego_pose(0))
    return np.stack([w0 @ tiny_ego_pose(i) for i in range(num)])


def write_tiny_kitti(root: str, sequences=None, seed: int = 0) -> str:
    """Write the tiny SemanticKITTI-layout dataset under ``root``."""
    from kdmos_plugin.datasets.kitti_io import (write_calib, write_labels,
                                                write_points, write_poses)
    sequences = sequences or TINY_SEQUENCES
    rng = np.random.default_rng(seed)
    for seq, num in sequences.items():
        seq_dir = osp.join(root, 'sequences', seq)
        lidar = tiny_lidar_poses(num)
        cam = TINY_TR[None] @ lidar @ np.linalg.inv(TINY_TR)[None]
        write_poses(osp.join(seq_dir, 'poses.txt'), cam)
        write_calib(osp.join(seq_dir, 'calib.txt'), TINY_TR,
                    extra={f'P{k}': np.eye(4)[:3].reshape(-1)
                           for k in range(4)})
        for i in range(num):
            world, labels = tiny_world_scan(rng, i)
            to_lidar = np.linalg.inv(tiny_ego_pose(i))
            xyz = world @ to_lidar[:3, :3].T + to_lidar[:3, 3]
            order = rng.permutation(len(xyz))
            pts = np.concatenate([xyz, rng.random((len(xyz), 1))], 1)[order]
            write_points(osp.join(seq_dir, 'velodyne', f'{i:06d}.bin'), pts)
            if seq != '11':
                write_labels(osp.join(seq_dir, 'labels', f'{i:06d}.label'),
                             labels[order])
    return root


@pytest.fixture(scope='session')
def tiny_kitti_root(tmp_path_factory) -> str:
    """Root of the tiny SemanticKITTI-layout dataset (see module doc)."""
    return write_tiny_kitti(str(tmp_path_factory.mktemp('tiny_kitti')))


@pytest.fixture(scope='session')
def tiny_kitti_lidar_poses() -> dict:
    """Ground-truth LiDAR poses of the tiny dataset: seq -> (S, 4, 4)."""
    return {seq: tiny_lidar_poses(n) for seq, n in TINY_SEQUENCES.items()}


# --------------------------------------------------------------------------
# Fixtures of other components follow below.


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """Root of small-preset synthetic sequences '00' and '08' (10 scans
    each, seed 0) in the SemanticKITTI layout (ray-cast street scenes with
    parked and moving cars, cyclists and pedestrians)."""
    from kdmos_plugin.synthetic import write_dataset
    root = str(tmp_path_factory.mktemp('synthetic_mos'))
    write_dataset(root, ['00', '08'], num_scans=10, seed=0, preset='small')
    return root


def _free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A free local TCP port for a torchrun rendezvous (no fixed port that
    another job on the machine may hold)."""
    return _free_port()


def _gloo_rank(worker, rank: int, world: int, port: int, out, args) -> None:
    """One forked rank: join the gloo group, run ``worker``, report."""
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    try:
        out.put((rank, True, worker(rank, world, *args)))
    except Exception:  # report it at once instead of a queue timeout
        out.put((rank, False, traceback.format_exc()))
    finally:
        if dist.is_initialized():  # the worker may have ended it itself
            dist.destroy_process_group()


def _run_gloo_ranks(worker, *args, world: int = 2,
                    timeout: float = 120) -> dict:
    """``worker(rank, world, *args)`` in ``world`` forked CPU processes
    joined in one gloo process group; returns ``{rank: its return value}``
    (picklable; numpy rather than torch tensors, which need their sender
    alive). A rank that raises fails the test with its traceback."""
    import torch.multiprocessing as mp
    port = _free_port()
    ctx = mp.get_context('fork')
    out = ctx.Queue()
    procs = [ctx.Process(target=_gloo_rank,
                         args=(worker, rank, world, port, out, args))
             for rank in range(world)]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    for rank, ok, value in reports:
        if not ok:
            pytest.fail(f'rank {rank} failed:\n{value}')
    assert [proc.exitcode for proc in procs] == [0] * world
    return {rank: value for rank, _, value in reports}


@pytest.fixture(scope='session')
def gloo_ranks():
    """The runner of multi-process tests on CPU: ``gloo_ranks(worker,
    *args, world=2) -> {rank: worker(rank, world, *args)}``, each rank a
    forked process in one gloo process group (one torch thread each)."""
    return _run_gloo_ranks


#: The polar grid of the fast student tests (tiny_grid_config).
TINY_GRID = [48, 36, 8]


def _tiny_grid_config(name: str = 'student_bev_synthetic.py'):
    """``configs/kdmos/<name>`` with every loader's PolarVoxelize and the
    (student) model on :data:`TINY_GRID`."""
    from mmengine.config import Config
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cfg = Config.fromfile(osp.join(repo, 'configs', 'kdmos', name))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step['type'] == 'PolarVoxelize':
                step['grid_size'] = TINY_GRID
    model = cfg.model.student if cfg.model.type == 'MOSDistiller' \
        else cfg.model
    model.grid_size = TINY_GRID
    return cfg


@pytest.fixture(scope='session')
def tiny_grid_config():
    """``f(name='student_bev_synthetic.py') -> Config``: a synthetic config
    of ``configs/kdmos`` on the tiny 48x36x8 grid (fast on CPU)."""
    return _tiny_grid_config


@pytest.fixture(scope='session')
def tiny_student_ckpt(tmp_path_factory) -> str:
    """Random but fixed (seed 0) weights of the tiny-grid synthetic student:
    the checkpoint path; its config is dumped beside it (same name, .py)."""
    import torch
    from mmengine.runner import save_checkpoint

    from kdmos_plugin.apis.inference import init_mos_model
    torch.manual_seed(0)
    cfg = _tiny_grid_config()
    model, _ = init_mos_model(cfg)
    path = tmp_path_factory.mktemp('tiny_student') / 'student.pth'
    cfg.dump(str(path.with_suffix('.py')))
    save_checkpoint({'state_dict': model.state_dict()}, str(path))
    return str(path)


_TOOL_RUNS = iter(range(1 << 30))


def _run_tool(name: str, *args, cfg_options=None) -> None:
    """Run ``tools/<name>.py`` in this process as from the command line
    (``sys.argv``), with ``--cfg-options`` if given (plus a visualizer name
    of its own: mmengine keeps instances by name, so a second Runner in one
    process would otherwise write into the first one's folder)."""
    import runpy
    import sys
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    argv = [osp.join(repo, 'tools', f'{name}.py')] + [str(a) for a in args]
    if cfg_options is not None:
        argv += ['--cfg-options'] + [str(o) for o in cfg_options] + [
            f'visualizer.name=tool_run_{next(_TOOL_RUNS)}']
    saved = sys.argv
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name='__main__')
    finally:
        sys.argv = saved


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(name, *args, cfg_options=None)``: ``tools/<name>.py`` run
    in this process as from the command line."""
    return _run_tool


class _Payload:
    """Unpickling it creates the file ``marker`` (what a malicious pickle
    can do: run any code of its author)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture
def pickle_payload(tmp_path):
    """``(make, marker)``: ``make()`` gives an object whose unpickling
    creates the file ``marker`` (``make(other)``: creates ``other``); what
    a file we read must never do to us."""
    marker = tmp_path / 'PAYLOAD_RAN'
    return (lambda where=marker: _Payload(str(where))), marker
