"""Every writing tool pointed at a folder that holds a user's files leaves
each of them byte-identical: tools/infer.py, tools/test.py --submit,
tools/dump_teacher_logits.py, tools/create_data.py and
tools/make_synthetic_data.py (run in this process, as from the command
line). Only files a tool wrote itself (its ledger) are replaced or, for a
submission that starts clean, removed."""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.datasets.kitti_io import read_labels, read_points
from kdmos_plugin.utils.owned_files import LEDGER_NAME, ForeignFilesError

NUM_SCANS = 3


def _snapshot(folder):
    """{relative path: sha256} of every file under ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes())
            .hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture
def user_root(tiny_kitti_root, tmp_path):
    """A user's dataset: 3 labelled scans of sequence 08 (+ poses, calib)
    and a notes file."""
    src = Path(tiny_kitti_root, 'sequences', '08')
    dst = tmp_path / 'user' / 'sequences' / '08'
    for folder, ext in (('velodyne', 'bin'), ('labels', 'label')):
        (dst / folder).mkdir(parents=True)
        for i in range(NUM_SCANS):
            shutil.copy(src / folder / f'{i:06d}.{ext}', dst / folder)
    shutil.copy(src / 'calib.txt', dst)
    lines = (src / 'poses.txt').read_text().splitlines()[:NUM_SCANS]
    (dst / 'poses.txt').write_text('\n'.join(lines) + '\n')
    (tmp_path / 'user' / 'NOTES.md').write_text('my dataset\n')
    return tmp_path / 'user'


def _config(ckpt):
    return ckpt.replace('.pth', '.py')


def test_infer_never_replaces_files_it_did_not_write(user_root, run_tool,
                                                     tiny_student_ckpt):
    seq = user_root / 'sequences' / '08'
    before = _snapshot(user_root)
    with pytest.raises(ForeignFilesError,
                       match=r'would replace 3 files .*000000\.label'
                       ) as err:
        run_tool('infer', _config(tiny_student_ckpt), tiny_student_ckpt,
                 '--scans', seq / 'velodyne', '--out', seq / 'labels')
    assert str(seq / 'labels') in str(err.value)
    assert '--overwrite' in str(err.value)
    assert _snapshot(user_root) == before  # ground truth kept, no ledger
    # a folder of its own beside a user's file: written, rewritten on a
    # second run, the user's file untouched
    out = user_root / 'predicted'
    out.mkdir()
    (out / 'mine.label').write_bytes(b'\1\0\0\0')
    mine = _snapshot(out)
    for _ in range(2):
        run_tool('infer', _config(tiny_student_ckpt), tiny_student_ckpt,
                 '--scans', seq / 'velodyne', '--out', out, '--vis')
    assert _snapshot(out)['mine.label'] == mine['mine.label']
    assert len(list(out.glob('0*.label'))) == NUM_SCANS
    assert len(list((out / 'vis').glob('*.png'))) == NUM_SCANS
    # --overwrite replaces them (and the labels are then predictions)
    run_tool('infer', _config(tiny_student_ckpt), tiny_student_ckpt,
             '--scans', seq / 'velodyne', '--out', seq / 'labels',
             '--overwrite')
    assert _snapshot(seq / 'labels') != {
        k[len('sequences/08/labels/'):]: v for k, v in before.items()
        if k.startswith('sequences/08/labels/')}
    n = len(read_points(seq / 'velodyne' / '000000.bin'))
    np.testing.assert_array_equal(read_labels(seq / 'labels' / '000000.label',
                                              n),
                                  read_labels(out / '000000.label', n))


def test_submission_starts_clean_or_refuses(user_root, run_tool, tmp_path,
                                            tiny_student_ckpt):
    options = [f'test_dataloader.dataset.data_root={user_root}']
    sub = tmp_path / 'submission'
    (sub / 'sequences' / '08' / 'predictions').mkdir(parents=True)
    (sub / 'sequences' / '08' / 'predictions' / '000000.label').write_bytes(
        b'\0' * 8)
    (sub / 'README.txt').write_text('last year\n')
    before = _snapshot(sub)
    with pytest.raises(ForeignFilesError, match='holds 2 files') as err:
        run_tool('test', _config(tiny_student_ckpt), tiny_student_ckpt,
                 '--work-dir', tmp_path / 'w', '--submit', sub,
                 cfg_options=options)
    assert str(sub) in str(err.value)
    assert _snapshot(sub) == before
    # a new folder, then a rerun into it: an earlier run's stale frame goes
    new = tmp_path / 'new_submission'
    run_tool('test', _config(tiny_student_ckpt), tiny_student_ckpt,
             '--work-dir', tmp_path / 'w', '--submit', new,
             cfg_options=options)
    preds = new / 'sequences' / '08' / 'predictions'
    assert sorted(p.name for p in preds.iterdir()) == [
        f'{i:06d}.label' for i in range(NUM_SCANS)]
    (preds / '000099.label').write_bytes(b'\0' * 8)  # a frame gone since
    run_tool('test', _config(tiny_student_ckpt), tiny_student_ckpt,
             '--work-dir', tmp_path / 'w', '--submit', new,
             cfg_options=options)
    assert sorted(p.name for p in preds.iterdir()) == [
        f'{i:06d}.label' for i in range(NUM_SCANS)]


def test_dump_teacher_logits_keeps_a_users_files(user_root, run_tool,
                                                 tiny_student_ckpt):
    """Any MOS segmentor can be the teacher; the tiny student is quick."""
    options = [f'train_dataloader.dataset.data_root={user_root}',
               'train_dataloader.dataset.sequences=[08]']
    out = user_root / 'logits'
    out.mkdir()
    (out / 'NOTES.md').write_text('logits of my teacher go here\n')
    before = _snapshot(user_root)
    run_tool('dump_teacher_logits', _config(tiny_student_ckpt),
             tiny_student_ckpt, '--out', out, cfg_options=options)
    after = _snapshot(user_root)
    assert {k: after[k] for k in before} == before
    assert len([k for k in after if k.endswith('.npy')]) == NUM_SCANS
    # a folder whose sequences/ it did not write is refused untouched
    before = _snapshot(user_root)
    with pytest.raises(ValueError, match='holds sequences/ but no') as err:
        run_tool('dump_teacher_logits', _config(tiny_student_ckpt),
                 tiny_student_ckpt, '--out', user_root, cfg_options=options)
    assert str(user_root) in str(err.value)
    assert _snapshot(user_root) == before


def test_create_data_keeps_a_users_files(user_root, run_tool):
    info = user_root / 'semantickitti_mos_infos_val.json'
    info.write_text('{"mine": true}\n')
    before = _snapshot(user_root)
    with pytest.raises(ForeignFilesError,
                       match='semantickitti_mos_infos_val.json'):
        run_tool('create_data', user_root, '--split', 'val', '08')
    assert _snapshot(user_root) == before
    # residual files over a user's: refused before any is written
    residuals = user_root / 'residuals'
    (residuals / '08' / 'residual_images').mkdir(parents=True)
    np.save(residuals / '08' / 'residual_images' / '000001.npy',
            np.ones((2, 8), np.float32))
    before = _snapshot(user_root)
    with pytest.raises(ForeignFilesError, match='000001.npy'):
        run_tool('create_data', user_root, '--split', 'mine', '08',
                 '--residual-root', residuals)
    after = _snapshot(user_root)
    assert {k: after[k] for k in before} == before
    assert 'semantickitti_mos_infos_mine.json' in after  # written first
    # its own files it rewrites on a second run
    run_tool('create_data', user_root, '--split', 'mine', '08')
    assert (user_root / LEDGER_NAME).is_file()


def test_make_synthetic_data_keeps_a_users_dataset(user_root, run_tool):
    before = _snapshot(user_root)
    with pytest.raises(ForeignFilesError,
                       match=r'would replace 8 files .*poses\.txt') as err:
        run_tool('make_synthetic_data', user_root, '--sequences', '08',
                 '--scans', NUM_SCANS)
    assert str(user_root) in str(err.value)
    assert _snapshot(user_root) == before
