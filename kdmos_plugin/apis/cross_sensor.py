"""The cross-sensor experiment (issue 17): does a model carry over to a
sensor it was not trained on?

Training sets (synthetic, :mod:`kdmos_plugin.synthetic`, rich scenes), each
with the same scene seeds so that only the sensor differs:

* ``hdl64e``: the KITTI sensor at 10 Hz;
* ``randomised``: one random spinning LiDAR a sequence
  (:func:`~kdmos_plugin.synthetic.sensors.random_profile`: beams, field of
  view, azimuth step, 2/10/20 Hz, height, range, intensity scale, own car
  in view or not);
* ``own-<sensor>``: the held-out sensor itself (the upper bound).

Held-out test sets (:data:`HELD_OUT`, other scene seeds): HDL-32E at 2 Hz
(keyframes) and 20 Hz, VLP-16 and OS1-128 at 10 Hz, each its own data root.
The rows of the table (:data:`ROWS`), per held-out sensor:

* ``hdl64e``, ``randomised``, ``own``: the synthetic student with
  per-sequence intensity normalisation and past-scan stride
  (``configs/kdmos/student_bev_synthetic_sensors.py``) trained on that set;
* ``randomised-teacher``: the sparse teacher on the randomised set
  (``configs/kdmos/teacher_sparse4d_synthetic_sensors.py``);
* ``randomised-distilled``: the randomised student distilled from that
  teacher's offline logits of the randomised set
  (``tools/dump_teacher_logits.py``, then
  ``configs/kdmos/student_kd_synthetic_sensors.py``, as the demo does).

Every training is a ``tools/train.py`` run, every score a ``tools/test.py``
run writing a metrics JSON (moving IoU, precision, recall of
``MOSMetric``), so any run can be repeated by hand (``--dry-run`` prints
them all). ``<root>/table.md`` and ``<root>/table.json`` hold the numbers,
read back from those metrics files. The data is written in-process by
:func:`~kdmos_plugin.synthetic.generator.make_synthetic_data`, the function
behind ``tools/make_synthetic_data.py`` (the same files as the printed
command), and kept while its stamp matches the plan.

The experiment folder holds the demo's stamp
(:func:`~kdmos_plugin.apis.demo.check_writable`): a folder it did not write
is refused before any work; inside it, every run folder is replaced.

Modes (:data:`MODES`): ``default`` (every row; see the comment of
:data:`MODES` and the README for its measured time), ``quick`` (a smoke run: tiny
coarse scans, one epoch, one held-out sensor; the tools run in this process
to spare their start-up), ``randomised`` (only the randomised teacher and
its distilled student, their checkpoints copied to
``<root>/checkpoints/``).
"""
import contextlib
import functools
import io
import json
import os
import runpy
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..sources.sensor_profile import get_profile
from ..utils.atomic_files import write_text_atomic
from .demo import (REPO, check_writable, clear_output_dir, last_checkpoint,
                   log, logits_root_option, run_jobs, run_tool)

STUDENT_CFG = 'configs/kdmos/student_bev_synthetic_sensors.py'
TEACHER_CFG = 'configs/kdmos/teacher_sparse4d_synthetic_sensors.py'
KD_CFG = 'configs/kdmos/student_kd_synthetic_sensors.py'
#: Kept for callers of the first round: the student config.
CONFIG = STUDENT_CFG
#: The file that marks a folder as written by this experiment (the demo's
#: helpers check it).
STAMP = 'cross_sensor_stamp.json'
#: Held-out sensors: name -> (preset, scan rate [Hz]).
HELD_OUT = {
    'hdl32e-2hz': ('hdl32e', 2.0),
    'hdl32e-20hz': ('hdl32e', 20.0),
    'vlp16-10hz': ('vlp16', 10.0),
    'os1-128-10hz': ('os1-128', 10.0),
}
#: Rows of the table, per held-out sensor.
ROWS = ('hdl64e', 'randomised', 'own', 'randomised-teacher',
        'randomised-distilled')
#: Figures of the table (MOSMetric keys) and their column names.
TABLE_KEYS = (('mos/IoU_moving', 'IoU'), ('mos/precision_moving', 'P'),
              ('mos/recall_moving', 'R'))
