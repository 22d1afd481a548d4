"""No file we read may make us run code: a pickle payload (its
``__reduce__`` would create a marker file) given as an info file, a
teacher-logits manifest, a teacher-logits ``.npy`` and a checkpoint, to
tools/train.py, tools/test.py, tools/infer.py and
tools/dump_teacher_logits.py (run in this process, as from the command
line). Each is refused with an error naming the file, and the marker never
appears."""
import pickle

import pytest
import torch


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
                     'train_dataloader.dataset.sequences=[00]',
                     f'load_from={ckpt}'])
    assert str(ckpt) in str(err.value)
    assert not marker.exists()
