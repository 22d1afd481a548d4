"""BEV height residuals against slow, literal loop versions of docs/METHOD.md 1.5
(reference mode) and of the documented causal channel table."""
import math
import os.path as osp

import numpy as np
import pytest
import torch

from kdmos_plugin.datasets.bev_residuals import (CAUSAL_CHANNELS,
                                                 causal_residuals,
                                                 iter_reference_residuals,
                                                 reference_residuals)
from kdmos_plugin.datasets.kitti_io import (camera_to_lidar_poses,
                                            read_calib, read_points,
                                            read_poses, transform_points)

H, W = 360, 480


# ------------------------------------------------------------ literal code
def lit_cell(x, y, z):
    """(row, col) of a point or None if it is not used (docs/METHOD.md 1.5)."""
    r = math.sqrt(x * x + y * y + z * z)
    if not (0 < r < 60 and -4 < z < 2):
        return None
    col = min(math.floor((1 - r / 60) * 480), 479)  # 480 when r < 1e-14
    row = min(math.floor(0.5 * (math.atan2(y, x) / math.pi + 1) * 360), 359)
    return row, col


def lit_image(scans):
    """dz image as a dict {(row, col): dz} and, per row, the first
    observed column."""
    zs = {}
    for pts in scans:
        for x, y, z in pts:
            c = lit_cell(x, y, z)
            if c is not None:
                zs.setdefault(c, []).append(z)
    dz = {c: max(v) - min(v) for c, v in zs.items()}
    # per row, the first column with dz != 0 seen from the far end (col 0);
    # the cells before it are unobserved (W: the whole row)
    first = [W] * H
    for (row, col), v in dz.items():
        if v != 0:
            first[row] = min(first[row], col)
    return dz, first


def lit_residual(cell, img_a, img_b):
    """Residual of a point of sub-map A at ``cell`` against sub-map B."""
    if cell is None:
        return 0.0
    a, b = img_a[0].get(cell, 0.0), img_b[0].get(cell, 0.0)
    if b > 0.2 * a or a < 0.4 or a > 4 or cell[1] < img_b[1][cell[0]]:
        return 0.0
    return a - b


def lit_move(pts, T):
    out = []
    for x, y, z in pts[:, :3].astype(np.float64):
        v = T @ np.array([x, y, z, 1.0])
        out.append((v[0], v[1], v[2]))
    return out


def literal_reference_sequence(scans, poses):
    """The published generator: slide a window over the whole sequence and
    add each point's residual into column (window end - scan index)."""
    S = len(scans)
    out = [np.zeros((len(s), 8)) for s in scans]
    for e in range(7, S):
        moved = {j: lit_move(scans[j], np.linalg.inv(poses[e]) @ poses[j])
                 for j in range(e - 7, e + 1)}
        prev = lit_image([moved[j] for j in range(e - 7, e - 3)])
        last = lit_image([moved[j] for j in range(e - 3, e + 1)])
        for j in range(e - 7, e + 1):
            for n, p in enumerate(moved[j]):
                cell = lit_cell(*p)
                if j >= e - 3:  # newer group: appearance
                    out[j][n, e - j] += lit_residual(cell, last, prev)
                else:  # older group: disappearance
                    out[j][n, e - j] += lit_residual(cell, prev, last)
    return out


def literal_causal(aligned_by_age):
    """Causal channels of the current scan from aligned scans of ages 0..7."""
    images = {}
    cur = [tuple(map(float, p)) for p in aligned_by_age[0][:, :3]]
    out = np.zeros((len(cur), len(CAUSAL_CHANNELS)))
    for c, (ga, gb) in enumerate(CAUSAL_CHANNELS):
        for g in (ga, gb):
            if g not in images:
                images[g] = lit_image([
                    [tuple(map(float, p)) for p in aligned_by_age[a][:, :3]]
                    for a in range(g[0], g[1] + 1)])
        for n, p in enumerate(cur):
            out[n, c] = lit_residual(lit_cell(*p), images[ga], images[gb])
    return out


# ------------------------------------------------------------------ tests
def _sequence(root, seq):
    seq_dir = osp.join(root, 'sequences', seq)
    cam = read_poses(osp.join(seq_dir, 'poses.txt'))
    poses = camera_to_lidar_poses(cam, read_calib(
        osp.join(seq_dir, 'calib.txt'))['Tr'])
    scans = [read_points(osp.join(seq_dir, 'velodyne', f'{i:06d}.bin'))
             for i in range(len(cam))]
    return scans, poses


