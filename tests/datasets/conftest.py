"""Fixtures of the dataset tests."""
import math
from collections import Counter

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run the data tests with one torch thread, like a DataLoader worker.

    The tensors here are small; on a loaded two-core machine intra-op
    threads only add synchronisation cost (seen: 20x slower).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _literal_polar_voxelize(points, labels, grid, lo, hi):
    """docs/METHOD.md 1.4 steps 3-7, one point at a time: the 9 point features
    (N, 9) float64 (rho/phi/z offsets from the cell centre, rho, phi, z,
    x, y, intensity), cell indices (N, 3) int64 and the voxel majority
    labels {(i_rho, i_phi, i_z): label} (ties -> lowest label)."""
    cell = [(hi[d] - lo[d]) / (grid[d] - 1) for d in range(3)]
    feats, inds, votes = [], [], {}
    for p, lab in zip(points, labels):
        x, y, z, inten = (np.float32(v) for v in p[:4])
        pol = [np.sqrt(x * x + y * y), np.arctan2(y, x), z]  # float32
        ind = [math.floor((min(max(float(pol[d]), lo[d]), hi[d]) - lo[d]) /
                          cell[d]) for d in range(3)]
        center = [(ind[d] + 0.5) * cell[d] + lo[d] for d in range(3)]
        off = [float(pol[d]) - center[d] for d in range(3)]
        feats.append(off + [float(v) for v in pol] + [float(x), float(y),
                                                       float(inten)])
        inds.append(ind)
        votes.setdefault(tuple(ind), Counter())[int(lab)] += 1
    vox = {}
    for key, cnt in votes.items():
        best = max(cnt.values())
        vox[key] = min(k for k, v in cnt.items() if v == best)
    return (np.array(feats, np.float64), np.array(inds, np.int64), vox)


@pytest.fixture(scope='session')
def literal_polar_voxelize():
    """``f(points (N, >=4), labels (N,), grid, lo, hi) -> (feats, ind,
    voxels)``: the polar voxelisation written out point by point, the
    independent check of PolarGrid and PolarVoxelize."""
    return _literal_polar_voxelize
