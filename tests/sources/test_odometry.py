"""KISS-ICP odometry on a static scene with known sensor poses."""
import math

import numpy as np

from kdmos_plugin.sources import Odometry, get_profile


def _yaw(yaw, x, y):
    c, s = math.cos(yaw), math.sin(yaw)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    pose[:3, 3] = [x, y, 1.7]
    return pose


def _world(rng, n):
    """Points on a street: ground, two facades with recesses, poles, boxes
    (fresh samples of the same surfaces at every call)."""
    parts = [np.stack([rng.uniform(-40, 80, n), rng.uniform(-12, 12, n),
                       np.zeros(n)], 1)]
    for side in (-12.0, 12.0):
        x = rng.uniform(-40, 80, n)
        depth = np.where((x // 7) % 2 == 0, 0.0, 1.5 * np.sign(side))
        parts.append(np.stack([x, side + depth, rng.uniform(0, 8, n)], 1))
    for k in range(24):  # poles and tree trunks at both kerbs
        cx, cy = -35 + 5 * k + 2 * (k % 3), (-1) ** k * (6.0 + k % 4)
        m = n // 30
        a = rng.uniform(0, 2 * np.pi, m)
        parts.append(np.stack([cx + 0.3 * np.cos(a), cy + 0.3 * np.sin(a),
                               rng.uniform(0, 4, m)], 1))
    return np.concatenate(parts)


def _scan(rng, pose, n=4000):
    world = _world(rng, n)
    local = (world - pose[:3, 3]) @ pose[:3, :3]
    keep = np.linalg.norm(local[:, :2], axis=1) < 45
    local = local[keep] + rng.normal(0, 0.01, local[keep].shape)
    return np.concatenate([local, rng.random((len(local), 1))], 1)


def _rel_errors(est, gt):
    t_err, r_err = [], []
    for i in range(1, len(gt)):
        d_gt = np.linalg.inv(gt[i - 1]) @ gt[i]
        d_est = np.linalg.inv(est[i - 1]) @ est[i]
        err = np.linalg.inv(d_gt) @ d_est
        t_err.append(np.linalg.norm(err[:3, 3]))
        r_err.append(math.degrees(math.acos(
            np.clip((np.trace(err[:3, :3]) - 1) / 2, -1, 1))))
    return np.array(t_err), np.array(r_err)


def test_odometry_follows_driving_turning_and_standing():
    rng = np.random.default_rng(0)
    # drive 1 m a scan, turn, then stand still for 4 scans
    gt = [_yaw(0.0, 0.0, 0.0)]
    for i in range(1, 16):
        step = 0.0 if i >= 12 else 1.0
        yaw = math.atan2(gt[-1][1, 0], gt[-1][0, 0]) + (0.03 if 5 <= i < 12
                                                        else 0.0)
        x = gt[-1][0, 3] + step * math.cos(yaw)
        y = gt[-1][1, 3] + step * math.sin(yaw)
        gt.append(_yaw(yaw, x, y))
    gt = np.linalg.inv(gt[0])[None] @ np.stack(gt)
    odom = Odometry.for_profile(get_profile('hdl64e'), max_range=50.0,
                                voxel_size=0.3)
    est = np.stack([odom.register(_scan(rng, pose)) for pose in gt])
    np.testing.assert_allclose(est[0], np.eye(4), atol=1e-9)
    t_err, r_err = _rel_errors(est, gt)
    assert t_err.max() < 0.1, t_err  # of 1 m steps; seeds 0-2: 3-7 cm
    assert r_err.max() < 0.3, r_err
    # standing still: no drift over the last scans
    assert np.linalg.norm(est[-1][:3, 3] - est[12][:3, 3]) < 0.05


def test_a_scan_without_points_keeps_the_motion(caplog):
    rng = np.random.default_rng(1)
    gt = [_yaw(0.0, float(i), 0.0) for i in range(4)]
    odom = Odometry(max_range=60.0)
    for pose in gt[:3]:
        odom.register(_scan(rng, pose))
    before = odom.pose
    pose = odom.register(np.zeros((3, 4)))  # a dropped scan
    step = np.linalg.inv(gt[1]) @ gt[2]
    np.testing.assert_allclose(pose, before @ step, atol=0.05)
    assert odom.count == 4
    odom.reset()
    assert odom.count == 0
    np.testing.assert_allclose(odom.pose, np.eye(4))
