"""The cross-sensor experiment: its plan, commands and table, the folders
it refuses, and the whole ``--quick`` run (data, every training, logits,
every score, the tables)."""
import json
from pathlib import Path

import pytest

from kdmos_plugin.apis.cross_sensor import (HELD_OUT, KD_CFG, MODES, ROWS,
                                            STAMP, STUDENT_CFG, TABLE_KEYS,
                                            TEACHER_CFG, data_command,
                                            dump_command, evaluate_command,
                                            make_plan, metrics_path,
                                            plan_for_mode, results_table,
                                            run, train_command)

REPO = Path(__file__).resolve().parents[2]


def _option(cmd, prefix):
    hits = [a for a in cmd if a.startswith(prefix)]
    assert len(hits) == 1, (prefix, cmd)
    return hits[0][len(prefix):]


def test_plan_sets_runs_and_commands(tmp_path):
    plan = make_plan(str(tmp_path), scans=4, epochs=2, teacher_epochs=3,
                     test_scans=5, held_out=['hdl32e-2hz', 'vlp16-10hz'])
    assert [d.name for d in plan.train_sets] == [
        'hdl64e', 'randomised', 'own-hdl32e-2hz', 'own-vlp16-10hz']
    assert list(plan.test_sets) == ['hdl32e-2hz', 'vlp16-10hz']
    assert [(r.name, r.row) for r in plan.runs] == [
        ('hdl64e', 'hdl64e'), ('randomised', 'randomised'),
        ('own-hdl32e-2hz', 'own'), ('own-vlp16-10hz', 'own'),
        ('randomised-teacher', 'randomised-teacher'),
        ('randomised-distilled', 'randomised-distilled')]
    own = plan.find_run('own-hdl32e-2hz')
    assert own.tests == ['hdl32e-2hz']
    assert plan.find_run('hdl64e').tests == ['hdl32e-2hz', 'vlp16-10hz']
    # data: sensor, rate, rich scenes; held-out sets: other scenes, sizes
    cmd = data_command(plan, own.train)
    assert cmd[cmd.index('--sensor') + 1] == 'hdl32e'
    assert cmd[cmd.index('--scan-rate') + 1] == '2'
    assert cmd[cmd.index('--scene-detail') + 1] == 'rich'
    assert cmd[cmd.index('--scans') + 1] == '4'
    assert '--scan-rate' not in data_command(plan, plan.train_sets[0])
    # a preset at its own rate keeps its name (and its noise figures)
    assert '--scan-rate' not in data_command(plan, plan.train_sets[3])
    assert data_command(plan, plan.train_sets[1])[-1] == 'random'
    test = data_command(plan, plan.test_sets['vlp16-10hz'])
    assert test[test.index('--seed') + 1] == '1'
    assert test[test.index('--scans') + 1] == '5'
    assert test[test.index('--sequences') + 1] == '08'
    # trainings: data, epochs, the teacher's own length, no validation
    train = train_command(plan, own)
    assert train[1] == STUDENT_CFG
    assert _option(train, 'train_dataloader.dataset.data_root=') == \
        str(tmp_path / 'data' / 'own-hdl32e-2hz')
    assert _option(train, 'train_cfg.max_epochs=') == '2'
    assert _option(train, 'train_dataloader.dataset.sequences=') == \
        '[00,01,02,03,04,05,11,12,13,14,15,16]'
    assert 'val_dataloader=None' in train
    teacher = plan.find_run('randomised-teacher')
    assert train_command(plan, teacher)[1] == TEACHER_CFG
    assert _option(train_command(plan, teacher),
                   'train_cfg.max_epochs=') == '3'
    # the distilled student reads the teacher's logits and is scored as a
    # student
    kd = plan.find_run('randomised-distilled')
    kd_train = train_command(plan, kd)
    assert kd_train[1] == KD_CFG
    assert any(a.endswith(f'.logits_root={plan.logits_dir(teacher)}')
               for a in kd_train)
    assert evaluate_command(plan, kd, 'vlp16-10hz', 'x.pth')[1] == \
        STUDENT_CFG
    dump = dump_command(plan, teacher, 't.pth')
    assert dump[:3] == ['tools/dump_teacher_logits.py', TEACHER_CFG,
                        't.pth']
    assert dump[dump.index('--out') + 1] == str(plan.logits_dir(teacher))
    # scores: the held-out data, the metrics file the table reads
    score = evaluate_command(plan, own, 'hdl32e-2hz', 'x.pth')
    assert score[score.index('--metrics-out') + 1] == str(
        metrics_path(plan, 'own-hdl32e-2hz', 'hdl32e-2hz'))
    assert _option(score, 'test_dataloader.dataset.data_root=') == \
        str(tmp_path / 'data' / 'test-hdl32e-2hz')
    assert set(HELD_OUT) == {'hdl32e-2hz', 'hdl32e-20hz', 'vlp16-10hz',
                             'os1-128-10hz'}


