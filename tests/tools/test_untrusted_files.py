"""No file we read may make us run code: a pickle payload (its
``__reduce__`` would create a marker file) given as an info file, a
teacher-logits manifest, a teacher-logits ``.npy`` and a checkpoint, to
tools/train.py, tools/test.py, tools/infer.py and
tools/dump_teacher_logits.py (run in this process, as from the command
line). Each is refused with an error naming the file, and the marker never
appears."""
import logging
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger


def _config(ckpt):
    return ckpt.replace('.pth', '.py')


def test_the_payload_is_real(pickle_payload, tmp_path):
    """Plain unpickling runs it (so the tests below can fail)."""
    make, marker = pickle_payload
    probe = tmp_path / 'probe'
    pickle.loads(pickle.dumps(make(probe)))
    assert probe.exists() and not marker.exists()


def _write_pickle(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return str(path)


def _info(payload):
    """An info file's content with the payload inside."""
    return dict(metainfo=dict(dataset='SemanticKittiMOS'),
                data_list=[dict(sequence='08', frame_id=0, extra=payload)])


def test_info_file_payload_is_refused(pickle_payload, tmp_path, run_tool,
                                      tiny_student_ckpt, tiny_kitti_root):
    make, marker = pickle_payload
    info = _write_pickle(tmp_path / 'infos_train.pkl', _info(make()))
    with pytest.raises(ValueError, match='refusing to unpickle') as err:
        run_tool('train', _config(tiny_student_ckpt), '--work-dir',
                 tmp_path / 'w', cfg_options=[
                     f'train_dataloader.dataset.data_root={tiny_kitti_root}',
                     f'train_dataloader.dataset.ann_file={info}'])
    assert info in str(err.value)
    assert not marker.exists()
    with pytest.raises(ValueError, match='refusing to unpickle') as err:
        run_tool('test', _config(tiny_student_ckpt), tiny_student_ckpt,
                 '--work-dir', tmp_path / 'w', cfg_options=[
                     f'test_dataloader.dataset.data_root={tiny_kitti_root}',
                     f'test_dataloader.dataset.ann_file={info}'])
    assert info in str(err.value)
    assert not marker.exists()


def test_checkpoint_payload_is_refused(pickle_payload, tmp_path, run_tool,
                                       tiny_student_ckpt, tiny_kitti_root):
    make, marker = pickle_payload
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'meta': make()}, ckpt)
    scans = f'{tiny_kitti_root}/sequences/08/velodyne'
    with pytest.raises(RuntimeError, match='refusing to unpickle') as err:
        run_tool('infer', _config(tiny_student_ckpt), ckpt, '--scans', scans,
                 '--out', tmp_path / 'out')
    assert str(ckpt) in str(err.value)
    with pytest.raises(RuntimeError, match='refusing to unpickle') as err:
        run_tool('test', _config(tiny_student_ckpt), ckpt, '--work-dir',
                 tmp_path / 'w', cfg_options=[
                     f'test_dataloader.dataset.data_root={tiny_kitti_root}'])
    assert str(ckpt) in str(err.value)
    with pytest.raises(RuntimeError, match='refusing to unpickle') as err:
        run_tool('train', _config(tiny_student_ckpt), '--work-dir',
                 tmp_path / 'w2', cfg_options=[
                     f'train_dataloader.dataset.data_root={tiny_kitti_root}',
                     f'val_dataloader.dataset.data_root={tiny_kitti_root}',
                     'train_dataloader.dataset.sequences=[00]',
                     f'load_from={ckpt}'])
    assert str(ckpt) in str(err.value)
    assert not marker.exists()


@pytest.fixture
def kd_config(tiny_grid_config, tiny_kitti_root, tmp_path):
    """The tiny-grid offline-KD config on sequence 00 of the tiny dataset,
    its logits in ``tmp_path/logits`` (to be written by the test): the
    config file and the logits root."""
    cfg = tiny_grid_config('student_kd_synthetic.py')
    root = tmp_path / 'logits'
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'LoadTeacherLogits':
            step['logits_root'] = str(root)
    cfg.train_dataloader.dataset.update(data_root=tiny_kitti_root,
                                        sequences=['00'])
    cfg.val_dataloader.dataset.data_root = tiny_kitti_root
    cfg.train_dataloader.batch_size = 1
    path = tmp_path / 'kd.py'
    cfg.dump(str(path))
    return str(path), root