def test_reference_mode_equals_literal_generator(tiny_kitti_root):
    scans, poses = _sequence(tiny_kitti_root, '08')
    S = len(scans)
    want = literal_reference_sequence(scans, poses)
    pose_map = dict(enumerate(poses))
    for t in range(S):
        got = reference_residuals(scans.__getitem__, pose_map, t, S).numpy()
        assert got.shape == (len(scans[t]), 8) and got.dtype == np.float32
        np.testing.assert_allclose(got, want[t], rtol=0, atol=1e-5,
                                   err_msg=f'frame {t}')
        for k in range(8):  # columns without a window stay zero
            if not 7 <= t + k < S:
                assert not got[:, k].any()
    # the sequential generator (each window once) gives the same values
    reads = []

    def get(j):
        reads.append(j)
        return scans[j]

    seq = list(iter_reference_residuals(get, pose_map, S))
    assert [j for j, _ in seq] == list(range(S))
    for j, feats in seq:
        np.testing.assert_allclose(feats.numpy(), want[j], rtol=0, atol=1e-5)
    assert sorted(reads) == list(range(S))  # every scan read once
    allv = np.concatenate(want)
    # the test can fail: both kinds of evidence occur
    assert (allv[:, :4] > 0).sum() > 20 and (allv[:, 4:] > 0).sum() > 20
    assert ((allv == 0) | ((allv > 0.3) & (allv <= 4))).all()


def test_reference_mode_only_reads_its_window(tiny_kitti_root):
    scans, poses = _sequence(tiny_kitti_root, '08')
    used = set()

    def get(j):
        used.add(j)
        return scans[j]

    reference_residuals(get, dict(enumerate(poses)), 3, len(scans))
    assert used == set(range(0, 11))  # windows 7..10 -> scans 0..10


def test_causal_mode_equals_literal(tiny_kitti_root):
    scans, poses = _sequence(tiny_kitti_root, '08')
    checked_nonzero = 0
    for t in (2, 9, 15):
        aligned = [transform_points(scans[max(t - a, 0)],
                                    np.linalg.inv(poses[t]) @
                                    poses[max(t - a, 0)])
                   for a in range(8)]
        merged = np.concatenate(aligned)
        ages = np.concatenate([np.full(len(s), a)
                               for a, s in enumerate(aligned)])
        got = causal_residuals(torch.from_numpy(merged),
                               torch.from_numpy(ages), len(scans[t])).numpy()
        want = literal_causal(aligned)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5,
                                   err_msg=f'frame {t}')
        checked_nonzero += int((want != 0).sum())
    assert checked_nonzero > 20


def test_causal_channel_zero_is_reference_column_zero(tiny_kitti_root):
    scans, poses = _sequence(tiny_kitti_root, '08')
    t = 12
    ref = reference_residuals(scans.__getitem__, dict(enumerate(poses)), t,
                              len(scans)).numpy()
    aligned = [transform_points(scans[t - a].astype(np.float64),
                                np.linalg.inv(poses[t]) @ poses[t - a])
               for a in range(8)]
    ages = np.concatenate([np.full(len(s), a) for a, s in enumerate(aligned)])
    got = causal_residuals(np.concatenate(aligned), ages,
                           len(scans[t])).numpy()
    np.testing.assert_allclose(got[:, 0], ref[:, 0], atol=1e-5)
    assert (ref[:, 0] > 0).any()


def test_causal_needs_all_ages():
    xyz = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r'ages \[5, 6, 7\] are missing'):
        causal_residuals(xyz, np.array([0, 1, 2, 3, 4]), 1)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_image_cells_exact_at_borders(dtype):
    """Points on and next to every kind of border get the float64 cells."""
    from kdmos_plugin.datasets.bev_residuals import image_cells
    rng = np.random.default_rng(7)
    k = rng.integers(0, 481, 400)
    r = 60.0 * (1 - k / 480)  # range on column borders (incl. 0 and 60 m)
    a = rng.uniform(-np.pi, np.pi, 400)
    j = rng.integers(0, 361, 400)
    phi = (2 * j / 360 - 1) * np.pi  # yaw on row borders (incl. +-pi)
    pts = [np.stack([r * np.cos(a) * 0.99, r * np.sin(a) * 0.99,
                     0.1 * r], 1),
           np.stack([20 * np.cos(phi), 20 * np.sin(phi),
                     rng.uniform(-5, 3, 400)], 1),
           np.array([[0.0, 0.0, 0.0], [-10.0, 0.0, 0.0], [-10.0, -0.0, 1.0],
                     [30.0, 1.0, -4.0], [30.0, 1.0, 2.0],
                     [30.0, 1.0, np.nextafter(-4.0, 0)],
                     [30.0, 1.0, np.nextafter(2.0, 0)],
                     [60.0, 0.0, 0.0], [np.nextafter(60.0, 0), 0.0, 0.0]])]
    pts = np.concatenate(pts).astype(dtype)
    # nudge copies by one ulp both ways
    pts = np.concatenate([pts, np.nextafter(pts, np.inf).astype(dtype),
                          np.nextafter(pts, -np.inf).astype(dtype)])
    cell, valid = image_cells(torch.from_numpy(pts))
    want = [lit_cell(*map(float, p)) for p in pts]
    assert valid.numpy().tolist() == [w is not None for w in want]
    got = cell.numpy()
    for g, w in zip(got, want):
        if w is not None:
            assert g == w[0] * W + w[1]
    assert 0 <= got.min() and got.max() < H * W