def test_plan_refuses_bad_sizes_and_names(tmp_path):
    with pytest.raises(ValueError, match='unknown held-out sensors'):
        make_plan(str(tmp_path), held_out=['hdl64e-5hz'])
    with pytest.raises(ValueError, match='overlap the training'):
        make_plan(str(tmp_path), test_sequences=['00'])
    with pytest.raises(ValueError, match='epochs 0 < 1'):
        make_plan(str(tmp_path), epochs=0)
    with pytest.raises(ValueError, match='unknown mode'):
        plan_for_mode(str(tmp_path), 'fast')


def test_only_randomised_plan_trains_the_teacher_and_its_student(tmp_path):
    plan = plan_for_mode(str(tmp_path), 'randomised')
    assert [d.name for d in plan.train_sets] == ['randomised']
    assert [r.name for r in plan.runs] == ['randomised-teacher',
                                           'randomised-distilled']
    assert list(plan.test_sets) == list(HELD_OUT)


def test_table_from_metrics_files(tmp_path, capsys):
    plan = make_plan(str(tmp_path), held_out=['vlp16-10hz', 'hdl32e-20hz'])
    values = {('hdl64e', 'vlp16-10hz'): 0.1234,
              ('randomised', 'vlp16-10hz'): 0.5,
              ('own-vlp16-10hz', 'vlp16-10hz'): 0.625,
              ('randomised-distilled', 'hdl32e-20hz'): 0.25}
    for (train, test), iou in values.items():
        path = metrics_path(plan, train, test)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({'mos/IoU_moving': iou,
                                    'mos/precision_moving': iou / 2,
                                    'mos/recall_moving': 1.0}))
    table = results_table(plan).splitlines()
    assert table[0] == '| held-out sensor | trained on / model | IoU % | ' \
        'P % | R % |'
    assert len(table) == 2 + 2 * len(ROWS)
    assert table[2] == '| vlp16-10hz | hdl64e | 12.3 | 6.2 | 100.0 |'
    assert table[4] == '| vlp16-10hz | own | 62.5 | 31.2 | 100.0 |'
    assert table[5] == '| vlp16-10hz | randomised-teacher | - | - | - |'
    assert table[11] == \
        '| hdl32e-20hz | randomised-distilled | 25.0 | 12.5 | 100.0 |'
    # the dry run prints every command and the same table
    assert run(plan, dry_run=True) == results_table(plan)
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith('python tools/train.py') for line in out) \
        == len(plan.runs)
    assert sum(line.startswith('python tools/dump_teacher_logits.py')
               for line in out) == 1
    # hdl64e, randomised, teacher and distilled meet both held-out sets,
    # the own-sensor models one each
    assert sum(line.startswith('python tools/test.py') for line in out) \
        == 4 * 2 + 2
    assert not (tmp_path / STAMP).exists()  # a dry run writes nothing


def test_refuses_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='notes|not written'):
        run(plan_for_mode(str(mine), 'quick'))
    assert (mine / 'notes.txt').read_text() == 'keep me'
    assert sorted(p.name for p in mine.iterdir()) == ['notes.txt']
    # a folder inside a stamped experiment folder is checked too
    ours = tmp_path / 'ours'
    (ours / 'work' / 'hdl64e').mkdir(parents=True)
    (ours / STAMP).write_text('{}')
    (ours / 'work' / 'hdl64e' / 'user.pth').write_text('x')
    with pytest.raises(FileExistsError, match='hdl64e'):
        run(plan_for_mode(str(ours), 'quick'))
    assert (ours / 'work' / 'hdl64e' / 'user.pth').is_file()


