"""``make demo`` end to end at smoke size (kdmos_plugin.apis.demo).

One tiny run of every stage (synthetic data, teacher, logits, plain and
distilled student, evaluation, latency, picture, report) into temporary
folders; the report's numbers are checked against the data on disk and
against each other, not against fixed values.
"""
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mmengine.config import Config

from kdmos_plugin.apis.demo import (KD_UNLABELLED_CFG, REPO, STAMP,
                                    STUDENT_CFG, TEACHER_CFG, Demo,
                                    clear_output_dir, member_options,
                                    run_jobs)
from kdmos_plugin.apis.demo_report import target_lines, timing_frames
from kdmos_plugin.apis.demo_stats import paired_gain
from kdmos_plugin.datasets.teacher_logits import MANIFEST_NAME, logits_path
from kdmos_plugin.datasets.kitti_io import read_points
from kdmos_plugin.datasets.transforms import TeacherPseudoLabels

_TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'demo.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('tools_demo', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

TRAIN_SCANS = 8
#: not the config's default sequences: the demo must pass its own along
TRAIN_SEQUENCES = ['01', '04']
VAL_SEQUENCES = ['08', '09']  # scored together
VAL_SCANS = 10  # the report times frames 8.. of the held-out sequence


def test_demo_smoke(tmp_path):
    one_epoch = ['train_cfg.max_epochs=1', 'param_scheduler.0.total_steps=1',
                 'param_scheduler.0.end=1']
    demo = Demo(work_dir=str(tmp_path / 'demo'), seeds=[3],
                num_train_scans=TRAIN_SCANS, num_val_scans=VAL_SCANS,
                train_sequences=TRAIN_SEQUENCES, val_sequences=VAL_SEQUENCES,
                labelled_sequences=TRAIN_SEQUENCES[:1], jobs=2,
                data_root=str(tmp_path / 'data'),
                logits_root=str(tmp_path / 'logits'),
                teacher_options=one_epoch,
                student_options=one_epoch, teacher_members=2)
    report = demo.run()

    # the data went where it was told, and only there
    seq_root = tmp_path / 'data' / 'sequences'
    assert sorted(p.name for p in seq_root.iterdir()) == (TRAIN_SEQUENCES +
                                                          VAL_SEQUENCES)
    val_bins = [p for seq in VAL_SEQUENCES
                for p in sorted((seq_root / seq / 'velodyne').glob('*.bin'))]
    assert len(val_bins) == VAL_SCANS * len(VAL_SEQUENCES)
    val_points = sum(len(read_points(str(p))) for p in val_bins)

    # each teacher: one logits file per training scan (also the scans the
    # labelled-only teacher did not learn from), rows == points of the scan
    for teacher in ('teacher', 'teacher_labelled'):
        for seq in TRAIN_SEQUENCES:
            bins = sorted((seq_root / seq / 'velodyne').glob('*.bin'))
            assert len(bins) == TRAIN_SCANS
            for frame, path in enumerate(bins):
                logits = np.load(logits_path(
                    str(tmp_path / 'logits' / teacher), seq, frame))
                assert logits.shape == (len(read_points(str(path))), 4)

    # each teacher is the ensemble of two trainings: member 0 the one a
    # single-teacher demo trains (the config's seed), member 1 seed 1
    own_seed = Config.fromfile(str(REPO / TEACHER_CFG)).randomness.seed
    assert own_seed != 1
    for teacher in ('teacher', 'teacher_labelled'):
        for i, seed in enumerate((own_seed, 1)):
            dumped = Config.fromfile(str(
                tmp_path / 'demo' / f'{teacher}_member{i}' /
                Path(TEACHER_CFG).name))
            assert dumped.randomness.seed == seed
        merged = torch.load(report['checkpoints'][teacher],
                            weights_only=True)
        assert [m['file'] for m in merged['meta']['members']] == [
            Path(report['checkpoints'][f'{teacher}_member{i}']).name
            for i in range(2)]

    # the labelled-only runs trained on the labelled sequence only
    for name, config in (('teacher_labelled_member0', TEACHER_CFG),
                         ('student_labelled_seed3', STUDENT_CFG),
                         ('distilled_unlabelled_seed3', KD_UNLABELLED_CFG)):
        dumped = Config.fromfile(
            str(tmp_path / 'demo' / name / Path(config).name))
        train = dumped.train_dataloader.dataset
        # (--cfg-options delivers sequences=[01] as the integer 1)
        seqs = [f'{int(s):02d}' for s in train.sequences]
        if name.startswith('distilled'):  # all scans, labels of '01' only
            assert seqs == TRAIN_SEQUENCES
            steps = [s for s in train.pipeline
                     if s['type'] == 'TeacherPseudoLabels']
            assert [TeacherPseudoLabels(s['sequences']).sequences
                    for s in steps] == [{'04'}]
        else:
            assert seqs == ['01']

    # every model was evaluated on every held-out scan and point
    names = ['teacher', 'teacher_member0', 'teacher_member1',
             'student_seed3', 'distilled_seed3', 'teacher_labelled',
             'teacher_labelled_member0', 'teacher_labelled_member1',
             'student_labelled_seed3', 'distilled_unlabelled_seed3']
    for name in names:
        metrics = report['metrics'][name]
        assert metrics['mos/num_scans'] == VAL_SCANS * len(VAL_SEQUENCES)
        assert metrics['mos/num_points'] == val_points
        assert 0.0 <= metrics['mos/IoU_moving'] <= 1.0
    for setting, plain, kd in (
            ('paper', 'student_seed3', 'distilled_seed3'),
            ('unlabelled', 'student_labelled_seed3',
             'distilled_unlabelled_seed3')):
        delta = (report['metrics'][kd]['mos/IoU_moving'] -
                 report['metrics'][plain]['mos/IoU_moving'])
        assert report['settings'][setting]['gain']['deltas'] == [delta]
    delta = report['settings']['paper']['gain']['deltas'][0]
    assert report['distillation_delta'] == [delta]
    # every folder the demo wrote is stamped as its own
    for name in names:
        assert (tmp_path / 'demo' / name / STAMP).is_file()

    # the distilled checkpoint is a student checkpoint in its own work dir
    assert Path(report['checkpoints']['distilled_seed3']).is_relative_to(
        tmp_path / 'demo' / 'distilled_seed3')

    # report files: JSON equals the returned dict, Markdown has the table
    work = tmp_path / 'demo'
    assert json.loads((work / 'report.json').read_text()) == json.loads(
        json.dumps(report))
    md = (work / 'report.md').read_text()
    for row in ('| teacher (sparse 4-D, mean of 2) |',
                '| student (BEV, no KD) |', '| student + KD |',
                '| student + KD on unlabelled scans |', '| 3 | '):
        assert row in md
    assert f'{100 * delta:+.1f}' in md
    member_iou = [report['metrics'][f'teacher_member{i}']['mos/IoU_moving']
                  for i in range(2)]
    alone = ', '.join(f'{100 * v:.1f}' for v in member_iou)
    assert f'moving IoU of each alone: teacher {alone};' in md
    assert "member 0 with the teacher config's own seed" in md
    png = (work / 'bev_val.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    for t in report['latency_ms'].values():
        assert t['model_ms'] > 0 and t['data_ms'] > 0
    # the deployed (bf16 graph) student is timed beside the fp32 one
    lat = report['latency_ms']
    assert set(lat) == {'teacher', 'student', 'distilled', 'student_bf16'}
    assert 0.9 <= lat['student_bf16']['agreement'] <= 1.0
    assert report['teacher_student_bf16_time_ratio'] == pytest.approx(
        lat['teacher']['total_ms'] / lat['student_bf16']['total_ms'])
    assert report['teacher_student_time_ratio'] == pytest.approx(
        lat['teacher']['total_ms'] / lat['student']['total_ms'])


# ---- paired statistics (kdmos_plugin.apis.demo_stats) ----
#: Two-sided 95% Student-t quantiles t_{0.975, df} from a printed table.
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262}