#: The training scenes of the default sizes: twelve (00-05, 11-16).
TRAIN_SEQUENCES = ('00', '01', '02', '03', '04', '05') + tuple(
    str(i) for i in range(11, 17))
#: The sizes of each mode. ``default``: 12 scenes x 18 training scans
#: (108 iterations an epoch), 2 student and 2 teacher epochs, 4 held-out
#: sensors of 2 x 20 scans: 7 trainings, 1 logit dump and 20 scores, two
#: at a time by default (``jobs``). One student epoch was the first
#: default: on these full-resolution scans it ended at a train loss of 0.90
#: (the demo's students: 0.55-0.6) and its HDL-64E model found 1.4-6.7%
#: moving IoU on every held-out sensor (OS1-128 recall 7%), i.e. it had not
#: learned the task yet. ``randomised``: the teacher and its distilled
#: student of the same sizes. The README states the measured times.
#: ``quick``: one held-out sensor, 2 x 1 training scans of 4 deg azimuth
#: step, one epoch, the tools in-process: about 1 minute at a load of 5.
MODES = {
    'default': dict(scans=18, test_scans=20, epochs=2, teacher_epochs=2,
                    train_sequences=TRAIN_SEQUENCES,
                    test_sequences=('08', '09'), held_out=None,
                    horizontal_resolution=None, in_process=False,
                    only_randomised=False),
    'randomised': dict(scans=18, test_scans=20, epochs=2, teacher_epochs=2,
                       train_sequences=TRAIN_SEQUENCES,
                       test_sequences=('08', '09'), held_out=None,
                       horizontal_resolution=None, in_process=False,
                       only_randomised=True),
    'quick': dict(scans=1, test_scans=2, epochs=1, teacher_epochs=1,
                  train_sequences=('00', '01'), test_sequences=('08', ),
                  held_out=('hdl32e-20hz', ), horizontal_resolution=4.0,
                  in_process=True, only_randomised=False),
}


@dataclass
class DataSet:
    """One synthetic data root: its sequences and the sensor of each.

    Attributes:
        name: Its name (the folder under the experiment's ``data``).
        sequences: Sequence names.
        sensors: ``--sensor`` arguments of ``tools/make_synthetic_data.py``
            (a preset, or ``random``).
        scan_rate: ``--scan-rate``, or None for the presets' own.
        scans: Scans a sequence (None: the plan's ``scans``).
        seed: Scene seed (None: the plan's ``seed``).
    """
    name: str
    sequences: List[str]
    sensors: List[str]
    scan_rate: Optional[float] = None
    scans: Optional[int] = None
    seed: Optional[int] = None


@dataclass
class Run:
    """One trained model and where it is scored.

    Attributes:
        name: Its work folder under ``work/`` (a training set name, or
            ``randomised-teacher`` / ``randomised-distilled``).
        row: Its row of the table (:data:`ROWS`).
        train: The training set.
        config: The training config.
        test_config: The config that scores it (a distiller is scored as
            the student it trains).
        tests: The held-out sensors it is scored on.
        teacher: For a distilled student, the run whose logits it reads.
    """
    name: str
    row: str
    train: DataSet
    config: str
    test_config: str
    tests: List[str]
    teacher: Optional[str] = None


@dataclass
class Plan:
    """What the experiment trains and tests.

    Attributes:
        root: The experiment folder (``data/``, ``work/``, ``logs/``,
            ``logits/``, ``table.md``, ``table.json``).
        train_sets: The training sets.
        test_sets: The held-out sets, by held-out sensor.
        runs: The models, in training order.
        scans: Scans a training sequence.
        seed: Scene seed of the training sets (held-out sets: ``seed +
            1``).
        epochs: Training epochs of each student.
        teacher_epochs: Training epochs of the teacher.
        scene_detail: ``--scene-detail`` of the data.
        horizontal_resolution: Azimuth step [deg] replacing the sensors'
            (coarse smoke runs), or None.
        in_process: Run the tools in this process (spares each one's
            start-up; for smoke runs) instead of as subprocesses.
    """
    root: Path
    train_sets: List[DataSet] = field(default_factory=list)
    test_sets: Dict[str, DataSet] = field(default_factory=dict)
    runs: List[Run] = field(default_factory=list)
    scans: int = 18
    seed: int = 0
    epochs: int = 1
    teacher_epochs: int = 2
    scene_detail: str = 'rich'
    horizontal_resolution: Optional[float] = None
    in_process: bool = False

    def data_root(self, data: DataSet) -> Path:
        """The data root of a set."""
        return self.root / 'data' / data.name

    def work_dir(self, run: Run) -> Path:
        """The work folder of a run."""
        return self.root / 'work' / run.name

    def logits_dir(self, run: Run) -> Path:
        """Where a teacher's offline logits go."""
        return self.root / 'logits' / run.name

    def find_run(self, name: str) -> Run:
        """The run of that name."""
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)