def test_quick_run_end_to_end(tmp_path):
    """``tools/cross_sensor.py OUT --quick``: every row of the table, its
    numbers those of the metrics files, a log a run, kept checkpoints."""
    plan = plan_for_mode(str(tmp_path / 'out'), 'quick')
    assert len(plan.test_sets) == len(MODES['quick']['held_out']) == 1
    table = run(plan)
    root = tmp_path / 'out'
    assert (root / 'table.md').read_text() == table + '\n'
    summary = json.loads((root / 'table.json').read_text())
    (name, ) = plan.test_sets
    rows = summary['results'][name]
    assert list(rows) == list(ROWS)
    lines = table.splitlines()[2:]
    assert len(lines) == len(ROWS)
    for line, row in zip(lines, ROWS):
        entry = rows[row]
        metrics = json.loads(Path(entry['metrics']).read_text())
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert cells[:2] == [name, row]
        for (key, col), cell in zip(TABLE_KEYS, cells[2:]):
            assert entry[col] == metrics[key]
            assert 0.0 <= metrics[key] <= 1.0
            assert cell == f'{100 * metrics[key]:.1f}'
    logs = sorted(p.name for p in (root / 'logs').glob('*.log'))
    assert 'data.log' in logs
    for r in plan.runs:
        assert f'train-{r.name}.log' in logs
        for test in r.tests:
            assert f'test-{r.name}-{test}.log' in logs
    # the teacher's logits of every training scan fed the distillation
    teacher = plan.find_run('randomised-teacher')
    assert len(list(plan.logits_dir(teacher).rglob('*.npy'))) == \
        len(teacher.train.sequences) * plan.scans
    for kept in ('randomised-teacher', 'randomised-distilled'):
        assert (root / 'checkpoints' / f'{kept}.pth').stat().st_size > 0
        assert summary['checkpoints'][f'{kept} (kept)'] == str(
            root / 'checkpoints' / f'{kept}.pth')
    # the held-out data is that sensor's: rate and profile
    seq = root / 'data' / f'test-{name}' / 'sequences' / '08'
    profile = json.loads((seq / 'sensor.json').read_text())
    assert profile['scan_rate'] == HELD_OUT[name][1]


def test_parallel_runs_wait_for_the_teacher(tmp_path, monkeypatch):
    """``jobs=2``: every run trained and scored once, each tool given
    ``cpu_count // 2`` threads and no echo; the teacher starts first and
    the distilled student only after the teacher's logits are dumped."""
    import os
    import threading
    import time

    from kdmos_plugin.apis import cross_sensor as cs
    plan = make_plan(str(tmp_path / 'out'), held_out=['vlp16-10hz'])
    events, lock = [], threading.Lock()

    def fake_tool(args, log_file, threads=None, echo=True):
        args = [str(a) for a in args]
        kind = Path(args[0]).stem
        name = next(a.split('=', 1)[1] for a in args
                    if a.startswith('experiment_name=')) \
            if kind != 'dump_teacher_logits' else Path(
                args[args.index('--out') + 1]).name
        with lock:
            events.append(('start', kind, name, threads, echo))
        # a slow teacher: the others finish first
        time.sleep(1.0 if (kind, name) == ('train', 'randomised-teacher')
                   else 0.05)
        if kind == 'train':
            work = Path(args[args.index('--work-dir') + 1])
            (work / 'epoch_1.pth').write_bytes(b'weights')
            (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
        elif kind == 'test':
            out = Path(args[args.index('--metrics-out') + 1])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({k: 0.5 for k, _ in TABLE_KEYS}))
        with lock:
            events.append(('end', kind, name))
        return 0.05

    monkeypatch.setattr(cs, 'run_tool', fake_tool)
    monkeypatch.setattr(cs, 'make_data', lambda plan, data, log: 0.0)
    table = run(plan, jobs=2)
    for line in table.splitlines()[2:]:  # every cell filled
        assert [c.strip() for c in line.strip('|').split('|')][2:] == \
            ['50.0'] * len(TABLE_KEYS)
    starts = [e for e in events if e[0] == 'start']
    assert all(e[3] == max(1, (os.cpu_count() or 1) // 2) and e[4] is False
               for e in starts)
    trains = [e[2] for e in starts if e[1] == 'train']
    assert sorted(trains) == sorted(r.name for r in plan.runs)
    assert 'randomised-teacher' in trains[:2]  # among the first two
    assert trains[-1] == 'randomised-distilled'
    dump_end = events.index(('end', 'dump_teacher_logits',
                             'randomised-teacher'))
    kd_start = next(i for i, e in enumerate(events)
                    if e[:3] == ('start', 'train', 'randomised-distilled'))
    assert dump_end < kd_start
    assert sum(e[1] == 'test' for e in starts) == sum(
        len(r.tests) for r in plan.runs)
    with pytest.raises(ValueError, match='jobs must be >= 1'):
        run(plan, jobs=0)
    # only the teacher and its student: one at a time, every thread
    events.clear()
    run(plan_for_mode(str(tmp_path / 'rand'), 'randomised',
                      held_out=['vlp16-10hz']), jobs=2)
    starts = [e for e in events if e[0] == 'start']
    assert [e[2] for e in starts if e[1] == 'train'] == [
        'randomised-teacher', 'randomised-distilled']
    assert all(e[3] is None and e[4] is True for e in starts)
