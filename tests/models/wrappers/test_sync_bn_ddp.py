"""SyncBNDistributedDataParallel: built from the registry, 2 gloo processes
on CPU share the BatchNorm statistics of the global batch."""

import torch
from torch import nn

from kdmos_plugin.models.layers import DistSyncBatchNorm

SIZES = (5, 2)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def _batch():
    return torch.randn(sum(SIZES), 3,
                       generator=torch.Generator().manual_seed(1)) * 2


def _worker(rank, world):
    """One rank: the registry-built wrapper, one step on its slice."""
    from mmdet3d.registry import MODEL_WRAPPERS
    from mmengine.registry import DefaultScope

    import kdmos_plugin  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        ddp = MODEL_WRAPPERS.build(
            dict(type='SyncBNDistributedDataParallel', device_ids=None,
                 broadcast_buffers=False),
            default_args=dict(module=_model()))
    lo = sum(SIZES[:rank])
    ddp(_batch()[lo:lo + SIZES[rank]]).square().sum().backward()
    norm = ddp.module[1]
    return (type(norm).__name__, norm.running_mean.numpy().copy(),
            norm.running_var.numpy().copy(), norm.weight.grad.numpy().copy())


def test_two_ranks_share_global_batch_statistics(gloo_ranks):
    results = gloo_ranks(_worker)
    ref = _model()
    ref(_batch()).square().sum().backward()
    for rank in range(2):
        name, mean, var, grad_w = results[rank]
        assert name == DistSyncBatchNorm.__name__
        torch.testing.assert_close(torch.from_numpy(mean),
                                   ref[1].running_mean)
        torch.testing.assert_close(torch.from_numpy(var), ref[1].running_var)
        # DDP averages the BatchNorm weight gradient over the 2 ranks
        torch.testing.assert_close(torch.from_numpy(grad_w),
                                   ref[1].weight.grad / 2)