def make_plan(root: str, scans: int = 18, seed: int = 0, epochs: int = 1,
              train_sequences: Sequence[str] = TRAIN_SEQUENCES,
              test_sequences: Sequence[str] = ('08', '09'),
              held_out: Optional[Sequence[str]] = None,
              teacher_epochs: Optional[int] = None,
              test_scans: Optional[int] = None,
              scene_detail: str = 'rich',
              horizontal_resolution: Optional[float] = None,
              in_process: bool = False,
              only_randomised: bool = False) -> Plan:
    """The experiment's plan (see the module docstring).

    Args:
        root: The experiment folder.
        scans: Scans a training sequence.
        seed: Scene seed of the training sets (the held-out sets use
            ``seed + 1``: other scenes).
        epochs: Training epochs of the students.
        train_sequences: Sequences of every training set.
        test_sequences: Sequences of every held-out set.
        held_out: Names of :data:`HELD_OUT` to use (default all).
        teacher_epochs: Training epochs of the teacher (default
            ``epochs``).
        test_scans: Scans a held-out sequence (default ``scans``).
        scene_detail: ``'rich'`` (default) or ``'plain'`` scenes.
        horizontal_resolution: Azimuth step [deg] for every sensor, or
            None (the sensors' own).
        in_process: See :class:`Plan`.
        only_randomised: Only the randomised teacher and its distilled
            student (no hdl64e, randomised-student or own-sensor runs).

    Returns:
        Plan: The plan.

    Raises:
        ValueError: An unknown held-out sensor, sizes below 1, or a
            held-out sequence that is also a training sequence.
    """
    names = list(HELD_OUT) if held_out is None else list(held_out)
    unknown = [n for n in names if n not in HELD_OUT]
    if unknown:
        raise ValueError(f'unknown held-out sensors {unknown}; choose from '
                         f'{sorted(HELD_OUT)}')
    train_seqs, test_seqs = list(train_sequences), list(test_sequences)
    teacher_epochs = epochs if teacher_epochs is None else teacher_epochs
    test_scans = scans if test_scans is None else test_scans
    problems = [f'{key} {value} < 1' for key, value in (
        ('scans', scans), ('test scans', test_scans), ('epochs', epochs),
        ('teacher epochs', teacher_epochs)) if value < 1]
    if not names:
        problems.append('no held-out sensors')
    if set(train_seqs) & set(test_seqs):
        problems.append(f'held-out sequences {test_seqs} overlap the '
                        f'training sequences {train_seqs}')
    if problems:
        raise ValueError('cross_sensor: ' + '; '.join(problems))
    plan = Plan(Path(root), scans=scans, seed=seed, epochs=epochs,
                teacher_epochs=teacher_epochs, scene_detail=scene_detail,
                horizontal_resolution=horizontal_resolution,
                in_process=in_process)
    hdl64e = DataSet('hdl64e', train_seqs, ['hdl64e'])
    randomised = DataSet('randomised', train_seqs, ['random'])
    plan.train_sets = [randomised] if only_randomised else [hdl64e,
                                                            randomised]
    for name in names:
        preset, rate = HELD_OUT[name]
        if rate == get_profile(preset).scan_rate:
            rate = None  # the preset's own: keeps its name
        if not only_randomised:
            plan.train_sets.append(DataSet(f'own-{name}', train_seqs,
                                           [preset], rate))
        plan.test_sets[name] = DataSet(f'test-{name}', test_seqs, [preset],
                                       rate, scans=test_scans, seed=seed + 1)
    if not only_randomised:
        plan.runs.append(Run('hdl64e', 'hdl64e', hdl64e, STUDENT_CFG,
                             STUDENT_CFG, names))
        plan.runs.append(Run('randomised', 'randomised', randomised,
                             STUDENT_CFG, STUDENT_CFG, names))
        for data in plan.train_sets[2:]:
            plan.runs.append(Run(data.name, 'own', data, STUDENT_CFG,
                                 STUDENT_CFG, [data.name[len('own-'):]]))
    plan.runs.append(Run('randomised-teacher', 'randomised-teacher',
                         randomised, TEACHER_CFG, TEACHER_CFG, names))
    plan.runs.append(Run('randomised-distilled', 'randomised-distilled',
                         randomised, KD_CFG, STUDENT_CFG, names,
                         teacher='randomised-teacher'))
    return plan


