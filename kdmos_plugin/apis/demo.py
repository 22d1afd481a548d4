"""The main job on the embedded synthetic data (``make demo``).

Stages, each a call of the project's own tools so that what the demo does
is what a user types::

    1. tools/make_synthetic_data.py   train and held-out sequences
    2. tools/train.py  teacher        configs/kdmos/teacher_sparse4d_synthetic.py
    3. tools/dump_teacher_logits.py   offline logits of the training split
    4. tools/train.py  student        configs/kdmos/student_bev_synthetic.py
       tools/train.py  distilled      configs/kdmos/student_kd_synthetic.py
       (identical schedules, one pair per seed)
    5. tools/test.py   all three on the held-out sequence
    6. latency per scan, parameters, pictures, report.md + report.json

Each stage's console output is mmengine's own log; it is also kept in
``<work_dir>/logs/``.
"""
import json
import os.path as osp
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Sequence

from ..datasets.teacher_logits import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[2]
TEACHER_CFG = 'configs/kdmos/teacher_sparse4d_synthetic.py'
STUDENT_CFG = 'configs/kdmos/student_bev_synthetic.py'
KD_CFG = 'configs/kdmos/student_kd_synthetic.py'
DATA_ROOT = 'data/synthetic_mos'
LOGITS_ROOT = 'data/synthetic_mos_teacher_logits'
METRIC_KEYS = ('mos/IoU_moving', 'mos/IoU_static', 'mos/IoU_movable')


def log(msg: str) -> None:
    """Print a demo progress line."""
    print(f'[demo {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def run_tool(args: Sequence[str], log_file: Path) -> float:
    """Run ``python tools/...`` from the repo root, tee its output.

    Returns:
        float: Wall time in seconds.

    Raises:
        RuntimeError: The tool failed; names the command and its log.
    """
    cmd = [sys.executable] + [str(a) for a in args]
    log('$ ' + ' '.join(cmd[1:]))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_file, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            sys.stdout.write(line)
            f.write(line)
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f'{" ".join(cmd[1:])} failed with exit code '
                           f'{code}; see {log_file}')
    return time.perf_counter() - start


def last_checkpoint(work_dir: Path) -> str:
    """The checkpoint mmengine's CheckpointHook saved last in ``work_dir``."""
    marker = work_dir / 'last_checkpoint'
    if not marker.is_file():
        raise FileNotFoundError(f'no checkpoint was saved in {work_dir}')
    return marker.read_text().strip()


def _from_repo(path: str) -> Path:
    """``path`` if absolute, else relative to the repository root."""
    return Path(path) if osp.isabs(path) else (REPO / path).resolve()


def logits_root_option(config: str, logits_root: Path) -> str:
    """The ``--cfg-options`` entry that points ``config``'s
    ``LoadTeacherLogits`` transform at ``logits_root``.

    Raises:
        ValueError: The training pipeline of ``config`` has no
            ``LoadTeacherLogits`` step.
    """
    from mmengine.config import Config
    pipeline = Config.fromfile(str(REPO / config)).train_dataloader.dataset[
        'pipeline']
    for i, step in enumerate(pipeline):
        if step['type'] == 'LoadTeacherLogits':
            return (f'train_dataloader.dataset.pipeline.{i}.logits_root='
                    f'{logits_root}')
    raise ValueError(f'{config}: no LoadTeacherLogits step in the training '
                     'pipeline')


def clear_output_dir(path: Path, marker: str) -> None:
    """Remove ``path`` before the demo rewrites it, but only if the demo
    (or the logits dump) wrote it: it must be missing, empty, or hold
    ``marker``.

    Raises:
        FileExistsError: ``path`` holds other files (e.g. a real dataset
            given as ``--data-root``); nothing is deleted.
    """
    if not path.exists():
        return
    if path.is_dir() and (not any(path.iterdir()) or
                          (path / marker).is_file()):
        shutil.rmtree(path)
        return
    raise FileExistsError(
        f'{path} exists and was not written by the demo (no {marker}); '
        'choose another folder or remove it yourself')


