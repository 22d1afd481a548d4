"""MOSEnsemble: the mean of its members' logits, against members run on
their own; its checkpoint merged from the members' files; what it refuses."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet3d.registry import MODELS

import kdmos_plugin  # noqa: F401
from kdmos_plugin.apis.checkpoint import (load_matching_checkpoint,
                                          merge_member_checkpoints)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmdet3d')


def _members(cfg_fn, num=2):
    """``num`` tiny teachers with different random weights, in eval mode."""
    models = []
    for seed in range(num):
        torch.manual_seed(seed)
        models.append(MODELS.build(cfg_fn()).eval())
    return models


def _saved(model, path):
    """``model``'s weights as a training run saves them."""
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return str(path)


def test_logits_are_the_mean_of_members_run_alone(small_teacher_cfg,
                                                  make_batch, tmp_path):
    members = _members(small_teacher_cfg, 3)
    ensemble = MODELS.build(dict(
        type='MOSEnsemble', members=[small_teacher_cfg()] * 3)).eval()
    merged = str(tmp_path / 'ensemble.pth')
    meta = merge_member_checkpoints(
        [_saved(m, tmp_path / f'm{i}.pth') for i, m in enumerate(members)],
        merged)
    assert [m['file'] for m in meta['members']] == ['m0.pth', 'm1.pth',
                                                    'm2.pth']
    load_matching_checkpoint(ensemble, merged)
    inputs, samples = make_batch(2)
    with torch.no_grad():
        alone = [m.point_logits(m.forward_feats(inputs), inputs)
                 for m in members]
        got = ensemble.point_logits(ensemble.forward_feats(inputs), inputs)
        out = ensemble.predict(inputs, samples)
    # the obvious reference: add up, divide by the count
    want = (alone[0] + alone[1] + alone[2]) / 3
    assert got.shape == (sum(len(p) for p in inputs['points']), 4)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # the members differ, so the mean is none of them
    assert not torch.allclose(alone[0], alone[1])
    n0 = len(inputs['points'][0])
    assert torch.equal(out[0].pred_pts_seg.pts_semantic_mask,
                       want[:n0].argmax(1))


def test_merged_checkpoint_keeps_every_weight_exactly(small_teacher_cfg,
                                                      tmp_path):
    """The sparse kernels come back unpermuted: mmdet3d's spconv loader
    permutes a kernel whose module version is missing from the metadata."""
    members = _members(small_teacher_cfg)
    paths = [_saved(m, tmp_path / f'm{i}.pth') for i, m in enumerate(members)]
    merged = str(tmp_path / 'ensemble.pth')
    merge_member_checkpoints(paths, merged)
    ensemble = MODELS.build(dict(type='MOSEnsemble',
                                 members=[small_teacher_cfg()] * 2))
    load_matching_checkpoint(ensemble, merged)
    for member, source in zip(ensemble.members, members):
        own, src = member.state_dict(), source.state_dict()
        assert own.keys() == src.keys()
        for key in src:
            assert torch.equal(own[key], src[key]), key
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'ensemble.pth', 'm0.pth', 'm1.pth']  # no temporary file left


def test_merge_refuses_bad_arguments(small_teacher_cfg, tmp_path):
    members = _members(small_teacher_cfg)
    paths = [_saved(m, tmp_path / f'm{i}.pth') for i, m in enumerate(members)]
    with pytest.raises(ValueError, match='two or more'):
        merge_member_checkpoints(paths[:1], str(tmp_path / 'out.pth'))
    before = open(paths[1], 'rb').read()
    with pytest.raises(ValueError, match='also one of the inputs'):
        merge_member_checkpoints(paths, paths[1])
    assert open(paths[1], 'rb').read() == before  # a user's file is kept
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='list.pth: holds no state dict'):
        merge_member_checkpoints([paths[0], str(tmp_path / 'list.pth')],
                                 str(tmp_path / 'out.pth'))
    assert not osp.exists(tmp_path / 'out.pth')


def test_ensemble_refuses_what_it_cannot_average(small_teacher_cfg,
                                                 make_batch):
    for bad in (dict(), dict(members=[small_teacher_cfg()] * 2,
                             member=small_teacher_cfg(), num_members=2),
                dict(member=small_teacher_cfg())):
        with pytest.raises(ValueError, match='either members'):
            MODELS.build(dict(type='MOSEnsemble', **bad))
    with pytest.raises(ValueError, match='two or more members'):
        MODELS.build(dict(type='MOSEnsemble', members=[small_teacher_cfg()]))
    with pytest.raises(ValueError, match='member 1 .* 3 classes'):
        MODELS.build(dict(type='MOSEnsemble', members=[
            small_teacher_cfg(),
            small_teacher_cfg(num_classes=3,
                              decode_head=dict(channels=8))]))
    ensemble = MODELS.build(dict(type='MOSEnsemble',
                                 members=[small_teacher_cfg()] * 2))
    inputs, samples = make_batch(1)
    with pytest.raises(NotImplementedError, match='merge_checkpoints'):
        ensemble.loss(inputs, samples)


def test_synthetic_ensemble_config_builds_teacher_members():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/kdmos/teacher_ensemble_synthetic.py'))
    teacher = Config.fromfile(
        osp.join(REPO, 'configs/kdmos/teacher_sparse4d_synthetic.py'))
    assert cfg.model.type == 'MOSEnsemble'
    assert cfg.model.member == teacher.model
    model = MODELS.build(cfg.model)
    assert len(model.members) == cfg.model.num_members == 2
    cfg.merge_from_dict({'model.num_members': 3,
                         'model.member.decode_head.channels': 16})
    model = MODELS.build(cfg.model)
    assert len(model.members) == 3
    assert all(m.decode_head.conv_seg.in_features == 16
               for m in model.members)
    assert model.num_classes == teacher.model.num_classes
    # the data flow is the teacher's: same pipelines, same preprocessor
    assert cfg.test_dataloader == teacher.test_dataloader
    assert type(model.data_preprocessor).__name__ == 'MOSDataPreprocessor'