def test_teacher_logit_payload_is_refused(pickle_payload, kd_config,
                                          tmp_path, run_tool):
    """A pickle named .npy, and a real .npy of dtype object: both in every
    frame's place, so whichever sample training loads first meets one."""
    import numpy as np

    from kdmos_plugin.datasets.teacher_logits import logits_path
    make, marker = pickle_payload
    config, root = kd_config
    for as_npy in (False, True):
        for frame in range(12):
            path = Path(logits_path(str(root), '00', frame))
            path.parent.mkdir(parents=True, exist_ok=True)
            if as_npy:
                np.save(path, np.array([make()], dtype=object),
                        allow_pickle=True)
            else:
                _write_pickle(path, make())
        with pytest.raises(ValueError,
                           match='never loaded' if not as_npy else
                           r'holds Python objects \(dtype object\)') as err:
            run_tool('train', config, '--work-dir', tmp_path / 'w',
                     cfg_options=[])
        assert str(root / 'sequences' / '00' / 'teacher_logits') in \
            str(err.value)
        assert not marker.exists()


def test_manifest_payload_is_refused(pickle_payload, kd_config, tmp_path,
                                     run_tool, tiny_student_ckpt,
                                     tiny_kitti_root):
    from kdmos_plugin.datasets.teacher_logits import MANIFEST_NAME
    make, marker = pickle_payload
    config, root = kd_config
    root.mkdir()
    manifest = _write_pickle(root / MANIFEST_NAME, make())
    with pytest.raises(ValueError, match='not valid JSON') as err:
        run_tool('train', config, '--work-dir', tmp_path / 'w',
                 cfg_options=[])
    assert manifest in str(err.value)
    with pytest.raises(ValueError, match='not valid JSON') as err:
        run_tool('dump_teacher_logits', _config(tiny_student_ckpt),
                 tiny_student_ckpt, '--out', root, cfg_options=[
                     f'train_dataloader.dataset.data_root={tiny_kitti_root}',
                     'train_dataloader.dataset.sequences=[00]'])
    assert manifest in str(err.value)
    assert not marker.exists()


def test_dump_rerun_redoes_a_truncated_logit_file(tmp_path, run_tool,
                                                  tiny_student_ckpt,
                                                  tiny_kitti_root):
    """A rerun of the dump does not count a truncated or garbage file as
    done: it names it and writes it again."""
    import numpy as np

    from kdmos_plugin.datasets.teacher_logits import logits_path
    options = [f'train_dataloader.dataset.data_root={tiny_kitti_root}',
               'train_dataloader.dataset.sequences=[11]']  # 6 scans
    out = tmp_path / 'logits'
    run_tool('dump_teacher_logits', _config(tiny_student_ckpt),
             tiny_student_ckpt, '--out', out, cfg_options=options)
    good = {i: np.load(logits_path(str(out), '11', i)) for i in range(6)}
    cut = Path(logits_path(str(out), '11', 2))
    cut.write_bytes(cut.read_bytes()[:-100])
    Path(logits_path(str(out), '11', 4)).write_bytes(b'garbage' * 9)
    logger = MMLogger.get_current_instance()
    said = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())
    logger.addHandler(handler)
    try:
        run_tool('dump_teacher_logits', _config(tiny_student_ckpt),
                 tiny_student_ckpt, '--out', out, cfg_options=options)
    finally:
        logger.removeHandler(handler)
    assert [m for m in said if str(cut) in m and 'written again' in m]
    assert [m for m in said if logits_path(str(out), '11', 4) in m and
            'not a .npy file' in m]
    for i in range(6):
        np.testing.assert_array_equal(
            np.load(logits_path(str(out), '11', i)), good[i])
