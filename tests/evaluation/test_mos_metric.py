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


def literal_precision_recall(gts, preds, moving=3, ignore=0):
    """Moving precision and recall one point at a time (GT 0 ignored)."""
    tp = fp = fn = 0
    for g, p in zip(gts, preds):
        if g == ignore:
            continue
        tp += g == moving and p == moving
        fp += g != moving and p == moving
        fn += g == moving and p != moving
    return tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0


def literal_object_iou(scans, margin, min_points, moving=3, ignore=0):
    """Mean per-object IoU, with plain loops over objects and points."""
    ious = []
    for pts, gt, pred, inst in scans:
        ids = sorted({int(inst[j]) for j in range(len(gt))
                      if gt[j] == moving and inst[j] > 0})
        for k in ids:
            members = [j for j in range(len(gt))
                       if gt[j] == moving and inst[j] == k]
            if len(members) < min_points:
                continue
            lo = [min(pts[j, d] for j in members) - margin for d in range(3)]
            hi = [max(pts[j, d] for j in members) + margin for d in range(3)]
            tp = sum(1 for j in members if pred[j] == moving)
            fn = len(members) - tp
            fp = 0
            for j in range(len(gt)):
                if pred[j] != moving or gt[j] == moving or gt[j] == ignore:
                    continue
                if all(lo[d] <= pts[j, d] <= hi[d] for d in range(3)):
                    fp += 1
            ious.append(tp / (tp + fn + fp))
    return sum(ious) / len(ious), len(ious)


def make_instance_samples(num=6, seed=7):
    """Scans with a few moving objects (clusters with instance ids), static
    points around them and noisy predictions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num):
        n_bg = int(rng.integers(150, 300))
        pts = [rng.uniform(-20, 20, (n_bg, 4))]
        gt = [rng.choice(3, n_bg, p=[0.1, 0.6, 0.3])]
        inst = [np.where(gt[0] == 2, rng.integers(1, 4, n_bg), 0)]
        for k in range(int(rng.integers(1, 5))):
            m = int(rng.integers(2, 40))  # some below min_points
            centre = rng.uniform(-15, 15, 3)
            pts.append(np.concatenate(
                [centre + rng.normal(0, 0.8, (m, 3)), rng.random((m, 1))], 1))
            gt.append(np.full(m, 3))
            inst.append(np.full(m, 10 + k + 100 * i))
        # moving points without an instance (id 0) belong to no object
        pts.append(rng.uniform(-20, 20, (5, 4)))
        gt.append(np.full(5, 3))
        inst.append(np.zeros(5, dtype=np.int64))
        pts = np.concatenate(pts).astype(np.float32)
        gt = np.concatenate(gt)
        inst = np.concatenate(inst).astype(np.int64)
        pred = np.where(rng.random(len(gt)) < 0.7, gt,
                        rng.integers(0, 4, len(gt)))
        out.append((pts, gt, pred, inst))
    return out


def _instance_batches(scans, with_instance=True):
    batches = []
    for i, (pts, gt, pred, inst) in enumerate(scans):
        sample = BaseDataElement(metainfo=dict(
            lidar_path=f'{i:06d}.bin', sequence='08' if i % 2 else '09',
            frame_id=i))
        sample.pred_pts_seg = BaseDataElement(
            pts_semantic_mask=torch.from_numpy(pred))
        gt_seg = dict(pts_semantic_mask=torch.from_numpy(gt))
        if with_instance:
            gt_seg['pts_instance_mask'] = torch.from_numpy(inst)
        sample.gt_pts_seg = BaseDataElement(**gt_seg)
        batches.append((dict(inputs=dict(points=[torch.from_numpy(pts)])),
                        [sample]))
    return batches


@pytest.mark.parametrize('margin,min_points', [(0.3, 5), (1.0, 1)])
def test_precision_recall_and_object_iou_equal_literal(margin, min_points):
    scans = make_instance_samples()
    metric = MOSMetric(object_margin=margin, object_min_points=min_points)
    out = run_metric(metric, _instance_batches(scans))
    gts = np.concatenate([s[1] for s in scans])
    preds = np.concatenate([s[2] for s in scans])
    prec, rec = literal_precision_recall(gts, preds)
    assert out['mos/precision_moving'] == pytest.approx(prec, abs=1e-12)
    assert out['mos/recall_moving'] == pytest.approx(rec, abs=1e-12)
    assert 0.2 < prec < 1 and 0.2 < rec < 1
    for seq in ('08', '09'):
        sel = [s for i, s in enumerate(scans)
               if (seq == '08') == bool(i % 2)]
        p, r = literal_precision_recall(np.concatenate([s[1] for s in sel]),
                                        np.concatenate([s[2] for s in sel]))
        assert out[f'mos/precision_moving_seq{seq}'] == pytest.approx(p)
        assert out[f'mos/recall_moving_seq{seq}'] == pytest.approx(r)
    iou, count = literal_object_iou(scans, margin, min_points)
    assert out['mos/num_moving_objects'] == count
    assert count >= 6
    assert out['mos/IoU_moving_object'] == pytest.approx(iou, abs=1e-12)
    # the object figure is not the point-level IoU in disguise
    assert abs(out['mos/IoU_moving_object'] - out['mos/IoU_moving']) > 1e-3


def test_object_iou_small_cases():
    """One object of 6 points (4 found), one static point predicted moving
    inside its box and one far away, a 3-point object below min_points."""
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1],
                    [1, 1, 1], [0.5, 0.5, 0.5], [9, 9, 9], [5, 5, 5],
                    [5, 5.1, 5], [5.1, 5, 5]], dtype=np.float32)
    gt = np.array([3, 3, 3, 3, 3, 3, 1, 1, 3, 3, 3])
    pred = np.array([3, 3, 3, 3, 1, 2, 3, 3, 3, 3, 3])
    inst = np.array([7, 7, 7, 7, 7, 7, 0, 0, 8, 8, 8])
    out = run_metric(MOSMetric(), _instance_batches([(pts, gt, pred, inst)]))
    assert out['mos/num_moving_objects'] == 1
    assert out['mos/IoU_moving_object'] == pytest.approx(4 / (4 + 2 + 1))
    assert out['mos/precision_moving'] == pytest.approx(7 / 9)
    assert out['mos/recall_moving'] == pytest.approx(7 / 9)


def test_no_instance_ids_no_object_keys_and_mixed_refused():
    scans = make_instance_samples(num=2)
    out = run_metric(MOSMetric(), _instance_batches(scans, False))
    assert 'mos/IoU_moving_object' not in out
    assert 'mos/precision_moving' in out
    mixed = _instance_batches(scans[:1]) + _instance_batches(scans[1:], False)
    with pytest.raises(ValueError, match='1 of 2 scans carry instance ids'):
        run_metric(MOSMetric(), mixed)


def test_summary_line():
    from kdmos_plugin.evaluation.metrics.mos_metric import summarize_metrics
    line = summarize_metrics({'mos/IoU_moving': 0.5, 'mos/precision_moving':
                              0.25, 'mos/recall_moving': 1.0,
                              'mos/IoU_moving_object': 0.125,
                              'mos/num_moving_objects': 3, 'mos/num_scans': 2})
    assert line == ('moving IoU 50.00 %, precision 25.00 %, recall 100.00 %, '
                    'object IoU 12.50 % (3 objects), 2 scans')