def plan_for_mode(root: str, mode: str = 'default', **changes) -> Plan:
    """:func:`make_plan` with the sizes of a :data:`MODES` entry (and
    ``changes`` on top, e.g. ``seed=3``)."""
    if mode not in MODES:
        raise ValueError(f'unknown mode {mode!r}; choose one of '
                         f'{sorted(MODES)}')
    return make_plan(root, **{**MODES[mode], **changes})


# ---------------------------------------------------------------------------
# commands
def data_command(plan: Plan, data: DataSet) -> List[str]:
    """The ``tools/make_synthetic_data.py`` command of a set."""
    cmd = ['tools/make_synthetic_data.py', str(plan.data_root(data)),
           '--sequences', *data.sequences, '--scans',
           str(data.scans or plan.scans), '--seed',
           str(plan.seed if data.seed is None else data.seed),
           '--scene-detail', plan.scene_detail, '--sensor', *data.sensors]
    if data.scan_rate is not None:
        cmd += ['--scan-rate', f'{data.scan_rate:g}']
    if plan.horizontal_resolution is not None:
        cmd += ['--horizontal-resolution', f'{plan.horizontal_resolution:g}']
    return cmd


def _data_options(prefix: str, plan: Plan, data: DataSet) -> List[str]:
    # unquoted: mmengine's DictAction keeps quotes inside lists, and the
    # dataset reads the integers 0, 8 as the sequences '00', '08'
    seqs = ','.join(data.sequences)
    return [f'{prefix}.dataset.data_root={plan.data_root(data)}',
            f'{prefix}.dataset.sequences=[{seqs}]']


def _epoch_options(epochs: int) -> List[str]:
    return [f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_begin={epochs + 1}',
            f'param_scheduler.0.total_steps={epochs}',
            f'param_scheduler.0.end={epochs}']


def train_command(plan: Plan, data, config: str = STUDENT_CFG) -> List[str]:
    """The ``tools/train.py`` command of a run (or of a training set with
    ``config``): no validation, ``param_scheduler`` follows the epochs."""
    if isinstance(data, Run):
        run = data
    else:  # a training set: the student on it
        run = Run(data.name, 'own', data, config, config, [])
    epochs = plan.teacher_epochs if run.config == TEACHER_CFG else \
        plan.epochs
    cmd = ['tools/train.py', run.config, '--work-dir',
           str(plan.work_dir(run)), '--cfg-options',
           *_data_options('train_dataloader', plan, run.train),
           'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None',
           f'experiment_name={run.name}', *_epoch_options(epochs)]
    if run.teacher is not None:
        cmd.append(logits_root_option(
            run.config, plan.logits_dir(plan.find_run(run.teacher))))
    return cmd


def dump_command(plan: Plan, run: Run, checkpoint: str) -> List[str]:
    """The ``tools/dump_teacher_logits.py`` command of a teacher run: the
    logits of every scan of its training set."""
    return ['tools/dump_teacher_logits.py', run.config, checkpoint, '--out',
            str(plan.logits_dir(run)), '--split', 'train', '--cfg-options',
            *_data_options('train_dataloader', plan, run.train)]


