"""DistSyncBatchNorm: 2 gloo processes on CPU equal one BatchNorm on the
concatenated batch; one process is BatchNorm exactly; conversion keeps state.
"""

import pytest
import torch
import torch.distributed as dist
from torch import nn

from kdmos_plugin.models.layers import (CircularConvBNAct, DistSyncBatchNorm,
                                        convert_sync_batchnorm)
from kdmos_plugin.models.voxel_encoders import BEVPointEncoder

#: name: (BatchNorm class, batch A shape, rank sizes of A, rank sizes of the
#: second batch B (same trailing shape), momentum, affine)
CASES = {
    'bev_2d': (nn.BatchNorm2d, (5, 3, 4, 6), (3, 2), (1, 3), 0.1, True),
    'points_empty_rank': (nn.BatchNorm1d, (7, 4), (7, 0), (0, 6), None, True),
    'seq_1d_no_affine': (nn.BatchNorm1d, (4, 2, 5), (1, 3), (2, 2), 0.3,
                         False),
}


def _case_tensors(name):
    """Batches A, B, the upstream gradient of A and the affine parameters,
    the same on every process (seeded by the case)."""
    cls, shape, sizes_a, sizes_b, momentum, affine = CASES[name]
    gen = torch.Generator().manual_seed(len(name) * 7919)
    channels = shape[1]
    batch_a = torch.randn(shape, generator=gen) * 3 + 1.5
    batch_b = torch.randn((sum(sizes_b), ) + shape[1:], generator=gen) - 2
    grad_a = torch.randn(shape, generator=gen)
    weight = torch.rand(channels, generator=gen) + 0.5
    bias = torch.randn(channels, generator=gen)
    return batch_a, batch_b, grad_a, weight, bias


def _set_affine(bn, weight, bias):
    if bn.affine:
        with torch.no_grad():
            bn.weight.copy_(weight)
            bn.bias.copy_(bias)


def _to_numpy(tensors):
    """Plain arrays (torch tensors crossing processes need the sender
    alive), ``None`` kept."""
    return {k: None if v is None else v.detach().numpy().copy()
            for k, v in tensors.items()}


def _worker(rank, world):
    """One rank: its slice of every case, one training step on batch A
    (forward + backward), a second forward on batch B, then eval."""
    results = {}
    for name, (cls, shape, sizes_a, sizes_b, momentum,
               affine) in CASES.items():
        batch_a, batch_b, grad_a, weight, bias = _case_tensors(name)
        lo_a, lo_b = sum(sizes_a[:rank]), sum(sizes_b[:rank])
        sl_a = slice(lo_a, lo_a + sizes_a[rank])
        sl_b = slice(lo_b, lo_b + sizes_b[rank])
        bn = DistSyncBatchNorm(shape[1], momentum=momentum, affine=affine)
        _set_affine(bn, weight, bias)
        x = batch_a[sl_a].clone().requires_grad_()
        y = bn(x)
        (y * grad_a[sl_a]).sum().backward()
        y_b = bn(batch_b[sl_b])
        bn.eval()
        y_eval = bn(batch_a[sl_a])
        results[name] = _to_numpy(dict(
            y=y, grad_x=x.grad, y_b=y_b, y_eval=y_eval,
            grad_w=bn.weight.grad if affine else None,
            grad_b=bn.bias.grad if affine else None,
            running_mean=bn.running_mean, running_var=bn.running_var,
            tracked=bn.num_batches_tracked))
    # a group of one process: exactly BatchNorm on the local slice
    groups = [dist.new_group([r]) for r in range(world)]
    x = torch.randn(3 + rank, 2, 5, generator=torch.Generator()
                    .manual_seed(rank))
    solo = DistSyncBatchNorm(2, process_group=groups[rank])
    plain = nn.BatchNorm1d(2)
    results['solo'] = (torch.equal(solo(x), plain(x)) and torch.equal(
        solo.running_var, plain.running_var))
    # one value per channel over all processes cannot be normalised
    try:
        DistSyncBatchNorm(3)(torch.randn(1 - rank, 3))
        results['single_value_error'] = None
    except ValueError as err:
        results['single_value_error'] = str(err)
    return results


@pytest.fixture(scope='module')
def two_rank_results(gloo_ranks):
    """Results of both ranks, by rank."""
    results = gloo_ranks(_worker)
    return {rank: {name: ({k: None if v is None else torch.from_numpy(v)
                           for k, v in res.items()}
                          if isinstance(res, dict) else res)
                   for name, res in ranks.items()}
            for rank, ranks in results.items()}


