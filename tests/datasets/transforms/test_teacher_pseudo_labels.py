"""TeacherPseudoLabels: the teacher's labels on unlabelled sequences."""
import numpy as np
import pytest

from kdmos_plugin.datasets.transforms import TeacherPseudoLabels


def _results(seq, logits, labels):
    return dict(sequence=seq, lidar_path=f'{seq}/000000.bin',
                teacher_logits=np.asarray(logits, np.float32),
                pts_semantic_mask=np.asarray(labels, np.int64))


def test_replaces_labels_of_listed_sequences_only():
    logits = [[9.0, 0.1, 0.2, 0.3],   # class 0 largest: not a label -> 3
              [0.0, 2.0, 1.0, 0.0],   # 1
              [0.0, -1.0, 0.5, 0.4],  # 2
              [0.0, 0.0, 0.0, 7.0]]   # 3
    gt = [0, 3, 3, 1]
    out = TeacherPseudoLabels(['03', '05'])(_results('05', logits, gt))
    # literal: argmax of each row over columns 1..3, plus one
    expected = []
    for row in logits:
        best = max(range(1, 4), key=lambda c: row[c])
        expected.append(best)
    assert out['pts_semantic_mask'].tolist() == expected == [3, 1, 2, 3]
    assert out['pts_semantic_mask'].dtype == np.int64

    kept = TeacherPseudoLabels(['03', '05'])(_results('00', logits, gt))
    assert kept['pts_semantic_mask'].tolist() == gt


def test_refuses_missing_logits_and_a_string():
    res = _results('03', [[0, 1, 2, 3]], [1])
    del res['teacher_logits']
    with pytest.raises(KeyError, match='03/000000.bin.*LoadTeacherLogits'):
        TeacherPseudoLabels(['03'])(res)
    with pytest.raises(TypeError, match='list of names'):
        TeacherPseudoLabels('03')