def evaluate_command(plan: Plan, train, test_name: str, checkpoint: str,
                     config: Optional[str] = None) -> List[str]:
    """The ``tools/test.py`` command of one model on one held-out set
    (``train``: a run, or a training set's name as a run name)."""
    name = train.name
    config = config or (train.test_config if isinstance(train, Run)
                        else STUDENT_CFG)
    data = plan.test_sets[test_name]
    out = plan.root / 'work' / name / f'test-{test_name}'
    return ['tools/test.py', config, checkpoint, '--work-dir', str(out),
            '--metrics-out', str(out / 'metrics.json'), '--cfg-options',
            *_data_options('test_dataloader', plan, data),
            f'experiment_name={name}-test-{test_name}']


def metrics_path(plan: Plan, train: str, test_name: str) -> Path:
    """Where :func:`evaluate_command` writes the metrics."""
    return plan.root / 'work' / train / f'test-{test_name}' / 'metrics.json'


# ---------------------------------------------------------------------------
# the table
def run_of_row(plan: Plan, row: str, test_name: str) -> Optional[str]:
    """The run whose model fills ``row`` for a held-out sensor (None: the
    plan has none)."""
    name = f'own-{test_name}' if row == 'own' else row
    return name if any(r.name == name for r in plan.runs) else None


def results(plan: Plan) -> Dict[str, Dict[str, dict]]:
    """The metrics files written so far, as the table holds them.

    Returns:
        dict: ``{held-out sensor: {row: {'IoU', 'P', 'R'}: fractions in
        [0, 1] (None where a file is missing), 'metrics': its path}}}``
        for the rows the plan has.
    """
    out: Dict[str, Dict[str, dict]] = {}
    for name in plan.test_sets:
        out[name] = {}
        for row in ROWS:
            run = run_of_row(plan, row, name)
            if run is None:
                continue
            path = metrics_path(plan, run, name)
            metrics = json.loads(path.read_text()) if path.is_file() else {}
            entry = {col: metrics.get(key) for key, col in TABLE_KEYS}
            entry['metrics'] = str(path)
            out[name][row] = entry
    return out


