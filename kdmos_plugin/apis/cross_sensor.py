"""The cross-sensor experiment (issue 17): does a model carry over to a
sensor it was not trained on?

Training sets (synthetic, :mod:`kdmos_plugin.synthetic`), each with the
same scene seeds so that only the sensor differs:

* ``hdl64e``: the KITTI sensor at 10 Hz;
* ``randomised``: one random spinning LiDAR a sequence
  (:func:`~kdmos_plugin.synthetic.sensors.random_profile`);
* ``own-<sensor>``: the held-out sensor itself (the upper bound).

Held-out test sets (:data:`HELD_OUT`): HDL-32E at 2 Hz (keyframes) and
20 Hz, VLP-16 and OS1-128 at 10 Hz, each its own data root. Every model is
the synthetic student with per-sequence intensity normalisation
(``configs/kdmos/student_bev_synthetic_sensors.py``); every run is a
``tools/train.py`` / ``tools/test.py`` command, so a run can be repeated by
hand. The table reports moving IoU, precision and recall (``MOSMetric``)
per held-out sensor and training set.

This module is the skeleton the full experiment grows from: the plan, the
data, the commands and the table. Not done yet: the distillation rows (the
randomised teacher into the randomised student) and the 45-minute budget.
"""
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/kdmos/student_bev_synthetic_sensors.py'
#: Held-out sensors: name -> (preset, scan rate [Hz]).
HELD_OUT = {
    'hdl32e-2hz': ('hdl32e', 2.0),
    'hdl32e-20hz': ('hdl32e', 20.0),
    'vlp16-10hz': ('vlp16', 10.0),
    'os1-128-10hz': ('os1-128', 10.0),
}
#: Figures of the table (MOSMetric keys) and their column names.
TABLE_KEYS = (('mos/IoU_moving', 'IoU'), ('mos/precision_moving', 'P'),
              ('mos/recall_moving', 'R'))


@dataclass
class DataSet:
    """One synthetic data root: its sequences and the sensor of each.

    Attributes:
        name: Its name (the folder under the experiment's ``data``).
        sequences: Sequence names.
        sensors: ``--sensor`` arguments of ``tools/make_synthetic_data.py``
            (a preset, or ``random``).
        scan_rate: ``--scan-rate``, or None for the presets' own.
    """
    name: str
    sequences: List[str]
    sensors: List[str]
    scan_rate: Optional[float] = None


@dataclass
class Plan:
    """What the experiment trains and tests.

    Attributes:
        root: The experiment folder (``data/``, ``work/``, ``table.md``).
        train_sets: The training sets.
        test_sets: The held-out sets, by held-out sensor.
        scans: Scans a sequence.
        seed: Scene seed (the same for every set).
        epochs: Training epochs of each model.
    """
    root: Path
    train_sets: List[DataSet] = field(default_factory=list)
    test_sets: Dict[str, DataSet] = field(default_factory=dict)
    scans: int = 40
    seed: int = 0
    epochs: int = 3

    def data_root(self, data: DataSet) -> Path:
        """The data root of a set."""
        return self.root / 'data' / data.name


def make_plan(root: str, scans: int = 40, seed: int = 0, epochs: int = 3,
              train_sequences: Sequence[str] = ('00', '01', '02', '03',
                                                '04', '05'),
              test_sequences: Sequence[str] = ('08', ),
              held_out: Optional[Sequence[str]] = None) -> Plan:
    """The experiment's plan (see the module docstring).

    Args:
        root: The experiment folder.
        scans: Scans a sequence.
        seed: Scene seed.
        epochs: Training epochs.
        train_sequences: Sequences of every training set.
        test_sequences: Sequences of every held-out set.
        held_out: Names of :data:`HELD_OUT` to use (default all).

    Returns:
        Plan: The plan.

    Raises:
        ValueError: An unknown held-out sensor.
    """
    names = list(HELD_OUT) if held_out is None else list(held_out)
    unknown = [n for n in names if n not in HELD_OUT]
    if unknown:
        raise ValueError(f'unknown held-out sensors {unknown}; choose from '
                         f'{sorted(HELD_OUT)}')
    train_seqs, test_seqs = list(train_sequences), list(test_sequences)
    plan = Plan(Path(root), scans=scans, seed=seed, epochs=epochs)
    plan.train_sets.append(DataSet('hdl64e', train_seqs, ['hdl64e']))
    plan.train_sets.append(DataSet('randomised', train_seqs, ['random']))
    for name in names:
        preset, rate = HELD_OUT[name]
        plan.train_sets.append(DataSet(f'own-{name}', train_seqs, [preset],
                                       rate))
        plan.test_sets[name] = DataSet(f'test-{name}', test_seqs, [preset],
                                       rate)
    return plan