@pytest.mark.parametrize('plain, kd', [
    ([0.70, 0.72, 0.69, 0.75, 0.71], [0.74, 0.73, 0.73, 0.76, 0.70]),
    ([0.5, 0.6], [0.55, 0.58]),
    ([0.81, 0.79, 0.80, 0.78], [0.84, 0.80, 0.83, 0.83]),
])
def test_paired_gain_matches_a_literal_computation(plain, kd):
    gain = paired_gain(plain, kd)
    n = len(plain)
    deltas = []
    for i in range(n):
        deltas.append(kd[i] - plain[i])
    mean = sum(deltas) / n
    var = sum((d - mean) ** 2 for d in deltas) / (n - 1)
    half = T_TABLE[n - 1] * var ** 0.5 / n ** 0.5
    assert gain['deltas'] == pytest.approx(deltas, abs=1e-12)
    assert gain['mean'] == pytest.approx(mean, abs=1e-12)
    assert gain['std'] == pytest.approx(var ** 0.5, abs=1e-12)
    # the printed table has 3 decimals
    assert gain['ci'][0] == pytest.approx(mean - half, abs=2e-3 * half)
    assert gain['ci'][1] == pytest.approx(mean + half, abs=2e-3 * half)
    assert gain['helped'] == sum(1 for d in deltas if d > 0)
    assert gain['n'] == n