def results_table(plan: Plan) -> str:
    """The Markdown table of :func:`results`: one line a held-out sensor and
    row, moving IoU, precision and recall in %, ``-`` where a metrics file
    is missing."""
    head = ['held-out sensor', 'trained on / model'] + [
        f'{col} %' for _, col in TABLE_KEYS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, rows in results(plan).items():
        for row, entry in rows.items():
            cells = [f'{100 * entry[col]:.1f}' if entry[col] is not None
                     else '-' for _, col in TABLE_KEYS]
            lines.append('| ' + ' | '.join([name, row] + cells) + ' |')
    return '\n'.join(lines)


def write_tables(plan: Plan, times: Optional[Dict[str, float]] = None,
                 checkpoints: Optional[Dict[str, str]] = None) -> str:
    """Write ``table.md`` and ``table.json`` (atomically); returns the
    Markdown table."""
    table = results_table(plan)
    write_text_atomic(plan.root / 'table.md', table + '\n')
    summary = dict(results=results(plan), rows=list(ROWS),
                   plan=_plan_summary(plan), times_s=times or {},
                   checkpoints=checkpoints or {})
    write_text_atomic(plan.root / 'table.json', json.dumps(summary, indent=1))
    return table


def _plan_summary(plan: Plan) -> dict:
    return dict(scans=plan.scans, seed=plan.seed, epochs=plan.epochs,
                teacher_epochs=plan.teacher_epochs,
                scene_detail=plan.scene_detail,
                horizontal_resolution=plan.horizontal_resolution,
                train_sets=[asdict(d) for d in plan.train_sets],
                test_sets={k: asdict(d) for k, d in plan.test_sets.items()},
                runs=[dict(name=r.name, row=r.row, config=r.config,
                           tests=r.tests) for r in plan.runs])


# ---------------------------------------------------------------------------
# running
class _LogStream(io.TextIOBase):
    """A stdout that writes into the current run's log file (a logger made
    during one run keeps this stream, and writes into the next run's log
    instead of into a closed file)."""

    def __init__(self):
        self.file = None

    def write(self, text):
        if self.file is not None:
            self.file.write(text)
        return len(text)

    def flush(self):
        if self.file is not None:
            self.file.flush()


class _InProcess:
    """Runs ``python tools/X.py ARGS`` as ``runpy`` in this process, its
    output into the log file (see :attr:`Plan.in_process`)."""

    def __init__(self):
        self.stream = _LogStream()

    def __call__(self, args: Sequence, log_file: Path) -> float:
        args = [str(a) for a in args]
        log('$ ' + ' '.join(args) + '   (in-process)')
        start = time.perf_counter()
        argv, cwd = sys.argv, os.getcwd()
        with open(log_file, 'a') as f:
            f.write('$ ' + ' '.join(args) + '\n')
            self.stream.file = f
            try:
                os.chdir(REPO)
                sys.argv = args
                with contextlib.redirect_stdout(self.stream), \
                        contextlib.redirect_stderr(self.stream):
                    runpy.run_path(str(REPO / args[0]), run_name='__main__')
            except SystemExit as err:
                if err.code not in (None, 0):
                    raise RuntimeError(
                        f'{" ".join(args)} failed ({err.code}); see '
                        f'{log_file}') from None
            except Exception as err:
                raise RuntimeError(f'{" ".join(args)} failed ({err!r}); see '
                                   f'{log_file}') from err
            finally:
                sys.argv = argv
                os.chdir(cwd)
                self.stream.file = None
        return time.perf_counter() - start


def _data_stamp(plan: Plan, data: DataSet) -> dict:
    return dict(command=data_command(plan, data)[2:], written_by='kdmos '
                'cross-sensor experiment')


def make_data(plan: Plan, data: DataSet, log_file: Path) -> float:
    """Write one set (kept when its stamp says it holds this plan's data).

    Returns:
        float: Seconds taken (0 when kept).
    """
    from ..synthetic.generator import make_synthetic_data
    root = plan.data_root(data)
    want = _data_stamp(plan, data)
    stamp = root / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        log(f'{root} is up to date')
        return 0.0
    clear_output_dir(root, STAMP)  # stamped at once: a crash half-way
    # leaves a folder the next run may replace
    stamp.write_text(json.dumps(dict(written_by=want['written_by'])))
    log('$ python ' + ' '.join(data_command(plan, data)) + '   (in-process)')
    start = time.perf_counter()
    with open(log_file, 'a') as f:
        f.write('$ python ' + ' '.join(data_command(plan, data)) + '\n')

        def to_log(line):
            f.write(line + '\n')
            f.flush()
        make_synthetic_data(
            str(root), data.sequences, data.scans or plan.scans,
            plan.seed if data.seed is None else data.seed,
            sensors=data.sensors, scan_rate=data.scan_rate,
            scene_detail=plan.scene_detail,
            horizontal_resolution=plan.horizontal_resolution, log=to_log)
    stamp.write_text(json.dumps(want))
    return time.perf_counter() - start


def check_outputs(plan: Plan) -> None:
    """Refuse, before any work, an experiment folder (or a folder in it)
    that this experiment did not write.

    Raises:
        FileExistsError: Names the folder; nothing is deleted.
    """
    check_writable(plan.root, STAMP)
    dirs = [plan.root / 'logs', plan.root / 'checkpoints']
    dirs += [plan.data_root(d) for d in
             plan.train_sets + list(plan.test_sets.values())]
    for run in plan.runs:
        dirs.append(plan.work_dir(run))
        if any(r.teacher == run.name for r in plan.runs):
            dirs.append(plan.logits_dir(run))
    for path in dirs:
        check_writable(path, STAMP)


def run(plan: Plan, dry_run: bool = False, jobs: int = 1) -> str:
    """Make the data, train every model, score it on every held-out set it
    belongs to, and write ``table.md`` and ``table.json``.

    Args:
        plan: The plan.
        dry_run: Only print the commands (checkpoints named ``CKPT``).
        jobs: Runs (a training with its logits and scores) at once, each
            tool with ``cpu_count // jobs`` threads and its output in its
            log only; at most as many as the runs that need no teacher. The
            teacher starts first; its distilled student waits for its
            logits. In-process plans run one at a time.

    Returns:
        str: The Markdown table.

    Raises:
        FileExistsError: The experiment folder holds files it did not
            write (checked before any work).
        RuntimeError: A tool failed; names the command and its log.
        ValueError: ``jobs`` < 1.
    """
    if jobs < 1:
        raise ValueError(f'cross_sensor: jobs must be >= 1, got {jobs}')
    sets = plan.train_sets + list(plan.test_sets.values())
    if dry_run:
        for data in sets:
            print('python ' + ' '.join(data_command(plan, data)))
        for r in plan.runs:
            print('python ' + ' '.join(train_command(plan, r)))
            if any(o.teacher == r.name for o in plan.runs):
                print('python ' + ' '.join(dump_command(plan, r, 'CKPT')))
            for name in r.tests:
                print('python ' + ' '.join(evaluate_command(
                    plan, r, name, 'CKPT')))
        return results_table(plan)
    check_outputs(plan)
    plan.root.mkdir(parents=True, exist_ok=True)
    (plan.root / STAMP).write_text(json.dumps(dict(
        written_by='kdmos cross-sensor experiment')))
    logs = plan.root / 'logs'
    clear_output_dir(logs, STAMP)
    # no more jobs than runs that can train at once (a distilled student
    # waits for its teacher): --only-randomised runs with every thread
    jobs = 1 if plan.in_process else min(
        jobs, max(1, sum(r.teacher is None for r in plan.runs)))
    if plan.in_process:
        tool = _InProcess()
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 \
            else None

        def tool(args, log_file):
            return run_tool(args, log_file, threads=threads,
                            echo=jobs == 1)
    times: Dict[str, float] = {}
    checkpoints: Dict[str, str] = {}
    start = time.perf_counter()
    total = len(sets) + sum(1 + len(r.tests) for r in plan.runs)
    step = 0
    lock = threading.Lock()
    teachers = {r.teacher for r in plan.runs} - {None}

    def progress(what):
        nonlocal step
        with lock:
            step += 1
            log(f'[{step}/{total}] {what} '
                f'({time.perf_counter() - start:.0f} s so far)')

    def train_and_score(r: Run) -> None:
        progress(f'train {r.name}')
        work = plan.work_dir(r)
        clear_output_dir(work, STAMP)
        log_file = logs / f'train-{r.name}.log'
        took = tool(train_command(plan, r), log_file)
        ckpt = last_checkpoint(work)
        with lock:
            times[f'train_{r.name}'] = took
        if r.name in teachers:
            clear_output_dir(plan.logits_dir(r), STAMP)
            took = tool(dump_command(plan, r, ckpt), log_file)
            with lock:
                times[f'dump_{r.name}'] = took
        with lock:
            checkpoints[r.name] = ckpt
        for name in r.tests:
            progress(f'test {r.name} on {name}')
            took = tool(evaluate_command(plan, r, name, ckpt),
                        logs / f'test-{r.name}-{name}.log')
            with lock:
                times[f'test_{r.name}_{name}'] = took
        with lock:
            write_tables(plan, dict(times), dict(checkpoints))

    for data in sets:
        progress(f'data {data.name}')
        times[f'data_{data.name}'] = make_data(plan, data,
                                               logs / 'data.log')
    # one at a time: the plan's order; else teachers first, the students
    # that wait for them (their logits; a failure re-raised) last
    order = plan.runs if jobs == 1 else sorted(
        plan.runs, key=lambda r: (r.teacher is not None,
                                  r.name not in teachers))
    run_jobs([(r.name, functools.partial(train_and_score, r), r.teacher)
              for r in order], jobs)
    kept = keep_checkpoints(plan, checkpoints)
    table = write_tables(plan, times, {**checkpoints, **kept})
    log(f'wrote {plan.root / "table.md"} and table.json in '
        f'{time.perf_counter() - start:.0f} s')
    return table


def keep_checkpoints(plan: Plan, checkpoints: Dict[str, str]
                     ) -> Dict[str, str]:
    """Copy the randomised teacher's and distilled student's last
    checkpoints to ``<root>/checkpoints/`` (the models a user of another
    sensor starts from).

    Returns:
        dict: ``{'<run> (kept)': path}`` of the copies.
    """
    out_dir = plan.root / 'checkpoints'
    clear_output_dir(out_dir, STAMP)
    kept = {}
    for name in ('randomised-teacher', 'randomised-distilled'):
        if name in checkpoints:
            dst = out_dir / f'{name}.pth'
            shutil.copyfile(checkpoints[name], dst)
            kept[f'{name} (kept)'] = str(dst)
    return kept


if __name__ == '__main__':  # pragma: no cover
    sys.exit('use tools/cross_sensor.py')
