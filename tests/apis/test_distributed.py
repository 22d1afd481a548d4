"""finish_distributed: the orderly end of a gloo run."""
import numpy as np
import torch
import torch.distributed as dist

from kdmos_plugin.apis import finish_distributed


def _reduce_then_finish(rank: int, world: int) -> dict:
    """An asynchronous all-reduce (work a gloo thread holds), then the end."""
    value = torch.full((3, ), float(rank + 1))
    dist.all_reduce(value, async_op=True).wait()
    before = dist.is_initialized()
    finish_distributed()
    after = dist.is_initialized()
    finish_distributed()  # a second call is a no-op, not an error
    return dict(before=before, after=after, value=value.numpy())


def test_finish_distributed_destroys_the_group(gloo_ranks):
    out = gloo_ranks(_reduce_then_finish, world=2)
    for rank in (0, 1):
        assert out[rank]['before'] and not out[rank]['after']
        np.testing.assert_array_equal(out[rank]['value'], [3.0, 3.0, 3.0])


def test_finish_distributed_without_a_group_is_a_no_op():
    assert not dist.is_initialized()
    finish_distributed()
    assert not dist.is_initialized()
