"""MOSMetric against a literal confusion-matrix computation (official MOS)."""
import math
import os

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from kdmos_plugin.evaluation.metrics.mos_metric import MOSMetric

# the official semantic-kitti-mos.yaml seen from the 4 train ids:
# GT 0 -> 0 (ignored), 1 and 2 (real semantic ids) -> 1 static, 3 -> 2 moving;
# predictions are written 0 / 9 / 250 / 251, and 0 and 250 map to 0.
OFFICIAL_GT = {0: 0, 1: 1, 2: 1, 3: 2}
OFFICIAL_PRED = {0: 0, 1: 1, 2: 0, 3: 2}


def official_moving_iou(gts, preds):
    """evaluate_mos.py's moving IoU, one point at a time."""
    conf = [[0] * 3 for _ in range(3)]  # [pred, gt] as in the api
    for g, p in zip(gts, preds):
        conf[OFFICIAL_PRED[int(p)]][OFFICIAL_GT[int(g)]] += 1
    for row in conf:  # remove the ground-truth-unlabeled column
        row[0] = 0
    tp = conf[2][2]
    fp = sum(conf[2]) - tp
    fn = sum(conf[r][2] for r in range(3)) - tp
    return tp / (tp + fp + fn + 1e-15)


def class_iou(gts, preds, c):
    """4-class IoU of class c with ground-truth 0 ignored, a loop."""
    tp = fp = fn = 0
    for g, p in zip(gts, preds):
        if g == 0:
            continue
        tp += g == c and p == c
        fp += g != c and p == c
        fn += g == c and p != c
    return tp / (tp + fp + fn + 1e-15)


def make_samples(num=5, seed=0, with_gt=True):
    rng = np.random.default_rng(seed)
    batches = []
    for i in range(num):
        n = int(rng.integers(50, 200))
        pts = rng.uniform(-70, 70, (n, 4)).astype(np.float32)
        gt = rng.choice(4, n, p=[0.1, 0.5, 0.15, 0.25])
        # predictions agree with gt 60% of the time, so IoUs are not trivial
        pred = np.where(rng.random(n) < 0.6, gt, rng.integers(0, 4, n))
        seq = '08' if i % 2 == 0 else '09'
        sample = BaseDataElement(
            metainfo=dict(lidar_path=f'seq{seq}/{i:06d}.bin', sequence=seq,
                          frame_id=i, num_points=n))
        sample.pred_pts_seg = BaseDataElement(
            pts_semantic_mask=torch.from_numpy(pred))
        if with_gt:
            sample.gt_pts_seg = BaseDataElement(
                pts_semantic_mask=torch.from_numpy(gt))
        batches.append((dict(inputs=dict(points=[torch.from_numpy(pts)])),
                        [sample], pts, gt, pred, seq))
    return batches


def run_metric(metric, batches):
    for data_batch, samples, *_ in batches:
        # mmengine's Evaluator hands over dicts
        metric.process(data_batch, [s.to_dict() for s in samples])
    return metric.evaluate(len(batches))


def test_metric_equals_literal_computation():
    batches = make_samples()
    out = run_metric(MOSMetric(), batches)
    gts = np.concatenate([b[3] for b in batches])
    preds = np.concatenate([b[4] for b in batches])
    assert out['mos/IoU_moving'] == pytest.approx(
        official_moving_iou(gts, preds), abs=1e-12)
    assert out['mos/IoU_moving'] == pytest.approx(class_iou(gts, preds, 3))
    assert out['mos/IoU_static'] == pytest.approx(class_iou(gts, preds, 1))
    assert out['mos/IoU_movable'] == pytest.approx(class_iou(gts, preds, 2))
    assert out['mos/mIoU'] == pytest.approx(
        np.mean([class_iou(gts, preds, c) for c in (1, 2, 3)]))
    assert 0.2 < out['mos/IoU_moving'] < 0.9
    for seq in ('08', '09'):
        sel = [b for b in batches if b[5] == seq]
        assert out[f'mos/IoU_moving_seq{seq}'] == pytest.approx(
            official_moving_iou(np.concatenate([b[3] for b in sel]),
                                np.concatenate([b[4] for b in sel])))
    edges = [(0, 10), (10, 20), (20, 30), (30, 50), (50, math.inf)]
    names = ['0-10m', '10-20m', '20-30m', '30-50m', '50+m']
    pts = np.concatenate([b[2] for b in batches])
    for (lo, hi), name in zip(edges, names):
        keep = [k for k in range(len(pts))
                if lo <= math.hypot(pts[k, 0], pts[k, 1]) < hi]
        assert out[f'mos/IoU_moving_{name}'] == pytest.approx(
            official_moving_iou(gts[keep], preds[keep])), name


def test_predicted_unlabeled_and_movable_count_as_not_moving():
    # 4 moving points: 1 hit, missed as 0, 2 and 1; 1 static point hit moving;
    # GT-unlabeled points predicted moving do not count.
    gt = np.array([3, 3, 3, 3, 1, 0, 0])
    pred = np.array([3, 0, 2, 1, 3, 3, 3])
    sample = BaseDataElement(metainfo=dict(lidar_path='x.bin', sequence='08',
                                           frame_id=0))
    sample.pred_pts_seg = BaseDataElement(
        pts_semantic_mask=torch.from_numpy(pred))
    sample.gt_pts_seg = BaseDataElement(pts_semantic_mask=torch.from_numpy(gt))
    pts = torch.zeros(7, 4)
    metric = MOSMetric()
    metric.process(dict(inputs=dict(points=[pts])), [sample.to_dict()])
    out = metric.evaluate(1)
    assert out['mos/IoU_moving'] == pytest.approx(1 / (1 + 1 + 3))


