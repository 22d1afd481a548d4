"""BEV height-difference residuals: the 8 motion channels (docs/METHOD.md 1.5).

**Residual image.** A polar height image of H = 360 yaw rows by W = 480
range columns: range is the 3-D norm over 0-60 m, ``col = floor((1 - r / 60)
* 480)`` (column 0 = far end; clamped to 479 for ``r < 1e-14 m``),
``row = floor((phi / pi + 1) / 2 * 360)`` (clamped to 359 for
``phi == pi``). Only points with ``0 < r < 60`` and
``-4 < z < 2`` enter. A cell's value is ``dz = max z - min z`` of its points
(0 for empty or single-point cells). A cell is *unobserved* if it lies
between the far end of its row and the row's first cell with ``dz != 0``.

**Residual.** For two sub-maps A (the one the point belongs to) and B::

    r = dz_A - dz_B   at the point's cell, set to 0 where
        dz_B > 0.2 * dz_A  or  dz_A < 0.4  or  dz_A > 4  or  unobserved in B

Points outside the image (range or z out of bounds) get 0. Values are 0 or
roughly in [0.32, 4] m, not normalised.

**Reference channels** (:func:`reference_residuals`, the published features,
non-causal). A window ending at scan ``e`` (``7 <= e < S``) holds the "prev"
sub-map scans ``e-7..e-4`` and the "last" sub-map ``e-3..e``, all moved into
the frame of ``e`` with ``inv(P_e) @ P_j``. For scan ``t`` column ``k``
(0..7) is the comparison of window ``e = t + k``:

* ``k = 0..3`` (scan ``t`` in "last"): appearance residual, A = last,
  B = prev;
* ``k = 4..7`` (scan ``t`` in "prev"): disappearance residual, A = prev,
  B = last.

Columns whose window does not exist (``e < 7`` or ``e >= S``) stay 0, as in
the published files; columns 1-7 use scans up to ``t + 7``.

**Causal channels** (:func:`causal_residuals`, online, past scans only).
With the scans of ages 0..7 (0 = current scan ``t``, age ``a`` = scan
``t - a``, clamped at the sequence start) in the frame of scan ``t``, every
channel is an *appearance* residual of the current scan (A = a group holding
scan ``t``, B = an older group), with the group pairs of
:data:`CAUSAL_CHANNELS`:

====  ===========  ===========  =======================================
ch    A (ages)     B (ages)     meaning
====  ===========  ===========  =======================================
0     0-3          4-7          4 vs 4 scans, 4-scan gap: exactly the
                                reference column 0 (for ``t >= 7``)
1     0-1          2-3          2 vs 2 scans, gap 2 (0.2 s at 10 Hz)
2     0-1          4-5          2 vs 2 scans, gap 4
3     0-1          6-7          2 vs 2 scans, gap 6
4     0            1            current scan vs 1 scan back
5     0            2            current scan vs 2 scans back
6     0            4            current scan vs 4 scans back
7     0            7            current scan vs 7 scans back
====  ===========  ===========  =======================================

Fast objects show in short gaps, slow ones in long gaps; single-scan groups
are sharp but sparse, 2- and 4-scan groups dense. Disappearance evidence is
impossible for current points without future scans, so no channel uses it.

The fast path linearises (group, row, col) into one int64 key and reduces z
with ``Tensor.scatter_reduce_`` (``amax`` / ``amin``); per-age images are
built once and combined by element-wise max / min, so the causal features
cost one pass over the merged points.
"""
import math
from typing import (Callable, Dict, Iterator, Mapping, Optional,
                    Sequence, Tuple)

import numpy as np
import torch
from torch import Tensor

from .kitti_io import relative_pose

#: Residual image rows (yaw bins) and columns (range bins).
IMAGE_H, IMAGE_W = 360, 480
#: Range [m] covered by the image (3-D norm) and the z band [m] used.
MAX_RANGE, Z_MIN, Z_MAX = 60.0, -4.0, 2.0
#: Residual thresholds: ratio, min and max height difference [m].
RATIO, MIN_DZ, MAX_DZ = 0.2, 0.4, 4.0
#: Scans in each sub-map of the reference windows.
NUM_PREV, NUM_LAST = 4, 4
#: Number of motion channels.
NUM_CHANNELS = 8