@pytest.mark.parametrize('name', list(CASES))
def test_two_ranks_equal_batchnorm_on_concatenated_batch(
        two_rank_results, name):
    cls, shape, sizes_a, sizes_b, momentum, affine = CASES[name]
    batch_a, batch_b, grad_a, weight, bias = _case_tensors(name)
    ref = cls(shape[1], momentum=momentum, affine=affine)
    _set_affine(ref, weight, bias)
    x = batch_a.clone().requires_grad_()
    y = ref(x)
    (y * grad_a).sum().backward()
    y_b = ref(batch_b)
    ref.eval()
    y_eval = ref(batch_a)
    ranks = [two_rank_results[r][name] for r in range(2)]
    close = torch.testing.assert_close
    close(torch.cat([r['y'] for r in ranks]), y.detach())
    close(torch.cat([r['grad_x'] for r in ranks]), x.grad)
    close(torch.cat([r['y_b'] for r in ranks]), y_b.detach())
    close(torch.cat([r['y_eval'] for r in ranks]), y_eval)
    if affine:
        # each rank holds the gradient of its own loss term; DDP sums
        # (averages) them
        close(ranks[0]['grad_w'] + ranks[1]['grad_w'], ref.weight.grad)
        close(ranks[0]['grad_b'] + ranks[1]['grad_b'], ref.bias.grad)
    for r in ranks:
        close(r['running_mean'], ref.running_mean)
        close(r['running_var'], ref.running_var)
        assert int(r['tracked']) == int(ref.num_batches_tracked) == 2
    assert torch.equal(ranks[0]['running_var'], ranks[1]['running_var'])


def test_group_of_one_process_is_batchnorm(two_rank_results):
    assert two_rank_results[0]['solo'] and two_rank_results[1]['solo']


def test_one_value_over_all_ranks_is_an_error(two_rank_results):
    for rank in range(2):
        assert 'more than 1 value per channel' in two_rank_results[rank][
            'single_value_error']


@pytest.mark.parametrize('momentum', [0.1, None])
def test_without_process_group_equals_batchnorm_exactly(momentum):
    torch.manual_seed(0)
    ours = DistSyncBatchNorm(3, momentum=momentum)
    ref = nn.BatchNorm2d(3, momentum=momentum)
    _set_affine(ours, torch.rand(3) + 0.5, torch.randn(3))
    ref.load_state_dict(ours.state_dict())
    for _ in range(2):
        x = torch.randn(4, 3, 5, 7) * 2 + 1
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(xa), ref(xb)
        assert torch.equal(ya, yb)
        ya.square().sum().backward()
        yb.square().sum().backward()
        assert torch.equal(xa.grad, xb.grad)
    assert torch.equal(ours.weight.grad, ref.weight.grad)
    for key, value in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    ours.eval()
    ref.eval()
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(ours(x), ref(x))


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match=r'\(N, C, \*\)'):
        DistSyncBatchNorm(3)(torch.randn(3))
    with pytest.raises(ValueError, match='expected 3 channels'):
        DistSyncBatchNorm(3)(torch.randn(4, 5))


def _trained_model():
    torch.manual_seed(1)
    model = nn.Sequential(
        CircularConvBNAct(2, 4),
        nn.Sequential(nn.BatchNorm3d(4), nn.SyncBatchNorm(4, momentum=None)),
        BEVPointEncoder(in_channels=3, feat_channels=(8, 16), out_channels=4,
                        motion_channels=0, bev_shape=(4, 6)),
        nn.BatchNorm1d(5, affine=False))
    model.train()
    model[0](torch.randn(3, 2, 4, 6))  # running statistics move off 0/1
    model[1][0](torch.randn(2, 4, 2, 2, 2))
    model[2].mlp(torch.randn(20, 3))
    model[3](torch.randn(6, 5))
    model[0][1].qconfig = 'kept'
    return model


def test_convert_keeps_parameters_buffers_and_outputs():
    model = _trained_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = {k: v for k, v in model.named_parameters()}
    model.eval()
    model[1].train()  # the training flag of each layer is kept
    conv_in = torch.randn(2, 2, 4, 6)
    points, grid = torch.randn(30, 3), torch.randint(0, 4, (30, 3))
    expected = (model[0](conv_in),
                model[2](points, grid, torch.zeros(30, dtype=torch.long), 1))
    model = convert_sync_batchnorm(model)
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 6
    assert all(type(m) is DistSyncBatchNorm for m in norms)
    assert model[0][1].qconfig == 'kept'
    assert model[1][1].momentum is None and model[1][0].training
    assert not model[0][1].training and not model[3].affine
    assert model.state_dict().keys() == before.keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    for key, value in model.named_parameters():
        assert value is params[key], key  # shared, so an optimizer still works
    # eval paths that fold BatchNorm into the next layer accept ours
    assert torch.equal(model[0](conv_in), expected[0])
    got = model[2](points, grid, torch.zeros(30, dtype=torch.long), 1)
    for a, b in zip(got, expected[1]):
        assert torch.equal(a, b)
    assert convert_sync_batchnorm(nn.BatchNorm2d(3)).__class__ is \
        DistSyncBatchNorm
    norm = norms[0]
    assert convert_sync_batchnorm(norm) is norm


def test_built_from_norm_cfg():
    from mmcv.cnn import build_norm_layer
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        name, layer = build_norm_layer(
            dict(type='DistSyncBN', momentum=0.01), 8)
    assert name == 'bn' and type(layer) is DistSyncBatchNorm
    assert layer.momentum == 0.01 and layer.num_features == 8
