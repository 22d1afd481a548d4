"""MOSSphereCrop: keeps int(rate * M) points nearest to a point of the
cloud (brute force), in order, with the contract and the labels kept."""
import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.transforms import (LoadMOSLabels, LoadMOSScans,
                                              MOSSphereCrop, PolarVoxelize)


@pytest.fixture(scope='module')
def loaded(tiny_kitti_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['08'])
    res = LoadMOSLabels()(LoadMOSScans(num_past=7)(ds.get_data_info(9)))
    n = len(res['points'])
    # a per-point logit row that names its point: row i holds i
    res['teacher_logits'] = np.repeat(np.arange(n, dtype=np.float32)[:, None],
                                      4, 1)
    return res


def _brute_force_nearest(xyz, center, keep):
    """Indices of the ``keep`` points nearest to ``center``, one distance
    at a time, and the distances of all points."""
    d = np.array([np.sqrt(sum((float(p[k]) - center[k])**2
                              for k in range(3))) for p in xyz])
    return set(np.argsort(d, kind='stable')[:keep].tolist()), d


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_keeps_the_nearest_points_in_order_with_the_contract(loaded, seed):
    np.random.seed(seed)
    res = MOSSphereCrop(sample_rate=0.8)(dict(loaded))
    multi0, n0 = loaded['multi_points'], len(loaded['points'])
    m0 = len(multi0)
    kept = res['crop_indices']
    assert len(kept) == int(0.8 * m0) == len(res['multi_points'])
    assert (np.diff(kept) > 0).all()  # original relative order
    # the centre is a point of the cloud, the kept ones the nearest to it
    center = res['crop_center']
    assert (multi0[:, :3] == center.astype(np.float32)).all(1).any()
    want, dist = _brute_force_nearest(multi0[:, :3], center, len(kept))
    dropped = np.setdiff1d(np.arange(m0), kept)
    assert dist[kept].max() <= dist[dropped].min() + 1e-9
    if dist[kept].max() < dist[dropped].min():  # no tie at the boundary
        assert set(kept.tolist()) == want
    np.testing.assert_array_equal(res['multi_points'], multi0[kept])
    # current points first, then past ones; the contract holds exactly
    cur = kept[kept < n0]
    n = len(res['points'])
    assert n == len(cur) == res['num_points'] and 0 < n < n0
    assert (res['multi_points'][:n, 4] == 0).all()
    assert (res['multi_points'][n:, 4] > 0).all()
    np.testing.assert_array_equal(res['multi_points'][:n, :4], res['points'])
    # labels and logits follow their points
    np.testing.assert_array_equal(res['points'], loaded['points'][cur])
    np.testing.assert_array_equal(res['pts_semantic_mask'],
                                  loaded['pts_semantic_mask'][cur])
    np.testing.assert_array_equal(res['teacher_logits'][:, 0], cur)
    np.testing.assert_array_equal(res['raw_points'],
                                  loaded['raw_points'][cur])
    # the loaded sample is untouched
    assert len(loaded['points']) == n0 and len(loaded['multi_points']) == m0


def test_different_seeds_crop_around_different_points(loaded):
    centres = set()
    for seed in range(5):
        np.random.seed(seed)
        centres.add(tuple(MOSSphereCrop()(dict(loaded))['crop_center']))
    assert len(centres) > 1


def test_without_past_scans_crops_the_current_scan(loaded):
    res = {k: v for k, v in loaded.items() if k != 'multi_points'}
    np.random.seed(0)
    out = MOSSphereCrop(sample_rate=0.5)(res)
    n0 = len(loaded['points'])
    kept = out['crop_indices']
    assert len(out['points']) == len(kept) == int(0.5 * n0)
    want, _ = _brute_force_nearest(loaded['points'][:, :3],
                                   out['crop_center'], len(kept))
    assert set(kept.tolist()) == want
    np.testing.assert_array_equal(out['pts_semantic_mask'],
                                  loaded['pts_semantic_mask'][kept])


def test_rate_one_keeps_everything(loaded):
    out = MOSSphereCrop(sample_rate=1.0)(dict(loaded))
    np.testing.assert_array_equal(out['multi_points'],
                                  loaded['multi_points'])
    np.testing.assert_array_equal(out['points'], loaded['points'])
    assert len(out['crop_indices']) == len(loaded['multi_points'])


def test_bad_input_is_refused(loaded):
    with pytest.raises(ValueError, match='sample_rate'):
        MOSSphereCrop(sample_rate=0)
    res = dict(loaded, pts_semantic_mask=loaded['pts_semantic_mask'][:-1])
    with pytest.raises(ValueError, match=r'000009\.bin.*pts_semantic_mask'):
        MOSSphereCrop()(res)
    vox = PolarVoxelize(grid_size=(8, 6, 4))(dict(loaded))
    with pytest.raises(ValueError, match=r'000009\.bin.*before PolarVoxel'):
        MOSSphereCrop()(vox)