def test_paired_gain_of_one_seed_and_mismatched_lists():
    gain = paired_gain([0.5], [0.6])
    assert gain['ci'] is None and gain['helped'] == 1
    assert gain['mean'] == pytest.approx(0.1)
    with pytest.raises(ValueError, match='same seeds'):
        paired_gain([0.5, 0.6], [0.6])


def test_targets_are_judged_on_the_numbers():
    good = paired_gain([0.70, 0.71, 0.72, 0.70, 0.71],
                       [0.73, 0.74, 0.75, 0.73, 0.72])
    lines = target_lines(0.80, [0.70, 0.71, 0.72, 0.70, 0.71], good, 4.0)
    assert all(line.endswith(': met') for line in lines), lines
    bad = paired_gain([0.70, 0.80], [0.69, 0.85])
    lines = target_lines(0.78, [0.70, 0.80], bad, 1.1)
    assert all(line.endswith('**missed**') for line in lines), lines


def test_timing_frames_fit_any_sequence_length():
    assert timing_frames(80) == [8, 9, 10, 11, 12]
    assert timing_frames(10) == [5, 6, 7, 8, 9]
    assert timing_frames(2) == [0, 1]


# ---- arguments checked before any work (issue 15 item 6) ----
@pytest.mark.parametrize('argv, message', [
    (['--val-scans', '1'], 'val scans 1'),
    (['--seeds', '3', '3'], 'seeds repeat'),
    (['--train-scans', '0'], 'train scans 0'),
    (['--jobs', '0'], 'jobs 0'),
    (['--teacher-members', '0'], 'teacher members 0 < 1'),
    (['--val-sequences', '08', '01'], r"held-out sequence\(s\) \['01'\]"),
    (['--train-sequences', '00', '01', '--val-sequences', '08', '08'],
     'held-out sequences repeat'),
])
def test_bad_arguments_stop_before_any_work(tmp_path, argv, message):
    main = _load_tool().main
    work, data = tmp_path / 'demo', tmp_path / 'data'
    with pytest.raises(SystemExit, match=message):
        main(['--work-dir', str(work), '--data-root', str(data),
              '--logits-root', str(tmp_path / 'logits'), *argv])
    assert not work.exists() and not data.exists()
    assert not (tmp_path / 'logits').exists()


