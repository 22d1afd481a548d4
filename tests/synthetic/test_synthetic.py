"""Tests of the synthetic SemanticKITTI-MOS generator."""
import filecmp
import hashlib
import os
import os.path as osp

import numpy as np
import pytest

from kdmos_plugin.datasets import kitti_io
from kdmos_plugin.datasets.label_map import MOS_4CLASS, map_labels
from kdmos_plugin.synthetic import (KITTI_TR, LidarModel, SyntheticSequence,
                                    write_sequence)
from kdmos_plugin.synthetic.geometry import (BOX, CYLINDER, ELLIPSOID,
                                             make_primitives)

ALLOWED_IDS = {0, 10, 30, 31, 40, 48, 50, 51, 70, 71, 72, 80, 81, 252, 253,
               254}


def _read_sequence(seq_dir):
    """Points, raw labels (lists) and LiDAR poses of a written sequence."""
    names = sorted(os.listdir(osp.join(seq_dir, 'velodyne')))
    points, labels = [], []
    for name in names:
        pts = kitti_io.read_points(osp.join(seq_dir, 'velodyne', name))
        points.append(pts)
        labels.append(kitti_io.read_labels(
            osp.join(seq_dir, 'labels', name.replace('.bin', '.label')),
            len(pts)))
    calib = kitti_io.read_calib(osp.join(seq_dir, 'calib.txt'))
    poses = kitti_io.camera_to_lidar_poses(
        kitti_io.read_poses(osp.join(seq_dir, 'poses.txt'), len(names)),
        calib['Tr'])
    return points, labels, poses


def _box_distance(xyz, params):
    """(n, P) distance-like value of points to box surfaces: max over axes
    of |q_a| - h_a in the box frame (0 on the surface)."""
    q = xyz[:, None, :2] - params[None, :, :2]
    c, s = np.cos(params[:, 6]), np.sin(params[:, 6])
    lx = c * q[..., 0] + s * q[..., 1]
    ly = -s * q[..., 0] + c * q[..., 1]
    lz = xyz[:, None, 2] - params[None, :, 2]
    return np.maximum.reduce([np.abs(lx) - params[:, 3],
                              np.abs(ly) - params[:, 4],
                              np.abs(lz) - params[:, 5]])


# ---------------------------------------------------------------------------
# layout and formats
def test_layout_and_formats(synthetic_root):
    assert sorted(os.listdir(osp.join(synthetic_root, 'sequences'))) == [
        '00', '08']
    for seq in ('00', '08'):
        seq_dir = osp.join(synthetic_root, 'sequences', seq)
        assert sorted(os.listdir(seq_dir)) == [
            'calib.txt', 'labels', 'poses.txt', 'times.txt', 'velodyne']
        bins = sorted(os.listdir(osp.join(seq_dir, 'velodyne')))
        labels = sorted(os.listdir(osp.join(seq_dir, 'labels')))
        assert bins == [f'{i:06d}.bin' for i in range(10)]
        assert labels == [f'{i:06d}.label' for i in range(10)]
        calib = kitti_io.read_calib(osp.join(seq_dir, 'calib.txt'))
        np.testing.assert_array_equal(calib['Tr'], KITTI_TR)
        assert all(calib[f'P{k}'].shape == (12, ) for k in range(4))
        cam = kitti_io.read_poses(osp.join(seq_dir, 'poses.txt'))
        assert cam.shape == (10, 4, 4)
        np.testing.assert_array_equal(cam[0], np.eye(4))
        with open(osp.join(seq_dir, 'times.txt')) as f:
            times = [float(v) for v in f.read().split()]
        np.testing.assert_allclose(times, np.arange(10) * 0.1)
        points, raw, _ = _read_sequence(seq_dir)
        for pts, lab in zip(points, raw):
            assert pts.dtype == np.float32 and pts.shape[1] == 4
            assert 10000 < len(pts) <= 32 * 512
            rng = np.linalg.norm(pts[:, :3], axis=1)
            assert rng.min() >= 1.5 and rng.max() <= 80.2
            assert pts[:, 3].min() >= 0 and pts[:, 3].max() <= 0.99
            # remission is quantised to 0.01, as in KITTI
            np.testing.assert_allclose(pts[:, 3] * 100,
                                       np.round(pts[:, 3] * 100), atol=1e-3)
            assert lab.dtype == np.uint32
            assert set(np.unique(lab & 0xFFFF).tolist()) <= ALLOWED_IDS
            map_labels(lab, MOS_4CLASS)  # every id is in the MOS map