#: Causal channels: ((A ages lo, hi), (B ages lo, hi)), inclusive.
CAUSAL_CHANNELS: Tuple[Tuple[Tuple[int, int], Tuple[int, int]], ...] = (
    ((0, 3), (4, 7)),
    ((0, 1), (2, 3)),
    ((0, 1), (4, 5)),
    ((0, 1), (6, 7)),
    ((0, 0), (1, 1)),
    ((0, 0), (2, 2)),
    ((0, 0), (4, 4)),
    ((0, 0), (7, 7)),
)
#: Scans (ages 0..7) the causal channels need.
CAUSAL_NUM_SCANS = 1 + max(b[1] for _, b in CAUSAL_CHANNELS)


def _as_tensor(x, dtype=None) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))
    return t if dtype is None else t.to(dtype)


#: Half-width (in cells / metres) of the band around a cell border inside
#: which :func:`image_cells` recomputes a point in float64.
_BORDER_EPS = 1e-3


def _cells_float64(x: Tensor, y: Tensor, z: Tensor) -> Tuple[Tensor, Tensor]:
    """The literal float64 cell formula of the module docstring."""
    rng = torch.sqrt(x * x + y * y + z * z)
    valid = (rng > 0) & (rng < MAX_RANGE) & (z > Z_MIN) & (z < Z_MAX)
    col = torch.floor((1 - rng / MAX_RANGE) * IMAGE_W).long().clamp_(
        0, IMAGE_W - 1)
    row = torch.floor(0.5 * (torch.atan2(y, x) / math.pi + 1) *
                      IMAGE_H).long().clamp_(0, IMAGE_H - 1)
    return row * IMAGE_W + col, valid


def image_cells(xyz: Tensor) -> Tuple[Tensor, Tensor]:
    """Residual-image cell of each point.

    The cells are those of the float64 formula (module docstring); they are
    computed in float32 (``atan2`` is about 10x faster) and the points
    lying within ``1e-3`` cells of a cell border (this includes the 0 and
    60 m range limits) or, for float64 input, of the z limits are
    recomputed in float64.

    Args:
        xyz: (N, >=3) x, y, z [m] in the frame of the image's scan.

    Returns:
        tuple: ``cell`` (N,) int64 ``row * W + col`` and ``valid`` (N,) bool
        (``0 < range < 60`` and ``-4 < z < 2``); ``cell`` of invalid points
        is clamped into the image but must be ignored.
    """
    cols = xyz[:, :3].to(torch.float32).T.contiguous()  # (3, N)
    x, y, z = cols[0], cols[1], cols[2]
    rng = torch.addcmul(torch.addcmul(x * x, y, y), z, z).sqrt_()
    # the range limits 0 and 60 m are the column borders 480 and 0, so
    # points near them are in the border band below and get recomputed
    valid = (rng < MAX_RANGE) & (z > Z_MIN) & (z < Z_MAX)
    colf = rng.mul_(-IMAGE_W / MAX_RANGE).add_(IMAGE_W)
    rowf = torch.atan2(y, x).mul_(IMAGE_H / (2 * math.pi)).add_(IMAGE_H / 2)
    col, row = colf.floor(), rowf.floor()
    eps = _BORDER_EPS
    near = colf.sub_(col).sub_(0.5).abs_() > 0.5 - eps
    near |= rowf.sub_(row).sub_(0.5).abs_() > 0.5 - eps
    if xyz.dtype != torch.float32:  # z was rounded to float32
        near |= (z - Z_MIN).abs_() < eps
        near |= (z - Z_MAX).abs_() < eps
    # rows are in [0, 360]; 360 (phi = pi) lies in the border band
    cell = row.mul_(IMAGE_W).add_(col.clamp_(min=0)).long()
    idx = near.nonzero().squeeze(1)
    if idx.numel():
        sub = xyz[idx, :3].to(torch.float64)
        cell[idx], valid[idx] = _cells_float64(sub[:, 0], sub[:, 1],
                                               sub[:, 2])
    return cell, valid


