"""The cross-sensor experiment's plan, commands and table (no training)."""
import json

import pytest

from kdmos_plugin.apis.cross_sensor import (HELD_OUT, data_command,
                                            evaluate_command, make_plan,
                                            metrics_path, results_table, run,
                                            train_command)


def test_plan_sets_and_commands(tmp_path):
    plan = make_plan(str(tmp_path), scans=4, epochs=2,
                     held_out=['hdl32e-2hz', 'vlp16-10hz'])
    names = [d.name for d in plan.train_sets]
    assert names == ['hdl64e', 'randomised', 'own-hdl32e-2hz',
                     'own-vlp16-10hz']
    assert list(plan.test_sets) == ['hdl32e-2hz', 'vlp16-10hz']
    own = plan.train_sets[2]
    cmd = data_command(plan, own)
    assert cmd[cmd.index('--sensor') + 1] == 'hdl32e'
    assert cmd[cmd.index('--scan-rate') + 1] == '2'
    assert '--scan-rate' not in data_command(plan, plan.train_sets[0])
    assert data_command(plan, plan.train_sets[1])[-1] == 'random'
    train = train_command(plan, own)
    assert f'train_dataloader.dataset.data_root={tmp_path}/data/' \
        'own-hdl32e-2hz' in train
    assert 'train_cfg.max_epochs=2' in train
    assert 'train_dataloader.dataset.sequences=[00,01,02,03,04,05]' in train
    test = evaluate_command(plan, own, 'hdl32e-2hz', 'x.pth')
    assert str(metrics_path(plan, 'own-hdl32e-2hz', 'hdl32e-2hz')) in test
    assert f'test_dataloader.dataset.data_root={tmp_path}/data/' \
        'test-hdl32e-2hz' in test
    with pytest.raises(ValueError, match='unknown held-out sensors'):
        make_plan(str(tmp_path), held_out=['hdl64e-5hz'])
    assert set(HELD_OUT) == {'hdl32e-2hz', 'hdl32e-20hz', 'vlp16-10hz',
                             'os1-128-10hz'}


def test_table_from_metrics_files(tmp_path, capsys):
    plan = make_plan(str(tmp_path), held_out=['vlp16-10hz', 'hdl32e-20hz'])
    values = {('hdl64e', 'vlp16-10hz'): 0.1234,
              ('randomised', 'vlp16-10hz'): 0.5,
              ('own-vlp16-10hz', 'vlp16-10hz'): 0.625}
    for (train, test), iou in values.items():
        path = metrics_path(plan, train, test)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({'mos/IoU_moving': iou,
                                    'mos/precision_moving': iou / 2,
                                    'mos/recall_moving': 1.0}))
    table = results_table(plan).splitlines()
    assert table[0].startswith('| held-out sensor | hdl64e IoU % | '
                               'hdl64e P % | hdl64e R %')
    assert table[2] == ('| vlp16-10hz | 12.3 | 6.2 | 100.0 | 50.0 | 25.0 | '
                        '100.0 | 62.5 | 31.2 | 100.0 |')
    assert table[3] == '| hdl32e-20hz |' + ' - |' * 9
    # the dry run prints every command and the same table
    assert run(plan, dry_run=True) == results_table(plan)
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith('python tools/train.py') for line in out) \
        == len(plan.train_sets)
    # hdl64e and randomised models meet both held-out sets, own ones one
    assert sum(line.startswith('python tools/test.py') for line in out) \
        == 2 * 2 + 2
