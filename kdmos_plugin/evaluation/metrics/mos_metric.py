"""Moving-object segmentation metric (official protocol) and submission writer.

The official SemanticKITTI-MOS tool (semantic-kitti-api ``evaluate_mos.py``
with ``semantic-kitti-mos.yaml``) sums one confusion matrix over every point
of the split, zeroes the ground-truth-unlabeled entries and computes
``IoU = TP / (TP + FP + FN)``; predicted "unlabeled" (0) and predicted
"movable" (250, not in its map) count as not moving. With the 4-class train
ids (0 unlabeled, 1 static, 2 movable, 3 moving) the moving IoU of a
``[gt, pred]`` confusion matrix whose ground-truth row 0 is dropped is
exactly that number: a moving point predicted 0, 1 or 2 is a false negative,
a static or movable point predicted moving a false positive.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmdet3d.registry import METRICS
from ...datasets.kitti_io import write_labels
from ...datasets.label_map import MOS_CLASSES

#: The files a submission holds, relative to ``submission_prefix``.
SUBMISSION_PATTERN = 'sequences/*/predictions/*.label'


def confusion_matrix(gt: np.ndarray, pred: np.ndarray,
                     num_classes: int) -> np.ndarray:
    """Count (gt, pred) pairs.

    Args:
        gt (np.ndarray): (N,) int labels in ``0..num_classes-1``.
        pred (np.ndarray): (N,) int predictions in ``0..num_classes-1``.
        num_classes (int): Number of classes C.

    Returns:
        np.ndarray: (C, C) int64, entry ``[g, p]`` = #points with gt g and
        prediction p.
    """
    return np.bincount(
        gt.astype(np.int64) * num_classes + pred.astype(np.int64),
        minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(conf: np.ndarray,
                       ignore_index: Optional[int] = 0) -> np.ndarray:
    """Per-class IoU as the official tool computes it.

    Ground-truth ``ignore_index`` points are dropped; every other point
    predicted ``ignore_index`` stays a false negative of its class.

    Args:
        conf (np.ndarray): (C, C) ``[gt, pred]`` counts.
        ignore_index (int, optional): Ignored ground-truth class.

    Returns:
        np.ndarray: (C,) float64 IoU in [0, 1] (``tp / (tp + fp + fn +
        1e-15)``, so 0 for a class absent from both; the entry of
        ``ignore_index`` is meaningless).
    """
    conf = conf.astype(np.float64).copy()
    if ignore_index is not None:
        conf[ignore_index, :] = 0
    tp = np.diag(conf)
    fp = conf.sum(0) - tp
    fn = conf.sum(1) - tp
    return tp / (tp + fp + fn + 1e-15)



def precision_recall_from_confusion(conf: np.ndarray, cls: int,
                                    ignore_index: Optional[int] = 0
                                    ) -> Tuple[float, float]:
    """Precision and recall of one class, counted as the official IoU.

    Ground-truth ``ignore_index`` points are dropped; a point of class
    ``cls`` predicted anything else (``ignore_index`` included) is a false
    negative, any other labelled point predicted ``cls`` a false positive.

    Args:
        conf (np.ndarray): (C, C) ``[gt, pred]`` counts.
        cls (int): The class, e.g. the moving train id.
        ignore_index (int, optional): Ignored ground-truth class.

    Returns:
        tuple[float, float]: ``tp / (tp + fp)`` and ``tp / (tp + fn)`` in
        [0, 1] (each 0 when its denominator is 0).
    """
    conf = conf.astype(np.float64).copy()
    if ignore_index is not None:
        conf[ignore_index, :] = 0
    tp = conf[cls, cls]
    fp = conf[:, cls].sum() - tp
    fn = conf[cls, :].sum() - tp
    return float(tp / (tp + fp + 1e-15)), float(tp / (tp + fn + 1e-15))


def moving_object_counts(gt: np.ndarray, pred: np.ndarray,
                         instance: np.ndarray, xyz: np.ndarray,
                         moving_class: int, ignore_index: Optional[int],
                         margin: float = 0.3,
                         min_points: int = 5) -> np.ndarray:
    """Per ground-truth moving object of one scan: its TP, FN and FP points.

    An object is one instance id ``k > 0`` among the scan's ground-truth
    moving points: ``G_k`` = points with ``gt == moving_class`` and
    ``instance == k`` (moving points with instance id 0 belong to no
    object). Objects with fewer than ``min_points`` points are left out.
    With ``P`` the points predicted moving:

    * ``TP_k = |G_k & P|``, ``FN_k = |G_k - P|``,
    * ``FP_k`` = points predicted moving whose ground truth is neither
      moving nor ``ignore_index`` and that lie inside the axis-aligned box
      of ``G_k`` (x, y, z min/max of its points) grown by ``margin`` on
      every side. A false positive inside two boxes counts for both.

    The object's IoU is ``TP_k / (TP_k + FN_k + FP_k)``.

    Args:
        gt (np.ndarray): (N,) int train ids.
        pred (np.ndarray): (N,) int predicted train ids.
        instance (np.ndarray): (N,) int instance ids (the upper 16 bits of
            a SemanticKITTI ``.label``; 0 = no instance).
        xyz (np.ndarray): (N, >=3) point coordinates [m].
        moving_class (int): Train id of the moving class.
        ignore_index (int, optional): Ignored ground-truth id.
        margin (float): Growth of the boxes [m].
        min_points (int): Smallest object counted.

    Returns:
        np.ndarray: (K, 3) int64 rows ``[TP_k, FN_k, FP_k]``, objects in
        increasing instance id.
    """
    is_moving = gt == moving_class
    hit = pred == moving_class
    fp_cand = hit & ~is_moving
    if ignore_index is not None:
        fp_cand &= gt != ignore_index
    ids = np.unique(instance[is_moving & (instance > 0)])
    rows = []
    for k in ids:
        obj = is_moving & (instance == k)
        size = int(obj.sum())
        if size < min_points:
            continue
        tp = int((obj & hit).sum())
        lo = xyz[obj, :3].min(axis=0) - margin
        hi = xyz[obj, :3].max(axis=0) + margin
        inside = np.all((xyz[:, :3] >= lo) & (xyz[:, :3] <= hi), axis=1)
        rows.append((tp, size - tp, int((fp_cand & inside).sum())))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def summarize_metrics(metrics: Mapping[str, float],
                      prefix: str = 'mos') -> str:
    """One line of the headline moving-class figures, in percent.

    Args:
        metrics (Mapping[str, float]): What :class:`MOSMetric` returned
            (keys with or without the ``prefix/``).
        prefix (str): The metric's key prefix.

    Returns:
        str: e.g. ``'moving IoU 71.20 %, precision 80.10 %, recall 86.50 %,
        object IoU 64.00 % (152 objects), 40 scans'``; figures that are
        absent are left out.
    """
    def get(key):
        return metrics.get(f'{prefix}/{key}', metrics.get(key))

    parts = []
    for key, name in (('IoU_moving', 'moving IoU'),
                      ('precision_moving', 'precision'),
                      ('recall_moving', 'recall'),
                      ('IoU_moving_object', 'object IoU')):
        value = get(key)
        if value is not None:
            parts.append(f'{name} {100 * float(value):.2f} %')
    if get('num_moving_objects') is not None and parts and \
            parts[-1].startswith('object IoU'):
        parts[-1] += f' ({int(get("num_moving_objects"))} objects)'
    if get('num_scans') is not None:
        parts.append(f'{int(get("num_scans"))} scans')
    return ', '.join(parts)


@METRICS.register_module()
class MOSMetric(BaseMetric):
    """SemanticKITTI-MOS IoU over a whole split, and benchmark label files.

    Per sample only small confusion matrices are kept (one over all points,
    one per range bin), so results gather cheaply across ranks. Returned
    keys (prefixed ``mos/`` by :class:`BaseMetric`), IoU as fractions:

    * ``IoU_moving``: the official moving IoU (the number MOS papers report),
    * ``precision_moving`` and ``recall_moving``: ``TP / (TP + FP)`` and
      ``TP / (TP + FN)`` of the moving class over the split, counted as the
      IoU (ground-truth unlabeled ignored, predicted unlabeled/movable = not
      moving); also per sequence (``precision_moving_seq<XX>``,
      ``recall_moving_seq<XX>``),
    * ``IoU_moving_object``: the object-level moving IoU, the mean over all
      ground-truth moving objects of the split of the per-object IoU
      ``TP_k / (TP_k + FN_k + FP_k)``. An object is one instance id ``k >
      0`` among the moving points of one scan (a car seen in 10 scans is
      10 objects), with at least ``object_min_points`` points; ``FP_k``
      counts the labelled non-moving points predicted moving inside the
      object's axis-aligned box grown by ``object_margin`` metres (see
      :func:`moving_object_counts`). So a model that finds every moving
      car but only half of each pedestrian scores low here even when the
      point-level IoU, dominated by large near objects, is high.
      ``num_moving_objects`` is the number of objects averaged (with none,
      ``IoU_moving_object`` is 0). Both keys
      are returned only when the samples carry instance ids
      (``gt_pts_seg.pts_instance_mask``, (N,) int: ``LoadMOSLabels`` adds
      ``pts_instance_mask`` = the upper 16 bits of each uint32 SemanticKITTI
      label and ``PackMOSInputs`` packs it); datasets whose labels hold no
      instance ids (nuScenes-MOS uint8 labels) get no object figures,
    * ``IoU_<class>`` of every other class but ``ignore_index`` (4-class
      IoU, e.g. ``IoU_static``, ``IoU_movable``) and their mean ``mIoU``,
    * ``IoU_moving_seq<XX>`` per sequence and ``IoU_moving_<a>-<b>m`` per
      horizontal-range bin (``sqrt(x^2 + y^2)`` of
      ``data_batch['inputs']['points']``),
    * ``num_scans`` and ``num_points``: the scans and points counted (each
      scan of the split once, also when several ranks evaluate).

    A table with all figures and point counts goes to the current logger;
    :func:`summarize_metrics` makes the one-line summary ``tools/test.py``
    prints.

    With ``submission_prefix`` every prediction is written, in file order
    and one label per input point, to
    ``<submission_prefix>/sequences/<sequence>/predictions/<frame:06d>.label``
    (uint32 raw ids from ``submission_label_map``). ``format_only=True``
    only writes the files (for the unlabeled test split) and returns ``{}``.

    Args:
        class_names (sequence of str, optional): Names of the train ids.
            None (default) takes the dataset's ``metainfo['classes']``
            (``('unlabeled', 'static', 'movable', 'moving')`` until the
            runner sets it).
        ignore_index (int or str, optional): Ground-truth id that is
            ignored; ``'auto'`` (default) is the id of ``'unlabeled'`` if
            there is such a class, else nothing is ignored.
        moving_class (int, optional): Train id of the moving class; None
            (default) is the id of ``'moving'``.
        range_bins (sequence of float): Increasing bin edges in metres; the
            last bin is open. Defaults to ``(0, 10, 20, 30, 50)``.
        object_margin (float): Growth [m] of an object's box in which its
            false positives are counted. Defaults to 0.3.
        object_min_points (int): Fewest points of a counted object.
            Defaults to 5.
        submission_prefix (str, optional): Folder of the label files.
        format_only (bool): Only write the label files. Defaults to False.
        submission_label_map (dict, optional): Train id -> raw label written.
            Defaults to moving -> 251 and every other id -> 9 (static): the
            benchmark knows only these two.
        collect_device (str): Device used to gather results across ranks.
        prefix (str, optional): Key prefix. Defaults to ``'mos'``.
        collect_dir (str, optional): Folder used to gather results on CPU.
    """

    default_prefix = 'mos'

    def __init__(self,
                 class_names: Optional[Sequence[str]] = None,
                 ignore_index: Union[int, None, str] = 'auto',
                 moving_class: Optional[int] = None,
                 range_bins: Sequence[float] = (0, 10, 20, 30, 50),
                 object_margin: float = 0.3,
                 object_min_points: int = 5,
                 submission_prefix: Optional[str] = None,
                 format_only: bool = False,
                 submission_label_map: Optional[Mapping[int, int]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix,
            collect_dir=collect_dir)
        self.range_bins = tuple(float(b) for b in range_bins)
        if list(self.range_bins) != sorted(set(self.range_bins)):
            raise ValueError('MOSMetric: range_bins must be increasing, got '
                             f'{self.range_bins}')
        if format_only and not submission_prefix:
            raise ValueError('MOSMetric: format_only=True needs a '
                             'submission_prefix to write the labels to')
        if object_margin < 0 or object_min_points < 1:
            raise ValueError(
                'MOSMetric: object_margin must be >= 0 and object_min_points '
                f'>= 1, got {object_margin} and {object_min_points}')
        self.object_margin = float(object_margin)
        self.object_min_points = int(object_min_points)
        self.submission_prefix = submission_prefix
        self.format_only = format_only
        self._class_args = (class_names, ignore_index, moving_class,
                            submission_label_map)
        self._set_classes(MOS_CLASSES if class_names is None else class_names)

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Meta info of the dataset; its ``classes`` name the train ids
        unless ``class_names`` was given."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        if self._class_args[0] is None and dataset_meta and \
                dataset_meta.get('classes'):
            self._set_classes(dataset_meta['classes'])

    def _set_classes(self, class_names: Sequence[str]) -> None:
        """Resolve the class ids and the submission map for these names."""
        _, ignore_index, moving_class, label_map = self._class_args
        names = tuple(class_names)
        if ignore_index == 'auto':
            ignore_index = names.index('unlabeled') \
                if 'unlabeled' in names else None
        if moving_class is None:
            if 'moving' not in names:
                raise ValueError(f'MOSMetric: no class named "moving" in '
                                 f'{names}; set moving_class')
            moving_class = names.index('moving')
        if not 0 <= moving_class < len(names):
            raise ValueError(f'MOSMetric: moving_class {moving_class} is not '
                             f'a train id of {names}')
        if label_map is None:
            label_map = {c: 251 if c == moving_class else 9
                         for c in range(len(names))}
        missing = set(range(len(names))) - set(label_map)
        if missing:
            raise ValueError(f'MOSMetric: submission_label_map has no raw '
                             f'label for train ids {sorted(missing)}')
        self.class_names = names
        self.num_classes = len(names)
        self.ignore_index = ignore_index
        self.moving_class = moving_class
        self._lut = np.array([label_map[i] for i in range(len(names))],
                             dtype=np.uint32)

    # ------------------------------------------------------------------
    def range_bin_names(self) -> List[str]:
        """Names of the range bins, e.g. ``['0-10m', ..., '50+m']``."""
        edges = [f'{b:g}' for b in self.range_bins]
        return [f'{a}-{b}m' for a, b in zip(edges[:-1], edges[1:])
                ] + [f'{edges[-1]}+m']

    def process(self, data_batch: dict,
                data_samples: Sequence[dict]) -> None:
        """Count one batch; write its label files if asked.

        Args:
            data_batch (dict): The batch from the dataloader; its
                ``inputs['points']`` list ((N_b, >=3) x, y, z [m], ...) gives
                the point ranges and the point counts.
            data_samples (sequence of dict): Model outputs with
                ``pred_pts_seg.pts_semantic_mask`` (N_b,), the ground truth
                ``gt_pts_seg.pts_semantic_mask`` (N_b,) unless
                ``format_only``, optionally ``gt_pts_seg.pts_instance_mask``
                (N_b,) instance ids (for the object-level IoU; needs the
                points), and the meta keys ``lidar_path``,
                ``sequence`` and ``frame_id``.
        """
        points = None
        if isinstance(data_batch, dict):
            points = data_batch.get('inputs', {}).get('points')
        for i, sample in enumerate(data_samples):
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            name = str(sample.get('lidar_path', f'sample {i}'))
            pred = _to_numpy(_nested(sample, 'pred_pts_seg',
                                     'pts_semantic_mask', name))
            xyz = None if points is None else _to_numpy(points[i])
            if xyz is not None and len(xyz) != len(pred):
                raise ValueError(
                    f'MOSMetric: {name}: {len(pred)} predictions for '
                    f'{len(xyz)} input points')
            if 'num_points' in sample and int(sample['num_points']) != len(
                    pred):
                raise ValueError(
                    f'MOSMetric: {name}: {len(pred)} predictions but the scan '
                    f'has {int(sample["num_points"])} points')
            if self.submission_prefix:
                self._write_submission(sample, pred, name)
            if self.format_only:
                self.results.append(dict(sequence=None))
                continue
            gt = sample.get('gt_pts_seg', {}).get('pts_semantic_mask')
            if gt is None:
                raise ValueError(
                    f'MOSMetric: {name} has no ground-truth labels '
                    '(gt_pts_seg.pts_semantic_mask); use format_only=True '
                    'with a submission_prefix for the unlabeled test split')
            gt = _to_numpy(gt)
            if len(gt) != len(pred):
                raise ValueError(f'MOSMetric: {name}: {len(pred)} predictions '
                                 f'for {len(gt)} labels')
            for arr, what in ((gt, 'labels'), (pred, 'predictions')):
                if arr.size and (arr.min() < 0
                                 or arr.max() >= self.num_classes):
                    raise ValueError(
                        f'MOSMetric: {name}: {what} outside 0..'
                        f'{self.num_classes - 1}')
            result = dict(
                sequence=str(sample.get('sequence', 'unknown')),
                conf=confusion_matrix(gt, pred, self.num_classes))
            instance = sample.get('gt_pts_seg', {}).get('pts_instance_mask')
            if instance is not None:
                instance = _to_numpy(instance)
                if len(instance) != len(gt):
                    raise ValueError(
                        f'MOSMetric: {name}: {len(instance)} instance ids for '
                        f'{len(gt)} labels')
                if xyz is None:
                    raise ValueError(
                        f'MOSMetric: {name}: instance ids but no input points '
                        "(data_batch['inputs']['points']) to place objects")
                result['objects'] = moving_object_counts(
                    gt, pred, instance, xyz, self.moving_class,
                    self.ignore_index, self.object_margin,
                    self.object_min_points)
            if xyz is not None:
                rng = np.hypot(xyz[:, 0], xyz[:, 1])
                bins = np.digitize(rng, self.range_bins[1:])
                n_cls = self.num_classes
                result['conf_range'] = np.bincount(
                    (bins * n_cls + gt.astype(np.int64)) * n_cls +
                    pred.astype(np.int64),
                    minlength=len(self.range_bins) * n_cls * n_cls).reshape(
                        len(self.range_bins), n_cls, n_cls)
            self.results.append(result)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """IoUs over the whole split from the gathered confusion matrices.

        Args:
            results (list): The dicts made by :meth:`process` on all ranks.

        Returns:
            dict[str, float]: IoUs (fractions), see the class docstring.
        """
        if self.format_only:
            print_log(
                f'MOSMetric: wrote {len(results)} label files under '
                f'{osp.join(self.submission_prefix, "sequences")}',
                logger='current')
            return {}
        n_cls = self.num_classes
        total = np.zeros((n_cls, n_cls), dtype=np.int64)
        per_seq: Dict[str, np.ndarray] = {}
        per_range = None
        with_objects = ['objects' in res for res in results]
        if any(with_objects) and not all(with_objects):
            raise ValueError(
                f'MOSMetric: {sum(with_objects)} of {len(results)} scans carry '
                'instance ids (gt_pts_seg.pts_instance_mask); the object-level '
                'IoU needs them on every scan or none')
        for res in results:
            total += res['conf']
            seq = per_seq.setdefault(res['sequence'],
                                     np.zeros_like(total))
            seq += res['conf']
            if 'conf_range' in res:
                per_range = (res['conf_range'].copy() if per_range is None
                             else per_range + res['conf_range'])
        rows: List[Tuple[str, np.ndarray]] = [('all', total)]
        rows += [(f'seq {s}', c) for s, c in sorted(per_seq.items())]
        if per_range is not None:
            rows += [(f'range {n}', c) for n, c in zip(
                self.range_bin_names(), per_range)]

        classes = [c for c in range(n_cls) if c != self.ignore_index]
        iou = iou_from_confusion(total, self.ignore_index)
        metrics = {f'IoU_{self.class_names[c]}': float(iou[c])
                   for c in classes}
        metrics['mIoU'] = float(np.mean([iou[c] for c in classes]))
        # what was counted: every scan of the split exactly once
        metrics['num_scans'] = len(results)
        metrics['num_points'] = int(total.sum())
        moving = self.class_names[self.moving_class]
        prec, rec = precision_recall_from_confusion(
            total, self.moving_class, self.ignore_index)
        metrics[f'precision_{moving}'] = prec
        metrics[f'recall_{moving}'] = rec
        objects = None
        if results and all(with_objects):
            objects = np.concatenate([res['objects'] for res in results])
            tp, fn, fp = objects.T.astype(np.float64)
            metrics[f'IoU_{moving}_object'] = float(
                np.mean(tp / (tp + fn + fp))) if len(objects) else 0.0
            metrics[f'num_{moving}_objects'] = int(len(objects))
        for seq, conf in sorted(per_seq.items()):
            metrics[f'IoU_{moving}_seq{seq}'] = float(
                iou_from_confusion(conf, self.ignore_index)[self.moving_class])
            prec, rec = precision_recall_from_confusion(
                conf, self.moving_class, self.ignore_index)
            metrics[f'precision_{moving}_seq{seq}'] = prec
            metrics[f'recall_{moving}_seq{seq}'] = rec
        if per_range is not None:
            for name, conf in zip(self.range_bin_names(), per_range):
                metrics[f'IoU_{moving}_{name}'] = float(
                    iou_from_confusion(conf,
                                       self.ignore_index)[self.moving_class])
        table = self._table(rows, classes)
        if objects is not None:
            table += (f'\nobject-level {moving} IoU '
                      f'{100 * metrics[f"IoU_{moving}_object"]:.2f} % over '
                      f'{len(objects)} objects (>= {self.object_min_points} '
                      f'points; false positives within {self.object_margin:g} '
                      'm of the object box)')
        print_log('\n' + table, logger='current')
        return metrics

    # ------------------------------------------------------------------
    def _table(self, rows: List[Tuple[str, np.ndarray]],
               classes: List[int]) -> str:
        """A text table: labelled and moving point counts, IoUs in %."""
        head = ['subset', 'labelled pts',
                f'{self.class_names[self.moving_class]} pts']
        head += [f'IoU {self.class_names[c]} %' for c in classes]
        head += [f'P {self.class_names[self.moving_class]} %',
                 f'R {self.class_names[self.moving_class]} %']
        lines = []
        for name, conf in rows:
            labelled = conf.sum() - (conf[self.ignore_index].sum()
                                     if self.ignore_index is not None else 0)
            iou = iou_from_confusion(conf, self.ignore_index)
            lines.append([name, str(int(labelled)),
                          str(int(conf[self.moving_class].sum()))] +
                         [f'{100 * iou[c]:.2f}' for c in classes] +
                         [f'{100 * v:.2f}' for v in
                          precision_recall_from_confusion(
                              conf, self.moving_class, self.ignore_index)])
        widths = [max(len(r[j]) for r in [head] + lines)
                  for j in range(len(head))]
        fmt = '  '.join(f'{{:>{w}}}' for w in widths)
        out = [fmt.format(*head), '  '.join('-' * w for w in widths)]
        out += [fmt.format(*r) for r in lines]
        return 'SemanticKITTI-MOS (official protocol: GT unlabeled ignored, ' \
            'predicted unlabeled/movable = not moving)\n' + '\n'.join(out)

    def _write_submission(self, sample: dict, pred: np.ndarray,
                          name: str) -> None:
        """Write ``sequences/<seq>/predictions/<frame:06d>.label``."""
        if 'sequence' not in sample or 'frame_id' not in sample:
            raise ValueError(f'MOSMetric: {name}: the sample has no '
                             "'sequence'/'frame_id' meta keys, so its "
                             'submission file cannot be named')
        if pred.size and (pred.min() < 0 or pred.max() >= self.num_classes):
            raise ValueError(f'MOSMetric: {name}: predictions outside 0..'
                             f'{self.num_classes - 1}')
        path = osp.join(self.submission_prefix, 'sequences',
                        str(sample['sequence']), 'predictions',
                        f'{int(sample["frame_id"]):06d}.label')
        write_labels(path, self._lut[pred.astype(np.int64)])


def _nested(sample: dict, key: str, sub: str, name: str):
    """``sample[key][sub]`` with an error naming the sample if missing."""
    try:
        return sample[key][sub]
    except (KeyError, TypeError):
        raise KeyError(f'MOSMetric: {name} has no {key}.{sub}') from None


def _to_numpy(x) -> np.ndarray:
    """A tensor or array as a numpy array on the CPU."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