def z_range_images(z: Tensor,
                   cell: Tensor,
                   group: Tensor,
                   num_groups: int,
                   valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Per-group, per-cell max and min of z.

    Args:
        z: (N,) heights [m].
        cell: (N,) int64 image cells.
        group: (N,) int64 group of each point in ``[0, num_groups)``.
        num_groups: Number of groups G.
        valid: Optional (N,) bool; other points are sent to a discarded
            extra cell instead of being compacted away.

    Returns:
        tuple: ``zmax``, ``zmin`` (G, H * W), dtype of ``z``; empty cells
        hold -inf / +inf.
    """
    size = num_groups * IMAGE_H * IMAGE_W
    key = group * (IMAGE_H * IMAGE_W) + cell
    if valid is not None:
        key.masked_fill_(~valid, size)
    zmax = torch.full((size + 1, ), -math.inf, dtype=z.dtype, device=z.device)
    zmin = torch.full((size + 1, ), math.inf, dtype=z.dtype, device=z.device)
    zmax.scatter_reduce_(0, key, z, 'amax')
    zmin.scatter_reduce_(0, key, z, 'amin')
    return zmax[:size].view(num_groups, -1), zmin[:size].view(num_groups, -1)


def height_difference(zmax: Tensor, zmin: Tensor) -> Tensor:
    """``dz = max z - min z`` (..., H * W); 0 in empty cells."""
    return torch.where(torch.isfinite(zmax), zmax - zmin,
                       torch.zeros((), dtype=zmax.dtype, device=zmax.device))


def unobserved_mask(dz: Tensor) -> Tensor:
    """(..., H * W) bool: cells between the far end (column 0) of their row
    and the row's first cell with ``dz != 0`` (``dz`` may also be given as
    the bool ``dz != 0``)."""
    nonzero = dz if dz.dtype == torch.bool else dz != 0
    rows = nonzero.view(*dz.shape[:-1], IMAGE_H, IMAGE_W)
    seen = torch.cummax(rows.to(torch.uint8), dim=-1).values.bool()
    return (~seen).view(dz.shape)


def masked_residual(dz_a: Tensor, dz_b: Tensor,
                    unobserved_b: Tensor) -> Tensor:
    """Residual image of sub-map A against sub-map B (module docstring)."""
    zero = (dz_b > RATIO * dz_a) | (dz_a < MIN_DZ) | (dz_a > MAX_DZ) \
        | unobserved_b
    return torch.where(zero, torch.zeros((), dtype=dz_a.dtype,
                                         device=dz_a.device), dz_a - dz_b)


def _lookup(image: Tensor, cell: Tensor, valid: Tensor) -> Tensor:
    out = image.reshape(-1)[cell]
    return torch.where(valid, out, torch.zeros((), dtype=out.dtype,
                                               device=out.device))


def causal_residuals(xyz: Tensor,
                     ages: Tensor,
                     num_current: int,
                     channels: Sequence = CAUSAL_CHANNELS,
                     check_ages: bool = True) -> Tensor:
    """Causal motion channels of the current scan (module docstring).

    Args:
        xyz: (M, >=3) x, y, z [m] of the merged scans in the current frame;
            the current scan's points are the first ``num_current`` rows.
        ages: (M,) int scan age of each point (0 = current scan).
        num_current: Number N of current-scan points.
        channels: Group pairs, one per output channel.
        check_ages: Check that every needed age has points (skip it when
            the caller knows, it costs a pass over the M points).

    Returns:
        Tensor: (N, len(channels)) float32 residuals [m]. Cells follow the
        float64 formula exactly (:func:`image_cells`); heights are reduced
        in the input precision and compared in float64.
    """
    xyz = _as_tensor(xyz)
    if not torch.is_floating_point(xyz):
        xyz = xyz.to(torch.float64)
    ages = _as_tensor(ages).long()
    num_ages = 1 + max(max(a[1], b[1]) for a, b in channels)
    counts = torch.bincount(ages, minlength=num_ages) if check_ages else None
    missing = [a for a in range(num_ages)
               if counts is not None and counts[a] == 0]
    if missing:
        raise ValueError(f'causal motion features need scans of ages '
                         f'0..{num_ages - 1}; ages {missing} are missing '
                         f'(load at least {num_ages - 1} past scans)')
    cell, valid = image_cells(xyz)
    num_cells = IMAGE_H * IMAGE_W
    key = ages * num_cells + cell
    key.masked_fill_(~(valid & (ages < num_ages)), num_ages * num_cells)
    size = num_ages * num_cells + 1
    z = xyz[:, 2].contiguous()
    zmax = torch.full((size, ), -math.inf, dtype=z.dtype, device=z.device)
    zmin = torch.full((size, ), math.inf, dtype=z.dtype, device=z.device)
    zmax.scatter_reduce_(0, key, z, 'amax')
    zmin.scatter_reduce_(0, key, z, 'amin')
    zmax = zmax[:-1].view(num_ages, num_cells)
    zmin = zmin[:-1].view(num_ages, num_cells)

    # "unobserved" needs whole images of the B groups: a cell has dz != 0
    # iff its max > its min (exact in any precision)
    b_groups = sorted({b for _, b in channels})
    nonzero = torch.empty((len(b_groups), num_cells), dtype=torch.bool,
                          device=z.device)
    for i, (lo, hi) in enumerate(b_groups):
        gmax, gmin = zmax[lo:hi + 1].amax(0), zmin[lo:hi + 1].amin(0)
        torch.gt(gmax, gmin, out=nonzero[i])
    cur_cell, cur_valid = cell[:num_current], valid[:num_current]
    unobs_pts = unobserved_mask(nonzero).index_select(1, cur_cell)

    # everything else at the current scan's cells only, dz in float64;
    # an empty cell has max - min = -inf, clamped to dz = 0
    pmax = zmax.index_select(1, cur_cell).to(torch.float64)  # (ages, N)
    pmin = zmin.index_select(1, cur_cell).to(torch.float64)
    dz_pts = {}
    for lo, hi in sorted({g for pair in channels for g in pair}):
        gmax, gmin = pmax[lo], pmin[lo]
        for a in range(lo + 1, hi + 1):
            gmax, gmin = torch.maximum(gmax, pmax[a]), torch.minimum(
                gmin, pmin[a])
        dz_pts[(lo, hi)] = (gmax - gmin).clamp_(min=0)
    out = torch.empty((len(channels), num_current), dtype=torch.float32,
                      device=xyz.device)
    for c, (a, b) in enumerate(channels):
        res = masked_residual(dz_pts[a], dz_pts[b],
                              unobs_pts[b_groups.index(b)])
        out[c] = res.masked_fill_(~cur_valid, 0)
    return out.T.contiguous()


def _reference_window(get_scan: Callable[[int], Tensor],
                      poses: Mapping[int, np.ndarray], end: int,
                      num_prev: int, num_last: int):
    """dz images (2, H * W) of a window and the (cell, valid) of each of its
    scans (in scan order ``end - size + 1 .. end``), in the frame of
    ``end``."""
    first = end - num_prev - num_last + 1
    xyz, groups, sizes = [], [], []
    for j in range(first, end + 1):
        T = torch.from_numpy(relative_pose(poses[end], poses[j]))
        pts = _as_tensor(get_scan(j))[:, :3].to(torch.float64)
        xyz.append(pts @ T[:3, :3].T + T[:3, 3])
        groups.append(torch.full((len(pts), ), int(j > end - num_last),
                                 dtype=torch.int64))
        sizes.append(len(pts))
    xyz, groups = torch.cat(xyz), torch.cat(groups)
    cell, valid = image_cells(xyz)
    zmax, zmin = z_range_images(xyz[:, 2], cell, groups, 2, valid)
    return (height_difference(zmax, zmin), cell.split(sizes),
            valid.split(sizes))


def reference_window_dz(get_scan: Callable[[int], Tensor],
                        poses: Mapping[int, np.ndarray],
                        end: int,
                        num_prev: int = NUM_PREV,
                        num_last: int = NUM_LAST) -> Tensor:
    """The "prev" and "last" dz images of the reference window ending at
    scan ``end``.

    Args:
        get_scan: ``j -> (N_j, >=3)`` raw points of scan ``j`` (own frame).
        poses: ``j -> (4, 4)`` LiDAR pose of scan ``j``.
        end: Index ``e`` of the window's newest scan.
        num_prev: Scans in the "prev" sub-map.
        num_last: Scans in the "last" sub-map.

    Returns:
        Tensor: (2, H * W) float64 dz of the prev (0) and last (1) sub-maps.
    """
    return _reference_window(get_scan, poses, end, num_prev, num_last)[0]


def iter_reference_residuals(get_scan: Callable[[int], Tensor],
                             poses: Mapping[int, np.ndarray],
                             seq_len: int,
                             num_prev: int = NUM_PREV,
                             num_last: int = NUM_LAST
                             ) -> Iterator[Tuple[int, Tensor]]:
    """The published generator: slide the window over a whole sequence,
    each window computed once, and yield every scan's channels when it
    leaves the window.

    Gives the same values as :func:`reference_residuals` frame by frame, at
    about 1/8 of the cost; each scan is read once if ``get_scan`` caches
    (scans are asked for in increasing order, at most ``size`` at a time).

    Args:
        get_scan: ``j -> (N_j, >=3)`` raw points of scan ``j``.
        poses: ``j -> (4, 4)`` LiDAR poses.
        seq_len: Number S of scans.
        num_prev: Scans in the "prev" sub-map.
        num_last: Scans in the "last" sub-map.

    Yields:
        tuple: ``(j, (N_j, num_prev + num_last) float32)`` for j = 0..S-1
        in order.
    """
    size = num_prev + num_last
    pending: Dict[int, Tensor] = {}
    scans: Dict[int, Tensor] = {}

    def cached(j: int) -> Tensor:
        if j not in scans:
            scans[j] = _as_tensor(get_scan(j))
        return scans[j]

    for e in range(seq_len):
        pending[e] = torch.zeros((len(cached(e)), size), dtype=torch.float64)
        if e >= size - 1:
            dz, cells, valids = _reference_window(cached, poses, e, num_prev,
                                                  num_last)
            dz_prev, dz_last = dz
            appear = masked_residual(dz_last, dz_prev,
                                     unobserved_mask(dz_prev))
            vanish = masked_residual(dz_prev, dz_last,
                                     unobserved_mask(dz_last))
            for i, j in enumerate(range(e - size + 1, e + 1)):
                k = e - j  # the scan's age in this window
                image = appear if k < num_last else vanish
                pending[j][:, k] = _lookup(image, cells[i], valids[i])
        done = e - size + 1
        if done >= 0:
            scans.pop(done, None)
            yield done, pending.pop(done).to(torch.float32)
    for j in sorted(pending):
        yield j, pending.pop(j).to(torch.float32)


def reference_residuals(get_scan: Callable[[int], Tensor],
                        poses: Mapping[int, np.ndarray],
                        index: int,
                        seq_len: int,
                        num_prev: int = NUM_PREV,
                        num_last: int = NUM_LAST,
                        window_dz: Optional[Callable[[int], Tensor]] = None
                        ) -> Tensor:
    """The published (non-causal) motion channels of scan ``index``.

    Args:
        get_scan: ``j -> (N_j, >=3)`` raw points of scan ``j`` in its own
            frame, for ``j`` in ``index - 7 .. index + 7`` within the
            sequence.
        poses: ``j -> (4, 4)`` LiDAR poses of the same scans.
        index: Position ``t`` of the scan in its sequence.
        seq_len: Number S of scans of the sequence.
        num_prev: Scans in the "prev" sub-map (4 as published).
        num_last: Scans in the "last" sub-map (4 as published).
        window_dz: Optional ``e -> (2, H * W)`` dz images (e.g. a cache
            around :func:`reference_window_dz`).

    Returns:
        Tensor: (N_t, num_prev + num_last) float32 residuals [m]; column
        ``k`` is the comparison of the window ending at ``index + k``.
    """
    size = num_prev + num_last
    if window_dz is None:

        def window_dz(e):
            return reference_window_dz(get_scan, poses, e, num_prev, num_last)

    cur = _as_tensor(get_scan(index))[:, :3].to(torch.float64)
    out = torch.zeros((len(cur), size), dtype=torch.float64)
    for k in range(size):
        end = index + k
        if end < size - 1 or end >= seq_len:
            continue
        dz_prev, dz_last = window_dz(end)
        T = torch.from_numpy(relative_pose(poses[end], poses[index]))
        cell, valid = image_cells(cur @ T[:3, :3].T + T[:3, 3])
        if k < num_last:  # scan t in "last": appearance
            res = masked_residual(dz_last, dz_prev, unobserved_mask(dz_prev))
        else:  # scan t in "prev": disappearance
            res = masked_residual(dz_prev, dz_last, unobserved_mask(dz_last))
        out[:, k] = _lookup(res, cell, valid)
    return out.to(torch.float32)