def test_submission_files_one_label_per_point(tmp_path):
    batches = make_samples(num=3, seed=1, with_gt=False)
    metric = MOSMetric(submission_prefix=str(tmp_path), format_only=True)
    assert run_metric(metric, batches) == {}
    for _, samples, pts, _, pred, seq in batches:
        frame = samples[0].frame_id
        path = tmp_path / 'sequences' / seq / 'predictions' / \
            f'{frame:06d}.label'
        labels = np.fromfile(path, dtype=np.uint32)
        assert len(labels) == len(pts)
        expected = np.where(pred == 3, 251, 9)
        np.testing.assert_array_equal(labels, expected)
    assert len(list(tmp_path.rglob('*.label'))) == 3


def test_submission_beside_metrics_with_custom_map(tmp_path):
    batches = make_samples(num=2, seed=2)
    metric = MOSMetric(submission_prefix=str(tmp_path),
                       submission_label_map={0: 0, 1: 9, 2: 250, 3: 251})
    out = run_metric(metric, batches)
    assert 'mos/IoU_moving' in out
    _, samples, _, _, pred, seq = batches[0]
    labels = np.fromfile(
        os.path.join(tmp_path, 'sequences', seq, 'predictions',
                     '000000.label'), dtype=np.uint32)
    np.testing.assert_array_equal(labels,
                                  np.array([0, 9, 250, 251])[pred])


def test_errors_name_the_scan():
    batches = make_samples(num=1, seed=3, with_gt=False)
    data_batch, samples, *_ = batches[0]
    with pytest.raises(ValueError, match='seq08/000000.bin.*format_only'):
        MOSMetric().process(data_batch, [s.to_dict() for s in samples])
    bad = dict(inputs=dict(points=[data_batch['inputs']['points'][0][:-1]]))
    with pytest.raises(ValueError, match='seq08/000000.bin.*input points'):
        MOSMetric().process(bad, [s.to_dict() for s in samples])
    with pytest.raises(ValueError, match='submission_prefix'):
        MOSMetric(format_only=True)


def _rank_worker(rank, world, batches):
    """One rank: count its share of the batches, evaluate together."""
    metric = MOSMetric()
    for data_batch, samples, *_ in batches[rank::world]:
        metric.process(data_batch, [s.to_dict() for s in samples])
    return metric.evaluate(len(batches))


def test_metric_across_two_ranks(gloo_ranks):
    batches = make_samples(num=6, seed=4)
    single = run_metric(MOSMetric(), make_samples(num=6, seed=4))
    result = gloo_ranks(_rank_worker, batches)[0]
    assert result.keys() == single.keys()
    for key, value in single.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_two_class_map_from_dataset_meta(tmp_path):
    """MotionBEV's 2 classes (0 static, 1 moving, nothing ignored), named by
    the dataset's metainfo as the runner sets it."""
    rng = np.random.default_rng(5)
    gt, pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    sample = BaseDataElement(metainfo=dict(lidar_path='x.bin', sequence='08',
                                           frame_id=7))
    sample.pred_pts_seg = BaseDataElement(
        pts_semantic_mask=torch.from_numpy(pred))
    sample.gt_pts_seg = BaseDataElement(pts_semantic_mask=torch.from_numpy(gt))
    metric = MOSMetric(submission_prefix=str(tmp_path))
    metric.dataset_meta = dict(classes=('static', 'moving'))
    metric.process(dict(inputs=dict(points=[torch.zeros(300, 4)])),
                   [sample.to_dict()])
    out = metric.evaluate(1)
    tp = np.sum((gt == 1) & (pred == 1))
    union = np.sum((gt == 1) | (pred == 1))
    assert out['mos/IoU_moving'] == pytest.approx(tp / union)
    assert 'mos/IoU_static' in out and 'mos/IoU_movable' not in out
    labels = np.fromfile(tmp_path / 'sequences' / '08' / 'predictions' /
                         '000007.label', dtype=np.uint32)
    np.testing.assert_array_equal(labels, np.where(pred == 1, 251, 9))


def test_metric_counts_scans_and_points():
    """num_scans / num_points: what the confusion matrix holds."""
    import torch
    from mmdet3d.structures import Det3DDataSample, PointData

    from kdmos_plugin.evaluation.metrics.mos_metric import MOSMetric
    metric = MOSMetric()
    metric.dataset_meta = dict(
        classes=('unlabeled', 'static', 'movable', 'moving'))
    rng = torch.Generator().manual_seed(0)
    sizes = [7, 11, 5]
    for i, n in enumerate(sizes):
        sample = Det3DDataSample(metainfo=dict(
            lidar_path=f'{i}.bin', sequence='08', frame_id=i))
        sample.gt_pts_seg = PointData(
            pts_semantic_mask=torch.randint(0, 4, (n,), generator=rng))
        sample.pred_pts_seg = PointData(
            pts_semantic_mask=torch.randint(0, 4, (n,), generator=rng))
        metric.process({'inputs': {'points': [torch.randn(n, 4)]}},
                       [sample.to_dict()])
    out = metric.evaluate(len(sizes))
    assert out['mos/num_scans'] == 3
    assert out['mos/num_points'] == sum(sizes)