class Demo:
    """The demo experiment; see the module docstring.

    Args:
        work_dir: Output folder (``report.md``, logs, checkpoints).
        seeds: One student/distilled pair is trained per seed.
        num_train_scans: Scans in each training sequence.
        num_val_scans: Scans in the held-out sequence.
        train_sequences / val_sequence: Synthetic sequence names (each one
            a different procedural scene); every tool is pointed at them.
            Six short sequences generalise far better than three long ones
            for the same scans: the plain student reached 76.2 / 75.1%
            moving IoU (seeds 0 / 1) with 6 x 20 scans, 36.2 / 62.9% with
            3 x 40.
        preset: Synthetic LiDAR preset (``small`` or ``full``).
        data_seed: Seed of the synthetic data (the held-out sequence uses
            ``data_seed + 1``).
        teacher_options / student_options: Extra ``--cfg-options`` of the
            teacher training and of both student trainings (e.g. a shorter
            schedule for smoke tests).
        data_root: Where the synthetic sequences are written; every tool
            is pointed at it through ``--cfg-options``. Relative paths are
            relative to the repository.
        logits_root: Where the teacher's offline logits are written and
            read by the distilled student's ``LoadTeacherLogits``.
    """

    def __init__(self,
                 work_dir: str = 'work_dirs/demo',
                 seeds: Sequence[int] = (0, 1),
                 num_train_scans: int = 20,
                 num_val_scans: int = 80,
                 train_sequences: Sequence[str] = ('00', '01', '02', '03',
                                                   '04', '05'),
                 val_sequence: str = '08',
                 preset: str = 'small',
                 data_seed: int = 2025,
                 teacher_options: Sequence[str] = (),
                 student_options: Sequence[str] = (),
                 data_root: str = DATA_ROOT,
                 logits_root: str = LOGITS_ROOT) -> None:
        self.work_dir = _from_repo(work_dir)
        self.data_root = _from_repo(data_root)
        self.logits_root = _from_repo(logits_root)
        self.seeds = list(seeds)
        self.num_train_scans = num_train_scans
        self.num_val_scans = num_val_scans
        self.train_sequences = list(train_sequences)
        self.val_sequence = val_sequence
        self.preset = preset
        self.data_seed = data_seed
        self.teacher_options = list(teacher_options)
        self.student_options = list(student_options)
        self.times: Dict[str, float] = {}
        self.metrics: Dict[str, dict] = {}
        self.checkpoints: Dict[str, str] = {}

    # ---- stages ----
    def make_data(self) -> None:
        """Write the synthetic sequences (kept if already identical)."""
        stamp = self.data_root / 'demo_stamp.json'
        want = dict(train=self.train_sequences, val=self.val_sequence,
                    train_scans=self.num_train_scans,
                    val_scans=self.num_val_scans, preset=self.preset,
                    seed=self.data_seed)
        if stamp.is_file() and json.loads(stamp.read_text()) == want:
            log(f'synthetic data in {self.data_root} is up to date')
            return
        clear_output_dir(self.data_root, 'demo_stamp.json')
        t = run_tool(['tools/make_synthetic_data.py', self.data_root,
                      '--sequences', *self.train_sequences, '--scans',
                      self.num_train_scans, '--seed', self.data_seed,
                      '--preset', self.preset], self.log_path('data_train'))
        t += run_tool(['tools/make_synthetic_data.py', self.data_root,
                       '--sequences', self.val_sequence, '--scans',
                       self.num_val_scans, '--seed', self.data_seed + 1,
                       '--preset', self.preset], self.log_path('data_val'))
        self.times['data_s'] = t
        stamp.write_text(json.dumps(want))

    def train(self, name: str, config: str, options: Sequence[str]) -> str:
        """Train one model; returns its last checkpoint."""
        work = self.work_dir / name
        shutil.rmtree(work, ignore_errors=True)
        # each model is evaluated once, by tools/test.py: no validation
        # during training (it would evaluate the same checkpoint twice)
        no_val = ['val_dataloader=None', 'val_cfg=None', 'val_evaluator=None']
        args = ['tools/train.py', config, '--work-dir', work,
                '--cfg-options', *self.data_options(), *no_val, *options]
        self.times[f'train_{name}_s'] = run_tool(args, self.log_path(name))
        self.checkpoints[name] = last_checkpoint(work)
        return self.checkpoints[name]

    def dump_logits(self) -> None:
        """Offline teacher logits of the training split."""
        clear_output_dir(self.logits_root, MANIFEST_NAME)
        self.times['dump_logits_s'] = run_tool(
            ['tools/dump_teacher_logits.py', TEACHER_CFG,
             self.checkpoints['teacher'], '--out', self.logits_root,
             '--split', 'train', '--cfg-options', *self.data_options()],
            self.log_path('dump_logits'))

    def evaluate(self, name: str, config: str) -> dict:
        """Moving/static/movable IoU on the held-out sequence."""
        out = self.work_dir / name / 'val_metrics.json'
        run_tool(['tools/test.py', config, self.checkpoints[name],
                  '--work-dir', self.work_dir / name / 'test',
                  '--metrics-out', out, '--cfg-options', *self.data_options()],
                 self.log_path(f'test_{name}'))
        self.metrics[name] = json.loads(out.read_text())
        return self.metrics[name]

    def data_options(self) -> list:
        """``--cfg-options`` entries pointing every dataloader of the
        synthetic configs at :attr:`data_root` and the demo's sequences."""
        seqs = dict(train_dataloader=self.train_sequences,
                    val_dataloader=[self.val_sequence],
                    test_dataloader=[self.val_sequence])
        opts = []
        for loader, names in seqs.items():
            opts += [f'{loader}.dataset.data_root={self.data_root}',
                     f'{loader}.dataset.sequences=[{",".join(names)}]']
        return opts

    def log_path(self, name: str) -> Path:
        return self.work_dir / 'logs' / f'{name}.log'

    # ---- the whole job ----
    def run(self) -> dict:
        """Run every stage and write the report; returns the report dict."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        self.make_data()
        self.train('teacher', TEACHER_CFG, self.teacher_options)
        self.evaluate('teacher', TEACHER_CFG)
        self.dump_logits()
        kd_logits = [logits_root_option(KD_CFG, self.logits_root)]
        for seed in self.seeds:
            opts = [f'randomness.seed={seed}'] + self.student_options
            for kind, cfg, extra in (('student', STUDENT_CFG, []),
                                     ('distilled', KD_CFG, kd_logits)):
                name = f'{kind}_seed{seed}'
                self.train(name, cfg, opts + extra)
                # a distiller checkpoint holds the student: test with its
                # own config, which builds the student for prediction
                self.evaluate(name, STUDENT_CFG)
        from .demo_report import write_report
        report = write_report(self, time.perf_counter() - start)
        log(f'report written to {self.work_dir / "report.md"}')
        return report
