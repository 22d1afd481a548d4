"""Bird's-eye-view (BEV) pictures of scans, labels and predictions.

All pictures are ``(H, W, 3)`` uint8 RGB arrays on a black background.

Metres-to-pixel mapping (:class:`BEVGrid`): the picture looks down on the
LiDAR frame with +x (forward) pointing up and +y (left) pointing left, the
sensor at the centre for symmetric ranges. A point ``(x, y)`` [m] falls in

    row = floor((x_max - x) / resolution)
    col = floor((y_max - y) / resolution)

so ``H = (x_max - x_min) / resolution`` and ``W = (y_max - y_min) /
resolution``; points outside the ranges are not drawn.

Colours (4-class MOS ids, see :data:`MOS_COLORS`): static grey, movable
(a car, person or cyclist that does not move) blue, moving red, unlabeled
dim grey. Error pictures (:func:`render_errors`) colour moving points by
outcome: true positive green, false positive (predicted moving, not moving)
orange, false negative (moving, not predicted moving) magenta.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from ..datasets.label_map import MOS_4CLASS, map_labels

#: RGB colour of each 4-class MOS id: 0 unlabeled, 1 static, 2 movable,
#: 3 moving.
MOS_COLORS = np.array([[70, 70, 70], [175, 175, 175], [40, 120, 255],
                       [255, 30, 30]], dtype=np.uint8)
#: RGB colours of the error picture.
ERROR_COLORS = dict(
    unlabeled=(50, 50, 50),
    other=(120, 120, 120),     # labelled, neither predicted nor truly moving
    tp=(40, 220, 40),          # moving, predicted moving
    fp=(255, 150, 0),          # predicted moving, not moving
    fn=(255, 0, 255),          # moving, predicted not moving
)
MOVING = 3
UNLABELED = 0


@dataclass
class BEVGrid:
    """The metres-to-pixel mapping of a BEV picture.

    Attributes:
        x_range: (x_min, x_max) forward extent [m] (picture rows, +x up).
        y_range: (y_min, y_max) lateral extent [m] (columns, +y left).
        resolution: Metres a pixel.
    """
    x_range: Tuple[float, float] = (-50.0, 50.0)
    y_range: Tuple[float, float] = (-50.0, 50.0)
    resolution: float = 0.1

    @property
    def shape(self) -> Tuple[int, int]:
        """(H, W) of the picture in pixels."""
        return (int(round((self.x_range[1] - self.x_range[0])
                          / self.resolution)),
                int(round((self.y_range[1] - self.y_range[0])
                          / self.resolution)))

    def to_pixels(self, xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray,
                                                 np.ndarray]:
        """Pixel of each point.

        Args:
            xy: (N, >=2) points; columns 0 and 1 are x, y [m].

        Returns:
            tuple: (N,) int64 rows, (N,) int64 columns, (N,) bool inside
            the picture.
        """
        xy = np.asarray(xy, dtype=np.float64)
        row = np.floor((self.x_range[1] - xy[:, 0]) / self.resolution)
        col = np.floor((self.y_range[1] - xy[:, 1]) / self.resolution)
        H, W = self.shape
        inside = (row >= 0) & (row < H) & (col >= 0) & (col < W)
        return row.astype(np.int64), col.astype(np.int64), inside


def raw_to_mos(raw_labels: np.ndarray, path: Optional[str] = None
               ) -> np.ndarray:
    """Raw SemanticKITTI labels (or raw predictions 0/9/250/251) to the
    4-class MOS ids (N,) int64."""
    return map_labels(raw_labels, MOS_4CLASS, path)


def _paint(image, grid, points, mask, color, radius):
    row, col, inside = grid.to_pixels(points[mask])
    row, col = row[inside], col[inside]
    H, W = image.shape[:2]
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = row + dr, col + dc
            ok = (r >= 0) & (r < H) & (c >= 0) & (c < W)
            image[r[ok], c[ok]] = color


def render_bev(points: np.ndarray, classes: Optional[np.ndarray] = None,
               grid: Optional[BEVGrid] = None, moving_radius: int = 1,
               colors: np.ndarray = MOS_COLORS) -> np.ndarray:
    """A BEV picture of one scan coloured by MOS class.

    Classes are painted in the order unlabeled, static, movable, moving,
    so a moving point is never hidden by a static one in the same pixel;
    moving points are drawn as squares of ``2 * moving_radius + 1``
    pixels.

    Args:
        points: (N, >=2) x, y [m] in the LiDAR frame.
        classes: (N,) 4-class MOS ids (0..3); ``None`` draws every point
            as static.
        grid: The metres-to-pixel mapping (default 100 m x 100 m at
            0.1 m a pixel).
        moving_radius: Extra pixels around each moving point.
        colors: (4, 3) uint8 colour of each class.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB picture.
    """
    grid = grid or BEVGrid()
    points = np.asarray(points)
    if classes is None:
        classes = np.ones(len(points), dtype=np.int64)
    classes = np.asarray(classes)
    if len(classes) != len(points):
        raise ValueError(f'{len(classes)} class ids for {len(points)} '
                         f'points')
    if len(classes) and (classes.min() < 0 or classes.max() > 3):
        raise ValueError('class ids must be 4-class MOS ids 0..3')
    image = np.zeros(grid.shape + (3,), dtype=np.uint8)
    for c in (0, 1, 2, 3):
        _paint(image, grid, points, classes == c, colors[c],
               moving_radius if c == MOVING else 0)
    return image


def render_errors(points: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                  grid: Optional[BEVGrid] = None,
                  radius: int = 1) -> np.ndarray:
    """A BEV picture of the moving-class errors of a prediction.

    As in the official MOS metric, ground-truth unlabeled points are
    ignored (drawn dim), and a prediction counts as moving only if it is
    class 3.

    Args:
        points: (N, >=2) x, y [m].
        gt: (N,) ground-truth 4-class ids.
        pred: (N,) predicted 4-class ids.
        grid: The metres-to-pixel mapping.
        radius: Extra pixels around true / false positive / negative
            points.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB picture.
    """
    grid = grid or BEVGrid()
    gt, pred = np.asarray(gt), np.asarray(pred)
    if not len(gt) == len(pred) == len(points):
        raise ValueError(f'points ({len(points)}), ground truth ({len(gt)}) '
                         f'and prediction ({len(pred)}) differ in length')
    labelled = gt != UNLABELED
    gt_mov = labelled & (gt == MOVING)
    pr_mov = labelled & (pred == MOVING)
    image = np.zeros(grid.shape + (3,), dtype=np.uint8)
    _paint(image, grid, points, ~labelled, ERROR_COLORS['unlabeled'], 0)
    _paint(image, grid, points, labelled & ~gt_mov & ~pr_mov,
           ERROR_COLORS['other'], 0)
    _paint(image, grid, points, gt_mov & pr_mov, ERROR_COLORS['tp'], radius)
    _paint(image, grid, points, pr_mov & ~gt_mov, ERROR_COLORS['fp'], radius)
    _paint(image, grid, points, gt_mov & ~pr_mov, ERROR_COLORS['fn'], radius)
    return image


def add_title(image: np.ndarray, title: str, scale: float = 0.6
              ) -> np.ndarray:
    """A copy of ``image`` with ``title`` written in its top-left corner."""
    import cv2
    out = np.ascontiguousarray(image.copy())
    thick = max(1, int(round(scale * 2)))
    cv2.putText(out, title, (8, int(24 * scale / 0.6)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    return out


def side_by_side(images: Sequence[np.ndarray],
                 titles: Optional[Sequence[str]] = None,
                 gap: int = 4) -> np.ndarray:
    """Pictures of the same height next to each other.

    Args:
        images: (H, W_i, 3) uint8 pictures.
        titles: Optional title of each picture.
        gap: White pixels between pictures.

    Returns:
        np.ndarray: (H, sum W_i + gap * (n - 1), 3) uint8.
    """
    if not images:
        raise ValueError('no pictures to put side by side')
    H = images[0].shape[0]
    if any(im.shape[0] != H for im in images):
        raise ValueError('pictures differ in height: '
                         f'{[im.shape for im in images]}')
    parts = []
    for k, im in enumerate(images):
        if titles is not None and titles[k]:
            im = add_title(im, titles[k])
        if k:
            parts.append(np.full((H, gap, 3), 255, dtype=np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)


def save_png(path: str, image: np.ndarray) -> str:
    """Write an (H, W, 3) uint8 RGB picture as PNG (folders are created).

    Returns:
        str: The path.
    """
    import cv2
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'{path}: expected an (H, W, 3) uint8 picture, got '
                         f'{image.shape} {image.dtype}')
    path = os.fspath(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'{path}: could not write the PNG')
    return path


def frame_picture(seq_dir: str, frame: int,
                  pred_path: Optional[str] = None, with_labels: bool = True,
                  grid: Optional[BEVGrid] = None) -> np.ndarray:
    """The BEV picture of one frame of a sequence folder.

    Panels, left to right: the ground truth (``labels/NNNNNN.label``, if
    ``with_labels`` and the file exists, else the bare scan in grey); with
    ``pred_path`` (a ``.label`` file of raw predictions 0/9/250/251 or raw
    SemanticKITTI ids) the prediction, and with both the error picture.

    Args:
        seq_dir: Sequence folder holding ``velodyne/`` (and ``labels/``).
        frame: Frame number (``NNNNNN``).
        pred_path: Optional predictions ``.label`` file of that frame.
        with_labels: Draw the ground-truth labels if they exist.
        grid: The metres-to-pixel mapping.

    Returns:
        np.ndarray: (H, W_total, 3) uint8 RGB picture.
    """
    from ..datasets import kitti_io
    grid = grid or BEVGrid()
    points = kitti_io.read_points(
        osp.join(seq_dir, 'velodyne', f'{frame:06d}.bin'))
    label_path = osp.join(seq_dir, 'labels', f'{frame:06d}.label')
    gt = None
    if with_labels and osp.isfile(label_path):
        gt = raw_to_mos(kitti_io.read_labels(label_path, len(points)),
                        label_path)
    panels = [render_bev(points, gt, grid)]
    name = osp.basename(osp.normpath(seq_dir))
    titles = [f'{name} {frame:06d}: ' + (
        f'ground truth, {len(points)} points' if gt is not None
        else f'scan, {len(points)} points')]
    if pred_path is not None:
        pred = raw_to_mos(kitti_io.read_labels(pred_path, len(points)),
                          pred_path)
        panels.append(render_bev(points, pred, grid))
        titles.append('prediction')
        if gt is not None:
            panels.append(render_errors(points, gt, pred, grid))
            titles.append('moving: TP green, FP orange, FN magenta')
    return side_by_side(panels, titles)