# ---- a user's files stay byte-identical (issue 15 item 2a) ----
def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).digest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_demo_leaves_a_users_files_byte_identical(tmp_path):
    main = _load_tool().main
    user = tmp_path / 'user'
    # a work dir the demo made earlier, with the user's own training in a
    # folder of a name the demo uses
    work = user / 'work'
    (work / 'teacher').mkdir(parents=True)
    (work / STAMP).write_text('{}')
    (work / 'teacher' / 'epoch_50.pth').write_bytes(b'my weights')
    # logits written by dump_teacher_logits (its manifest, no demo stamp)
    logits = user / 'logits'
    (logits / 'sequences' / '00' / 'teacher_logits').mkdir(parents=True)
    (logits / MANIFEST_NAME).write_text('{"num_classes": 4}')
    (logits / 'sequences' / '00' / 'teacher_logits' /
     '000000.npy').write_bytes(b'my logits')
    # a real dataset given as --data-root
    data = user / 'kitti'
    (data / 'sequences' / '00' / 'velodyne').mkdir(parents=True)
    (data / 'sequences' / '00' / 'velodyne' / '000000.bin').write_bytes(
        b'\0' * 16)
    before = _snapshot(user)

    runs = [  # each refused before any work, naming the folder
        (['--work-dir', work, '--logits-root', tmp_path / 'l1',
          '--data-root', tmp_path / 'd1'], work / 'teacher'),
        (['--work-dir', tmp_path / 'w2', '--logits-root', logits,
          '--data-root', tmp_path / 'd2'], logits),
        (['--work-dir', tmp_path / 'w3', '--logits-root', tmp_path / 'l3',
          '--data-root', data], data),
        (['--work-dir', data, '--logits-root', tmp_path / 'l4',
          '--data-root', tmp_path / 'd4'], data),
    ]
    for argv, named in runs:
        with pytest.raises(SystemExit, match=f'{named} exists and was not '
                           'written by the demo'):
            main([str(a) for a in argv])
    assert _snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['user']


def test_clear_output_dir_replaces_only_stamped_folders(tmp_path):
    mine = tmp_path / 'mine'
    clear_output_dir(mine)  # created, stamped
    (mine / 'old.txt').write_text('old run')
    clear_output_dir(mine)
    assert sorted(p.name for p in mine.iterdir()) == [STAMP]
    empty = tmp_path / 'empty'
    empty.mkdir()
    clear_output_dir(empty)
    assert (empty / STAMP).is_file()
    theirs = tmp_path / 'theirs'
    theirs.mkdir()
    (theirs / MANIFEST_NAME).write_text('{}')  # a logits dump's, not ours
    with pytest.raises(FileExistsError, match='not written by the demo'):
        clear_output_dir(theirs)
    assert [p.name for p in theirs.iterdir()] == [MANIFEST_NAME]


def test_run_jobs_waits_for_after_and_stops_at_the_first_failure():
    """A task with ``after`` starts once that task is done; a failure is
    raised in task order, its dependants fail with it, and the tasks not
    yet started never run."""
    import threading
    import time
    events, lock = [], threading.Lock()

    def task(name, seconds=0.0, fail=False):
        def fn():
            with lock:
                events.append(f'start {name}')
            time.sleep(seconds)
            if fail:
                raise RuntimeError(f'{name} failed')
            with lock:
                events.append(f'end {name}')
        return fn

    done = []
    run_jobs([('teacher', task('teacher', 0.2), None),
              ('plain', task('plain'), None),
              ('kd', task('kd'), 'teacher')], jobs=2, on_done=done.append)
    assert events.index('end teacher') < events.index('start kd')
    assert done == ['teacher', 'plain', 'kd']
    events.clear()
    with pytest.raises(RuntimeError, match='teacher failed'):
        run_jobs([('teacher', task('teacher', 0.1, fail=True), None),
                  ('kd', task('kd'), 'teacher'),
                  ('late', task('late', 0.1), None),
                  ('later', task('later'), None)], jobs=1)
    assert 'start kd' not in events and 'start later' not in events
    with pytest.raises(ValueError, match="waits for 'teacher'"):
        run_jobs([('kd', task('kd'), 'teacher'),
                  ('teacher', task('teacher'), None)], jobs=2)
    # several to wait for: the slow one is not the last one listed
    events.clear()
    run_jobs([('m0', task('m0', 0.3), None), ('m1', task('m1'), None),
              ('ensemble', task('ensemble'), ['m0', 'm1'])], jobs=3)
    assert events.index('end m0') < events.index('start ensemble')
    assert events.index('end m1') < events.index('start ensemble')
    with pytest.raises(ValueError, match="waits for 'm1'"):
        run_jobs([('m0', task('m0'), None),
                  ('ensemble', task('ensemble'), ('m0', 'm1')),
                  ('m1', task('m1'), None)], jobs=2)


