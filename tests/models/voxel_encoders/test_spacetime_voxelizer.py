"""SpacetimeVoxelizer against a literal per-point reference."""
import math

import pytest
import torch

from kdmos_plugin.models.voxel_encoders import SpacetimeVoxelizer


def _cloud(num_scans=8, n=60, seed=0, spread=3.0):
    """Merged cloud (M, 5): scan a has age a; the current scan first."""
    g = torch.Generator().manual_seed(seed)
    scans = []
    for age in range(num_scans):
        p = torch.rand(n, 5, generator=g)
        p[:, :3] = (p[:, :3] - 0.5) * 2 * spread
        p[:, 4] = age
        scans.append(p)
    return torch.cat(scans)


def _literal(points_list, vox):
    """Cells by a python loop: key -> list of (global point index)."""
    cells, point_cell = {}, []
    offset = 0
    for b, pts in enumerate(points_list):
        for i, row in enumerate(pts.tolist()):
            coords = [row[0], row[1], row[2], row[4]][:vox.ndim]
            idx = []
            for c, lo, s, n in zip(coords, vox.lower, vox.voxel_size,
                                   vox.spatial_shape):
                k = math.floor((c - lo) / s)
                idx.append(min(max(k, 0), n - 1))
            key = (b, *idx)
            cells.setdefault(key, []).append(offset + i)
            point_cell.append(key)
        offset += len(pts)
    return cells, point_cell


@pytest.mark.parametrize('voxel_size', [(0.5, 0.5, 0.5, 1.0),
                                        (0.7, 0.4, 1.0)])
def test_matches_literal_reference(voxel_size):
    vox = SpacetimeVoxelizer(voxel_size=voxel_size,
                             point_cloud_range=(-2, -2, -2, 2, 2, 2),
                             max_age=7)
    clouds = [_cloud(seed=0), _cloud(num_scans=3, n=40, seed=1)]
    out = vox(clouds, [60, 40])
    cells, point_cell = _literal(clouds, vox)
    coors = [tuple(c) for c in out.coors.tolist()]
    assert set(coors) == set(cells)
    assert len(coors) == len(cells)            # no duplicate voxel
    assert coors == sorted(coors)              # batch-major, sorted
    assert out.coors.dtype == torch.int32
    assert out.coors.shape[1] == 1 + len(voxel_size)
    # every point sits in the voxel of its literal cell
    for p, key in enumerate(point_cell):
        assert coors[out.point2voxel[p]] == key
    # features: literal means of (x, y, z, intensity, age, offsets)
    allp = torch.cat(clouds).double()
    for v, key in enumerate(coors):
        members = cells[key]
        mean = allp[members].mean(0)
        centre = torch.tensor([
            (key[1 + d] + 0.5) * vox.voxel_size[d] + vox.lower[d]
            for d in range(3)], dtype=torch.float64)
        offs = (allp[members, :3] - centre).mean(0)
        expect = torch.cat([mean, offs]).float()
        assert torch.allclose(out.features[v], expect, atol=1e-5)


def test_current_points_map_to_exactly_one_voxel_and_back():
    vox = SpacetimeVoxelizer(voxel_size=(0.3, 0.3, 0.3, 1.0),
                             point_cloud_range=(-2, -2, -2, 2, 2, 2))
    clouds = [_cloud(n=50, seed=2), _cloud(n=30, seed=3)]
    out = vox(clouds, [50, 30])
    assert out.current2voxel.shape == (80, )
    # the current-scan rows of point2voxel, in batch then file order
    expect = torch.cat([out.point2voxel[:50],
                        out.point2voxel[400:430]])
    assert torch.equal(out.current2voxel, expect)
    coors = out.coors.long()
    for j, (b, i) in enumerate([(0, i) for i in range(50)] +
                               [(1, i) for i in range(30)]):
        v = out.current2voxel[j]
        assert coors[v, 0] == b
        assert coors[v, 4] == 0                 # age cell of the current scan
        assert torch.equal(coors[v, 1:],
                           vox.cell_indices(clouds[b][i:i + 1])[0])
    # and back: voxel -> points covers each current point exactly once
    back = {}
    for j, v in enumerate(out.current2voxel.tolist()):
        back.setdefault(v, []).append(j)
    assert sorted(j for js in back.values() for j in js) == list(range(80))
    # a 4-D cell of age 0 holds current points only
    age0 = (coors[:, 4] == 0).nonzero().flatten().tolist()
    assert set(back) == set(age0)


def test_out_of_range_points_are_clamped_not_dropped():
    vox = SpacetimeVoxelizer(voxel_size=(1.0, 1.0, 1.0, 1.0),
                             point_cloud_range=(-1, -1, -1, 1, 1, 1),
                             max_age=2)
    pts = torch.tensor([[100., -100., 0., 0., 0.],
                        [0.5, 0.5, 0.5, 0., 9.]])
    out = vox([pts], [1])
    assert out.spatial_shape == [2, 2, 2, 3]
    # x=100 -> last cell, y=-100 -> first cell, age 9 -> last age cell
    assert out.coors.tolist() == [[0, 1, 0, 1, 0], [0, 1, 1, 1, 2]]
    assert out.current2voxel.tolist() == [0]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='voxel_size'):
        SpacetimeVoxelizer(voxel_size=(0.1, 0.1))
    with pytest.raises(ValueError, match='positive'):
        SpacetimeVoxelizer(voxel_size=(0.1, 0.0, 0.1, 1))
    vox = SpacetimeVoxelizer()
    with pytest.raises(ValueError, match=r'\(M, 5\)'):
        vox([torch.zeros(4, 4)], [4])
    with pytest.raises(ValueError, match='current'):
        vox([torch.zeros(4, 5)], [5])


def test_future_ages_get_their_own_cells():
    # a non-causal teacher: ages -3..7 -> age cells 0..10, current scan at 3
    vox = SpacetimeVoxelizer(voxel_size=(1.0, 1.0, 1.0, 1.0),
                             point_cloud_range=(-1, -1, -1, 1, 1, 1),
                             max_age=7, min_age=-3)
    assert vox.spatial_shape == [2, 2, 2, 11]
    ages = [0., -1., -3., 7., -9.]   # -9: younger than min_age -> first cell
    pts = torch.tensor([[0.5, 0.5, 0.5, 0., a] for a in ages])
    out = vox([pts], [1])
    cell = out.coors[out.point2voxel, 4].tolist()
    assert cell == [3, 2, 0, 10, 0]
    assert out.coors[out.current2voxel, 4].tolist() == [3]
    # the same cloud in the literal reference
    cells, point_cell = _literal([pts], vox)
    assert [k[4] for k in point_cell] == cell
    with pytest.raises(ValueError, match='min_age'):
        SpacetimeVoxelizer(min_age=1)