def data_command(plan: Plan, data: DataSet) -> List[str]:
    """The ``tools/make_synthetic_data.py`` command of a set."""
    cmd = ['tools/make_synthetic_data.py', str(plan.data_root(data)),
           '--sequences', *data.sequences, '--scans', str(plan.scans),
           '--seed', str(plan.seed), '--sensor', *data.sensors]
    if data.scan_rate is not None:
        cmd += ['--scan-rate', f'{data.scan_rate:g}']
    return cmd


def _data_options(prefix: str, plan: Plan, data: DataSet) -> List[str]:
    # unquoted: mmengine's DictAction keeps quotes inside lists, and the
    # dataset reads the integers 0, 8 as the sequences '00', '08'
    seqs = ','.join(data.sequences)
    return [f'{prefix}.dataset.data_root={plan.data_root(data)}',
            f'{prefix}.dataset.sequences=[{seqs}]']


def train_command(plan: Plan, data: DataSet,
                  config: str = CONFIG) -> List[str]:
    """The ``tools/train.py`` command of a training set (no validation;
    ``param_scheduler`` follows ``plan.epochs``)."""
    e = plan.epochs
    return ['tools/train.py', config, '--work-dir',
            str(plan.root / 'work' / data.name), '--cfg-options',
            *_data_options('train_dataloader', plan, data),
            *_data_options('val_dataloader', plan, data),
            f'train_cfg.max_epochs={e}', f'train_cfg.val_begin={e + 1}',
            f'param_scheduler.0.total_steps={e}',
            f'param_scheduler.0.end={e}']


def evaluate_command(plan: Plan, train: DataSet, test_name: str,
                 checkpoint: str, config: str = CONFIG) -> List[str]:
    """The ``tools/test.py`` command of one model on one held-out set."""
    data = plan.test_sets[test_name]
    out = plan.root / 'work' / train.name / f'test-{test_name}'
    return ['tools/test.py', config, checkpoint, '--work-dir', str(out),
            '--metrics-out', str(out / 'metrics.json'), '--cfg-options',
            *_data_options('test_dataloader', plan, data)]


def metrics_path(plan: Plan, train: str, test_name: str) -> Path:
    """Where :func:`evaluate_command` writes the metrics."""
    return plan.root / 'work' / train / f'test-{test_name}' / 'metrics.json'


def results_table(plan: Plan) -> str:
    """The Markdown table of the metrics files written so far.

    Rows: held-out sensors; columns: IoU, precision and recall (in %) of
    each training set that has a model for that sensor (``hdl64e``,
    ``randomised``, ``own``). A missing file is shown as ``-``.
    """
    kinds = [('hdl64e', lambda n: 'hdl64e'),
             ('randomised', lambda n: 'randomised'),
             ('own', lambda n: f'own-{n}')]
    head = ['held-out sensor'] + [f'{kind} {col} %' for kind, _ in kinds
                                  for _, col in TABLE_KEYS]
    rows = []
    for name in plan.test_sets:
        row = [name]
        for _, train_of in kinds:
            path = metrics_path(plan, train_of(name), name)
            metrics = json.loads(path.read_text()) if path.is_file() else {}
            row += [f'{100 * metrics[k]:.1f}' if k in metrics else '-'
                    for k, _ in TABLE_KEYS]
        rows.append(row)
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


def run(plan: Plan, config: str = CONFIG, dry_run: bool = False) -> str:
    """Make the data, train every model, test it on every held-out set it
    belongs to, and write ``<root>/table.md``.

    Args:
        plan: The plan.
        config: The model config.
        dry_run: Only print the commands.

    Returns:
        str: The table.
    """
    from .demo import last_checkpoint, log, run_tool
    steps = [data_command(plan, d) for d in
             plan.train_sets + list(plan.test_sets.values())]
    runs = []
    for train in plan.train_sets:
        tests = [n for n in plan.test_sets
                 if not train.name.startswith('own-')
                 or train.name == f'own-{n}']
        runs.append((train, tests))
    if dry_run:
        for cmd in steps:
            print('python ' + ' '.join(cmd))
        for train, tests in runs:
            print('python ' + ' '.join(train_command(plan, train, config)))
            for name in tests:
                print('python ' + ' '.join(evaluate_command(
                    plan, train, name, 'CKPT', config)))
        return results_table(plan)
    logs = plan.root / 'logs'
    for cmd in steps:
        run_tool(cmd, logs / f'data-{Path(cmd[1]).name}.log')
    for train, tests in runs:
        run_tool(train_command(plan, train, config),
                 logs / f'train-{train.name}.log')
        ckpt = last_checkpoint(plan.root / 'work' / train.name)
        for name in tests:
            run_tool(evaluate_command(plan, train, name, ckpt, config),
                     logs / f'test-{train.name}-{name}.log')
    table = results_table(plan)
    (plan.root / 'table.md').write_text(table + '\n')
    log(f'wrote {plan.root / "table.md"}')
    return table


if __name__ == '__main__':  # pragma: no cover
    sys.exit('use tools/cross_sensor.py')
