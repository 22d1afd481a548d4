"""``make demo`` end to end at smoke size (kdmos_plugin.apis.demo).

One tiny run of every stage (synthetic data, teacher, logits, plain and
distilled student, evaluation, latency, picture, report) into temporary
folders; the report's numbers are checked against the data on disk and
against each other, not against fixed values.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.apis.demo import Demo, clear_output_dir
from kdmos_plugin.datasets.teacher_logits import logits_path
from kdmos_plugin.datasets.kitti_io import read_points

TRAIN_SCANS = 8
#: not the config's default sequences: the demo must pass its own along
TRAIN_SEQUENCES = ['01', '04']
VAL_SCANS = 10  # the report times frames 8.. of the held-out sequence


def test_demo_smoke(tmp_path):
    one_epoch = ['train_cfg.max_epochs=1', 'param_scheduler.0.total_steps=1',
                 'param_scheduler.0.end=1']
    demo = Demo(work_dir=str(tmp_path / 'demo'), seeds=[3],
                num_train_scans=TRAIN_SCANS, num_val_scans=VAL_SCANS,
                train_sequences=TRAIN_SEQUENCES,
                data_root=str(tmp_path / 'data'),
                logits_root=str(tmp_path / 'logits'),
                teacher_options=one_epoch,
                student_options=one_epoch)
    report = demo.run()

    # the data went where it was told, and only there
    seq_root = tmp_path / 'data' / 'sequences'
    assert sorted(p.name for p in seq_root.iterdir()) == TRAIN_SEQUENCES + [
        '08']
    val_bins = sorted((seq_root / '08' / 'velodyne').glob('*.bin'))
    assert len(val_bins) == VAL_SCANS
    val_points = sum(len(read_points(str(p))) for p in val_bins)

    # one logits file per training scan, rows == points of that scan
    for seq in TRAIN_SEQUENCES:
        bins = sorted((seq_root / seq / 'velodyne').glob('*.bin'))
        assert len(bins) == TRAIN_SCANS
        for frame, path in enumerate(bins):
            logits = np.load(logits_path(str(tmp_path / 'logits'), seq,
                                         frame))
            assert logits.shape == (len(read_points(str(path))), 4)

    # every model was evaluated on every held-out scan and point
    names = ['teacher', 'student_seed3', 'distilled_seed3']
    for name in names:
        metrics = report['metrics'][name]
        assert metrics['mos/num_scans'] == VAL_SCANS
        assert metrics['mos/num_points'] == val_points
        assert 0.0 <= metrics['mos/IoU_moving'] <= 1.0
    delta = (report['metrics']['distilled_seed3']['mos/IoU_moving'] -
             report['metrics']['student_seed3']['mos/IoU_moving'])
    assert report['distillation_delta'] == [delta]

    # the distilled checkpoint is a student checkpoint in its own work dir
    assert Path(report['checkpoints']['distilled_seed3']).is_relative_to(
        tmp_path / 'demo' / 'distilled_seed3')

    # report files: JSON equals the returned dict, Markdown has the table
    work = tmp_path / 'demo'
    assert json.loads((work / 'report.json').read_text()) == json.loads(
        json.dumps(report))
    md = (work / 'report.md').read_text()
    for row in ('| teacher (sparse 4-D) |', '| student (BEV, no KD) |',
                '| student + KD |'):
        assert row in md
    assert f'{100 * delta:+.1f}' in md
    png = (work / 'bev_val.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    for t in report['latency_ms'].values():
        assert t['model_ms'] > 0 and t['data_ms'] > 0


def test_demo_refuses_to_delete_a_folder_it_did_not_write(tmp_path):
    data = tmp_path / 'my_kitti'
    (data / 'sequences' / '00').mkdir(parents=True)
    scan = data / 'sequences' / '00' / 'keep.bin'
    scan.write_bytes(b'\0' * 16)
    demo = Demo(work_dir=str(tmp_path / 'demo'), data_root=str(data))
    with pytest.raises(FileExistsError, match='not written by the demo'):
        demo.make_data()
    assert scan.is_file()
    # a folder the demo wrote (its stamp) is replaced
    (data / 'demo_stamp.json').write_text('{}')
    clear_output_dir(data, 'demo_stamp.json')
    assert not data.exists()