def test_member_options_apply_model_keys_to_every_member():
    assert member_options(['train_cfg.max_epochs=1',
                           'model.backbone.channels=[8,16]'], 3) == [
        'train_cfg.max_epochs=1', 'model.member.backbone.channels=[8,16]',
        'model.num_members=3']


def test_member_zero_is_the_teacher_trained_alone(tmp_path, monkeypatch):
    """Member 0 is trained with the options of the one-teacher demo's
    teacher (no seed of its own), member i > 0 with seed i after them."""
    import kdmos_plugin.apis.demo as demo_module
    monkeypatch.setattr(demo_module, 'run_tool', lambda *a, **k: 0.0)
    calls = []

    def record(name, config, options, *rest):
        calls.append((name, config, list(options)))

    epochs = ['train_cfg.max_epochs=1']
    alone = Demo(work_dir=tmp_path / 'alone', teacher_members=1,
                 teacher_options=epochs)
    monkeypatch.setattr(alone, 'train_and_test', record)
    alone.checkpoints['teacher'] = 'teacher.pth'
    alone.teacher_job('teacher', tmp_path / 'logits', False)
    ensemble = Demo(work_dir=tmp_path / 'ensemble', teacher_members=3,
                    teacher_options=epochs)
    monkeypatch.setattr(ensemble, 'train_and_test', record)
    for i in range(3):
        ensemble.member_job(f'teacher_member{i}', i, False)
    assert calls == [
        ('teacher', TEACHER_CFG, epochs),
        ('teacher_member0', TEACHER_CFG, epochs),
        ('teacher_member1', TEACHER_CFG, epochs + ['randomness.seed=1']),
        ('teacher_member2', TEACHER_CFG, epochs + ['randomness.seed=2'])]


def test_noncausal_teacher_is_trained_tested_and_dumped_as_one(
        tmp_path, monkeypatch):
    """``teacher='noncausal'``: every teacher training, the ensemble's test
    and the dump use the non-causal configs, whose members read 3 future
    scans; an unknown kind is refused before any work."""
    import kdmos_plugin.apis.demo as demo_module
    tools, trained = [], []
    monkeypatch.setattr(demo_module, 'run_tool',
                        lambda args, *a, **k: tools.append(args) or 0.0)
    demo = Demo(work_dir=tmp_path / 'nc', teacher_members=2,
                teacher='noncausal')
    monkeypatch.setattr(demo, 'train_and_test',
                        lambda name, config, *rest: trained.append(config))
    monkeypatch.setattr(demo, 'test_model',
                        lambda name, config, *rest: trained.append(config))
    for i in range(2):
        demo.member_job(f'teacher_member{i}', i, False)
        demo.checkpoints[f'teacher_member{i}'] = f'm{i}.pth'
        demo.times[f'train_teacher_member{i}_s'] = 1.0
    demo.teacher_job('teacher', tmp_path / 'logits', False)
    single, ensemble = demo_module.TEACHERS['noncausal']
    assert trained == [single, single, ensemble]
    dump = [t for t in tools if t[0] == 'tools/dump_teacher_logits.py']
    assert len(dump) == 1 and dump[0][1] == ensemble
    for name in (single, ensemble):
        cfg = Config.fromfile(str(REPO / name))
        member = cfg.model.get('member', cfg.model)
        assert member.voxel_encoder.min_age == -3
        for loader in ('train_dataloader', 'test_dataloader'):
            load = cfg[loader].dataset.pipeline[0]
            assert load.num_future == 3 and load.future_in_multi_points
    with pytest.raises(ValueError, match='unknown teacher'):
        Demo(work_dir=tmp_path / 'bad', teacher='oracle')