def test_file_sizes_match_point_counts(synthetic_root):
    seq_dir = osp.join(synthetic_root, 'sequences', '08')
    for i in range(10):
        nb = osp.getsize(osp.join(seq_dir, 'velodyne', f'{i:06d}.bin'))
        nl = osp.getsize(osp.join(seq_dir, 'labels', f'{i:06d}.label'))
        assert nb == 16 * (nl // 4)


def test_same_seed_gives_identical_files(tmp_path):
    a = write_sequence(str(tmp_path / 'a'), '05', 3, seed=7)
    b = write_sequence(str(tmp_path / 'b'), '05', 3, seed=7)
    c = write_sequence(str(tmp_path / 'c'), '05', 3, seed=8)
    files = ['poses.txt', 'calib.txt', 'times.txt'] + [
        f'{d}/{i:06d}.{e}' for i in range(3)
        for d, e in (('velodyne', 'bin'), ('labels', 'label'))]
    for f in files:
        assert filecmp.cmp(osp.join(a, f), osp.join(b, f), shallow=False), f
    assert not filecmp.cmp(osp.join(a, 'velodyne/000000.bin'),
                           osp.join(c, 'velodyne/000000.bin'), shallow=False)


#: SHA-256 of files of ``write_sequence(out, '05', 3, seed=7)`` as the
#: generator wrote them before ``scene.py`` was split into streets, ego
#: path, static world and agents: the split (and any later refactor) must
#: not change one byte of what a seed produces. poses.txt holds float64
#: values at full precision, whose last bits differ between CPUs (an
#: AVX2-only AMD EPYC and an AVX-512 Intel CPU write different bytes; the
#: float32 points and labels built from them are equal): its digest is
#: that of the poses rounded to 1e-10 (:func:`_rounded_poses`).
GOLDEN_SHA256 = {
    'calib.txt':
        'a64a9295f86f93e39619881ccbd7dfe64611cab54f8c55402878e6381ebfb807',
    'poses.txt':
        '07c4d5e0c13bcf2b83f3225a628303bb824661cea5ff0210cb97698af5532b9d',
    'times.txt':
        '3b2d82f3252d0a197b14586fe7f650b6d3b120f3a53378277c64f15dfad2fd1d',
    'velodyne/000002.bin':
        '53c3f0eba2bd442c1b3a6c757b57283b5d4a07c5ea729eda57647ab4e2623bd3',
    'labels/000002.label':
        '371b1c1f382aad76d687bafeece16519b4f6bffa2c9c31dd927669201555164b',
}


def _rounded_poses(path: str) -> bytes:
    """poses.txt with every value rounded to 10 decimals (-0 as 0)."""
    poses = np.round(np.loadtxt(path, ndmin=2), 10) + 0.0
    return ''.join(' '.join(f'{v:.10f}' for v in row) + '\n'
                   for row in poses).encode()


def test_seed_gives_the_files_it_gave_before_refactors(tmp_path):
    seq_dir = write_sequence(str(tmp_path), '05', 3, seed=7)
    for name, digest in GOLDEN_SHA256.items():
        path = osp.join(seq_dir, name)
        if name == 'poses.txt':
            data = _rounded_poses(path)
        else:
            with open(path, 'rb') as f:
                data = f.read()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_poses_round_trip_through_kitti_convention(tmp_path):
    sim = SyntheticSequence(5, seed=3, sequence='01')
    seq_dir = write_sequence(str(tmp_path), '01', 5, seed=3)
    _, _, lidar = _read_sequence(seq_dir)
    expected = np.linalg.inv(sim.lidar_poses[0])[None] @ sim.lidar_poses
    np.testing.assert_allclose(lidar, expected, atol=1e-9)
    # the ego vehicle moves forward along +x of the first scan
    assert lidar[-1, 0, 3] > 0 or np.allclose(lidar[-1, :3, 3], 0, atol=1.0)


# ---------------------------------------------------------------------------
# content
def test_parked_and_moving_objects_of_one_class(synthetic_root):
    for seq in ('00', '08'):
        _, raw, _ = _read_sequence(osp.join(synthetic_root, 'sequences', seq))
        for lab in raw:
            sem, inst = lab & 0xFFFF, lab >> 16
            parked = set(np.unique(inst[sem == 10]).tolist())
            moving = set(np.unique(inst[sem == 252]).tolist())
            assert parked and moving, 'parked and moving cars in every scan'
            assert not parked & moving and 0 not in parked | moving
            assert (sem == 0).sum() > 0, 'some unlabeled points'
            assert (sem >= 252).mean() > 0.01, 'enough moving points'
        all_sem = np.concatenate(raw) & 0xFFFF
        for sem_id in (254, 253, 30, 31):  # persons, cyclists
            assert (all_sem == sem_id).any(), sem_id


def test_agents_cover_speeds_and_kinds():
    sim = SyntheticSequence(60, seed=0, sequence='08')
    speeds = np.concatenate([ag.speed for ag in sim.scene.agents
                             if ag.sem == 10])
    moving = speeds[speeds > 0.2]
    assert (moving < 3.0).any() and (moving > 8.0).any(), \
        'slow and fast moving cars'
    assert (speeds == 0).any(), 'cars standing still'
    kinds = {ag.kind for ag in sim.scene.agents}
    assert {'crossing person', 'oncoming car', 'slow car',
            'walking person'} <= kinds
    # the ego vehicle stands still for a while (the hard case)
    ego_speed = np.linalg.norm(np.diff(sim.lidar_poses[:, :2, 3], axis=0),
                               axis=1) / 0.1
    assert (ego_speed < 0.05).sum() >= 5 and ego_speed.max() > 3.0


def test_moving_points_move_with_their_object(tmp_path):
    """Points of an instance, moved into its object frame with the file
    poses and the object's trajectory, lie on the object's surface at the
    scan's own time but not at the previous scan's time when it moves."""
    n = 6
    sim = SyntheticSequence(n, seed=1, sequence='08')
    seq_dir = write_sequence(str(tmp_path), '08', n, seed=1)
    points, raw, lidar = _read_sequence(seq_dir)
    L0 = sim.lidar_poses[0]
    by_inst = {ag.inst: ag for ag in sim.scene.agents}
    off = []
    parked_shift, moving_err = [], []
    for i in range(1, n):
        world = kitti_io.transform_points(points[i], L0 @ lidar[i])
        sem, inst = raw[i] & 0xFFFF, raw[i] >> 16
        for k in np.unique(inst[(sem == 252) | (sem == 254) | (sem == 253)]):
            ag = by_inst[int(k)]
            sel = inst == k
            if sel.sum() < 15:
                continue
            assert ag.moving(i)
            # on the object's surface at its pose of this scan
            assert np.median(_object_distance(world[sel, :3], ag, i)) < 0.05
            step = np.linalg.norm(ag.poses[i, :2] - ag.poses[i - 1, :2])
            if abs(ag.speed[i] - ag.speed[i - 1]) < 0.05:  # steady speed
                assert step / 0.1 == pytest.approx(ag.speed[i], rel=0.05)
            if step > 0.5:  # at the previous pose the points are off
                now = _object_distance(world[sel, :3], ag, i).mean()
                before = _object_distance(world[sel, :3], ag, i - 1).mean()
                off.append(before > 2 * now + 0.03)
        # file-only: instance centroids in the world shift by about
        # speed * 0.1 s for moving cars and stay for parked ones
        prev = kitti_io.transform_points(points[i - 1], L0 @ lidar[i - 1])
        pinst = raw[i - 1] >> 16
        for k in np.unique(inst[(sem == 252) | (sem == 10)]):
            a, b = inst == k, pinst == k
            if a.sum() < 40 or b.sum() < 40:
                continue
            shift = np.linalg.norm(world[a, :2].mean(0) - prev[b, :2].mean(0))
            if int(k) not in by_inst:  # a parked car
                parked_shift.append(shift)
            elif by_inst[int(k)].speed[i] > 4:
                moving_err.append(shift - by_inst[int(k)].speed[i] * 0.1)
    # (points on a face parallel to the motion may stay on it)
    assert len(off) >= 3 and np.mean(off) >= 0.75
    assert len(parked_shift) >= 10 and len(moving_err) >= 3
    assert np.median(parked_shift) < 0.1
    assert np.median(np.abs(moving_err)) < 0.3


def _object_distance(xyz, agent, i):
    """Distance-like value of world points to the agent's primitives at
    scan i (0 on the surface of a box / cylinder / ellipsoid)."""
    prims = agent.primitives(i, 0)
    out = np.full(len(xyz), np.inf)
    for kind, p in zip(prims.kind, prims.params):
        if kind == BOX:
            d = np.abs(_box_distance(xyz, p[None]))[:, 0]
        elif kind == CYLINDER:
            r = np.hypot(xyz[:, 0] - p[0], xyz[:, 1] - p[1]) - p[3]
            dz = np.abs(xyz[:, 2] - p[2]) - p[5]
            d = np.abs(np.maximum(r, dz))
        else:
            q = (xyz - p[:3])
            c, s = np.cos(p[6]), np.sin(p[6])
            lx, ly = c * q[:, 0] + s * q[:, 1], -s * q[:, 0] + c * q[:, 1]
            rad = np.sqrt((lx / p[3])**2 + (ly / p[4])**2 +
                          (q[:, 2] / p[5])**2)
            d = np.abs(rad - 1) * p[3:6].min()
        out = np.minimum(out, d)
    return out


def test_static_structure_stays_put_in_the_world(synthetic_root):
    """Building points of every scan, put into the world with the poses,
    lie on the scene's building boxes; wrong poses put them elsewhere."""
    seq_dir = osp.join(synthetic_root, 'sequences', '00')
    sim = SyntheticSequence(10, seed=0, sequence='00')
    points, raw, lidar = _read_sequence(seq_dir)
    static = sim.scene.static
    boxes = static.params[(static.sem == 50) & (static.kind == BOX)]
    L0 = sim.lidar_poses[0]
    for i in (0, 4, 9):
        sel = (raw[i] & 0xFFFF) == 50
        assert sel.sum() > 200
        xyz = kitti_io.transform_points(points[i][sel], L0 @ lidar[i])[:, :3]
        d = np.abs(_box_distance(xyz, boxes)).min(axis=1)
        assert np.quantile(d, 0.99) < 0.1
        # ground points lie on the road / sidewalk surface (|z| < 0.25 m)
        g = np.isin(raw[i] & 0xFFFF, (40, 48, 72))
        gz = kitti_io.transform_points(points[i][g], L0 @ lidar[i])[:, 2]
        assert np.quantile(np.abs(gz), 0.99) < 0.25
    # the check is sensitive: a pose off by half a metre misplaces them
    off = np.eye(4)
    off[:2, 3] = 0.5
    sel = (raw[9] & 0xFFFF) == 50
    xyz = kitti_io.transform_points(points[9][sel], off @ L0 @ lidar[9])
    d = np.abs(_box_distance(xyz[:, :3], boxes)).min(axis=1)
    assert np.quantile(d, 0.5) > 0.2


def test_kitti_trajectory_is_followed(tmp_path):
    """With a KITTI poses folder the ego drives along that trajectory."""
    n = 8
    yaw = np.linspace(0, 0.3, 20)
    xy = np.cumsum(np.stack([np.cos(yaw), np.sin(yaw)], 1) * 0.8, axis=0)
    lidar = np.tile(np.eye(4), (20, 1, 1))
    lidar[:, 0, 0], lidar[:, 0, 1] = np.cos(yaw), -np.sin(yaw)
    lidar[:, 1, 0], lidar[:, 1, 1] = np.sin(yaw), np.cos(yaw)
    lidar[:, :2, 3] = xy
    cam = KITTI_TR[None] @ lidar @ np.linalg.inv(KITTI_TR)[None]
    kitti_io.write_poses(str(tmp_path / 'poses' / '04' / 'poses.txt'), cam)
    seq_dir = write_sequence(str(tmp_path / 'out'), '04', n, seed=0,
                             kitti_poses_root=str(tmp_path / 'poses'),
                             kitti_start=5)
    _, _, got = _read_sequence(seq_dir)
    want = np.linalg.inv(lidar[5])[None] @ lidar[5:5 + n]
    # the synthetic body pitch / roll (< 1 degree) and road height bend the
    # relative poses by millimetres only
    np.testing.assert_allclose(got[:, :2, 3], want[:, :2, 3], atol=0.01)
    got_yaw = np.arctan2(got[:, 1, 0], got[:, 0, 0])
    want_yaw = np.arctan2(want[:, 1, 0], want[:, 0, 0])
    np.testing.assert_allclose(got_yaw, want_yaw, atol=1e-3)
    assert np.abs(want[-1, :2, 3]).max() > 4  # the window really moves
    with pytest.raises(FileNotFoundError, match='poses.txt'):
        write_sequence(str(tmp_path / 'out'), '07', n, seed=0,
                       kitti_poses_root=str(tmp_path / 'poses'))


# ---------------------------------------------------------------------------
# ray casting
def _literal_hit(o, d, kind, p):
    """Slow literal ray / primitive distance (inf = miss) for one ray."""
    cx, cy, cz, hx, hy, hz, yaw = p
    c, s = np.cos(yaw), np.sin(yaw)
    if kind == CYLINDER:
        best = np.inf
        a = d[0]**2 + d[1]**2
        b = 2 * ((o[0] - cx) * d[0] + (o[1] - cy) * d[1])
        cc = (o[0] - cx)**2 + (o[1] - cy)**2 - hx**2
        if a > 0 and b * b - 4 * a * cc >= 0 and cc > 0:
            t = (-b - np.sqrt(b * b - 4 * a * cc)) / (2 * a)
            if t > 0 and cz - hz <= o[2] + t * d[2] <= cz + hz:
                best = t
        if o[2] > cz + hz and d[2] < 0:
            t = (cz + hz - o[2]) / d[2]
            q = o + t * d
            if (q[0] - cx)**2 + (q[1] - cy)**2 <= hx**2:
                best = min(best, t)
        return best
    # boxes and ellipsoids: into the object frame
    R = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    ol = R @ (o - np.array([cx, cy, cz]))
    dl = R @ d
    h = np.array([hx, hy, hz])
    if kind == BOX:
        t0, t1 = -np.inf, np.inf
        for ax in range(3):
            if abs(dl[ax]) < 1e-12:
                if abs(ol[ax]) > h[ax]:
                    return np.inf
                continue
            ta, tb = sorted(((-h[ax] - ol[ax]) / dl[ax],
                             (h[ax] - ol[ax]) / dl[ax]))
            t0, t1 = max(t0, ta), min(t1, tb)
        return t0 if t0 <= t1 and t0 > 0 else np.inf
    os_, ds = ol / h, dl / h
    a, b, cc = ds @ ds, 2 * os_ @ ds, os_ @ os_ - 1
    disc = b * b - 4 * a * cc
    if disc < 0 or cc <= 0:
        return np.inf
    t = (-b - np.sqrt(disc)) / (2 * a)
    return t if t > 0 else np.inf


def test_nearest_hit_wins_against_a_literal_reference():
    """A small hand-made scene: boxes, cylinders and ellipsoids in front
    of each other; every ray's distance and primitive equal the nearest of
    a slow per-ray, per-primitive reference (no return behind a closer
    surface)."""
    lidar = LidarModel(num_beams=16, num_columns=128, max_range=80.0)
    prims = make_primitives(
        [BOX, BOX, CYLINDER, ELLIPSOID, CYLINDER, BOX],
        [[8, 0, 0.8, 1.0, 2.0, 0.8, 0.3],          # low box in front
         [14, 1, 3.0, 1.0, 6.0, 3.0, -0.2],        # wall behind it
         [5, -3, 2.0, 0.3, 0.3, 2.0, 0.0],         # post
         [-9, 4, 2.5, 3.0, 2.0, 1.5, 0.7],         # crown
         [-9, 4, 0.8, 0.6, 0.6, 0.8, 0.0],         # trunk under it
         [0, -12, 1.0, 20.0, 0.5, 1.0, 0.05]],     # long wall on the side
        sem=[10, 50, 80, 70, 71, 51])
    pose = np.eye(4)
    pose[:3, 3] = (0.3, 0.2, 1.73)
    cast = lidar.cast(prims, pose)
    D = lidar.dirs.reshape(-1, 3)
    t = cast['t'].reshape(-1)
    pid = cast['prim'].reshape(-1)
    for r in range(len(D)):
        ref = [_literal_hit(pose[:3, 3], D[r], k, p)
               for k, p in zip(prims.kind, prims.params)]
        best = int(np.argmin(ref))
        if np.isinf(ref[best]):
            assert pid[r] == -2 and np.isinf(t[r])
        else:
            assert pid[r] == best
            assert t[r] == pytest.approx(ref[best], abs=1e-9)
    assert len(np.unique(pid)) == 7  # all six primitives and misses


def test_no_return_behind_a_closer_surface_in_a_scan():
    """Every return of a generated scan is the first surface on its ray:
    no primitive of the scene lies closer along the point's direction."""
    sim = SyntheticSequence(3, seed=2, sequence='00')
    rng = np.random.default_rng(0)
    points, labels = sim.scan(2)
    pose = sim.lidar_poses[2]
    prims = sim.scene.primitives(2)
    keep = (labels & 0xFFFF) != 0  # outliers are spurious short returns
    idx = rng.choice(np.flatnonzero(keep), 400, replace=False)
    xyz = points[idx, :3].astype(np.float64)
    r = np.linalg.norm(xyz, axis=1)
    d_world = (xyz / r[:, None]) @ pose[:3, :3].T
    origin = pose[:3, 3]
    near = np.hypot(*(prims.params[:, :2] - origin[:2]).T) < 90
    from kdmos_plugin.synthetic.geometry import INTERSECT
    rel = prims.params.copy()
    rel[:, :3] -= origin
    closest = np.full(len(idx), np.inf)
    for k in np.flatnonzero(near):
        if prims.porosity[k] > 0 or prims.depth_jitter[k] > 0:
            continue  # see-through fences and foliage may be passed
        t, _ = INTERSECT[int(prims.kind[k])](d_world, rel[k])
        closest = np.minimum(closest, t)
    # range noise is 2 cm (std); nothing solid lies in front of a return
    assert (closest >= r - 0.15).all()
    # and the check can fail: a shortened ray would pass through a surface
    assert (closest < r + 0.5).mean() > 0.3


# ---------------------------------------------------------------------------
# command line and bad input
def test_make_synthetic_data_tool(tmp_path):
    import importlib.util
    path = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                    'make_synthetic_data.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_data', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main([str(tmp_path), '--sequences', '03', '11', '--scans', '2',
               '--seed', '4', '--preset', 'small'])
    for seq in ('03', '11'):
        seq_dir = tmp_path / 'sequences' / seq
        assert sorted(os.listdir(seq_dir / 'velodyne')) == [
            '000000.bin', '000001.bin']
        assert len(kitti_io.read_poses(str(seq_dir / 'poses.txt'))) == 2
    # the tool writes what the library writes for the same seed
    ref = write_sequence(str(tmp_path / 'ref'), '11', 2, seed=4)
    assert filecmp.cmp(osp.join(ref, 'labels', '000001.label'),
                       str(tmp_path / 'sequences/11/labels/000001.label'),
                       shallow=False)


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='unknown LiDAR preset'):
        SyntheticSequence(2, preset='huge')
    with pytest.raises(ValueError, match='num_scans'):
        SyntheticSequence(0)
    with pytest.raises(ValueError, match=r'ego trajectory must be \(3, 3\)'):
        SyntheticSequence(3, ego_xy_yaw=np.zeros((2, 3)))
    poses = tmp_path / '02' / 'poses.txt'
    kitti_io.write_poses(str(poses), np.tile(np.eye(4), (5, 1, 1)))
    with pytest.raises(ValueError, match='poses.txt: holds 5 poses'):
        write_sequence(str(tmp_path / 'out'), '02', 8,
                       kitti_poses_root=str(tmp_path))
    with pytest.raises(IndexError, match='scan 4 outside'):
        SyntheticSequence(2).scan(4)
