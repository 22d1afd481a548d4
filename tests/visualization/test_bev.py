"""Tests of the BEV pictures."""
import os.path as osp

import numpy as np
import pytest

from kdmos_plugin.datasets import kitti_io
from kdmos_plugin.visualization import (ERROR_COLORS, MOS_COLORS, BEVGrid,
                                        frame_picture, raw_to_mos,
                                        render_bev, render_errors, save_png,
                                        side_by_side)


def _literal_pixel(grid, x, y):
    """Row, column of one point, written out from the documented rule."""
    import math
    return (math.floor((grid.x_range[1] - x) / grid.resolution),
            math.floor((grid.y_range[1] - y) / grid.resolution))


def test_grid_mapping_matches_documented_rule():
    grid = BEVGrid((-10.0, 30.0), (-20.0, 20.0), 0.25)
    assert grid.shape == (160, 160)
    rng = np.random.default_rng(0)
    xy = rng.uniform(-25, 35, (300, 2))
    row, col, inside = grid.to_pixels(xy)
    for k in range(len(xy)):
        r, c = _literal_pixel(grid, *xy[k])
        assert (row[k], col[k]) == (r, c)
        assert inside[k] == (0 <= r < 160 and 0 <= c < 160)
    # forward (+x) is up, left (+y) is left
    r0, c0, _ = grid.to_pixels(np.array([[0.0, 0.0]]))
    r1, c1, _ = grid.to_pixels(np.array([[5.0, 5.0]]))
    assert r1[0] < r0[0] and c1[0] < c0[0]


def test_moving_points_have_the_moving_colour():
    grid = BEVGrid((-20, 20), (-20, 20), 0.2)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-19, 19, (500, 3))
    cls = rng.integers(0, 4, 500)
    # a static point in the same pixel as a moving one must not hide it
    pts[1] = pts[0]
    cls[0], cls[1] = 3, 1
    img = render_bev(pts, cls, grid, moving_radius=0)
    assert img.shape == (200, 200, 3) and img.dtype == np.uint8
    row, col, _ = grid.to_pixels(pts)
    mov = cls == 3
    np.testing.assert_array_equal(img[row[mov], col[mov]],
                                  np.broadcast_to(MOS_COLORS[3],
                                                  (mov.sum(), 3)))
    # a pixel holding only static points is grey
    only_static = [k for k in np.flatnonzero(cls == 1)
                   if not ((row[cls != 1] == row[k]) &
                           (col[cls != 1] == col[k])).any()]
    assert only_static
    np.testing.assert_array_equal(img[row[only_static], col[only_static]],
                                  np.broadcast_to(MOS_COLORS[1],
                                                  (len(only_static), 3)))
    # pixels without points stay black
    empty = np.ones((200, 200), bool)
    empty[row, col] = False
    assert (img[empty] == 0).all()


def test_error_colours_where_false_positives_and_negatives_are():
    grid = BEVGrid((-10, 10), (-10, 10), 0.5)
    pts = np.array([[5.0, 5.0, 0], [-5.0, 5.0, 0], [5.0, -5.0, 0],
                    [-5.0, -5.0, 0], [0.0, 8.0, 0], [8.0, 0.0, 0]])
    gt = np.array([3, 1, 3, 2, 0, 1])
    pred = np.array([3, 3, 1, 2, 3, 0])
    img = render_errors(pts, gt, pred, grid, radius=0)
    row, col, _ = grid.to_pixels(pts)
    colours = [tuple(img[r, c]) for r, c in zip(row, col)]
    assert colours[0] == ERROR_COLORS['tp']
    assert colours[1] == ERROR_COLORS['fp']     # static predicted moving
    assert colours[2] == ERROR_COLORS['fn']     # moving predicted static
    assert colours[3] == ERROR_COLORS['other']  # movable, right
    assert colours[4] == ERROR_COLORS['unlabeled']  # ignored, even if moving
    assert colours[5] == ERROR_COLORS['other']  # predicted unlabeled: no FP
    with pytest.raises(ValueError, match='differ in length'):
        render_errors(pts, gt[:3], pred, grid)


def test_raw_labels_map_to_mos_classes():
    raw = np.array([0, 40, 10, 252, 254 | (7 << 16), 9, 250, 251],
                   dtype=np.uint32)
    np.testing.assert_array_equal(raw_to_mos(raw), [0, 1, 2, 3, 3, 1, 2, 3])


def test_side_by_side_and_png_round_trip(tmp_path):
    import cv2
    a = np.zeros((20, 30, 3), np.uint8)
    b = np.full((20, 10, 3), 7, np.uint8)
    b[3, 4] = (200, 10, 20)
    img = side_by_side([a, b], gap=2)
    assert img.shape == (20, 42, 3)
    assert (img[:, 30:32] == 255).all()
    path = save_png(str(tmp_path / 'x' / 'pic.png'), img)
    back = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(back, img)  # RGB order kept
    with pytest.raises(ValueError, match='differ in height'):
        side_by_side([a, np.zeros((5, 5, 3), np.uint8)])


def test_frame_picture_of_a_synthetic_frame(synthetic_root, tmp_path):
    seq_dir = osp.join(synthetic_root, 'sequences', '08')
    points = kitti_io.read_points(osp.join(seq_dir, 'velodyne',
                                           '000003.bin'))
    raw = kitti_io.read_labels(osp.join(seq_dir, 'labels', '000003.label'))
    gt = raw_to_mos(raw)
    # a prediction that misses the first half of the moving points and
    # calls some static points moving
    pred = gt.copy()
    mov = np.flatnonzero(gt == 3)
    pred[mov[:len(mov) // 2]] = 1
    grid = BEVGrid((-30, 30), (-30, 30), 0.2)
    row, col, inside = grid.to_pixels(points)
    below_title = inside & (row > 40)
    stat = np.flatnonzero((gt == 1) & below_title)[::50]
    assert len(stat) > 20
    pred[stat] = 3
    pred_raw = np.array([0, 9, 250, 251], np.uint32)[pred]
    pred_path = str(tmp_path / '000003.label')
    kitti_io.write_labels(pred_path, pred_raw)
    img = frame_picture(seq_dir, 3, pred_path, grid=grid)
    H, W = grid.shape
    assert img.shape == (H, 3 * W + 2 * 4, 3)
    gt_panel, err_panel = img[:, :W], img[:, 2 * (W + 4):]
    missed = mov[:len(mov) // 2]
    missed = missed[below_title[missed]]
    assert len(missed) > 10
    # the ground-truth panel is red at every moving point
    vis = mov[below_title[mov]]
    assert (gt_panel[row[vis], col[vis]] == MOS_COLORS[3]).all()
    # missed moving points are false negatives (painted last: exact)
    assert (err_panel[row[missed], col[missed]] == ERROR_COLORS['fn']).all()
    colours = [tuple(c) for c in err_panel[row[stat], col[stat]]]
    assert colours.count(ERROR_COLORS['fp']) > len(stat) // 2
