"""A checkpoint of another model is refused, naming the file."""
import pytest
import torch
from mmengine.runner import save_checkpoint
from torch import nn

from kdmos_plugin.apis.checkpoint import (CheckpointMismatchError,
                                          check_checkpoint_matches)


def _net(width=4):
    return nn.Sequential(nn.Linear(3, width), nn.BatchNorm1d(width),
                         nn.Linear(width, 2))


def test_matching_checkpoint_loads(tmp_path):
    src = _net()
    path = tmp_path / 'same.pth'
    save_checkpoint({'state_dict': src.state_dict()}, str(path))
    dst = _net()
    dst.load_state_dict(check_checkpoint_matches(dst, str(path)))
    for a, b in zip(src.state_dict().values(), dst.state_dict().values()):
        assert torch.equal(a, b)


def test_ddp_prefix_is_accepted(tmp_path):
    src = _net()
    path = tmp_path / 'ddp.pth'
    torch.save({'module.' + k: v for k, v in src.state_dict().items()}, path)
    assert set(check_checkpoint_matches(_net(), str(path))) == \
        set(src.state_dict())


@pytest.mark.parametrize('other, what', [
    (nn.Sequential(nn.Linear(3, 4)), 'missing'),
    (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2),
                   nn.Linear(2, 2)), 'unexpected'),
    (_net(width=5), 'shape mismatch'),
])
def test_checkpoint_of_another_model_is_refused(tmp_path, other, what):
    path = tmp_path / 'other_model.pth'
    save_checkpoint({'state_dict': other.state_dict()}, str(path))
    with pytest.raises(CheckpointMismatchError,
                       match=rf'other_model\.pth.*{what}'):
        check_checkpoint_matches(_net(), str(path))


def test_spconv_kernels_round_trip_untransposed(tmp_path):
    """mmdet3d's spconv loader permutes kernels of state dicts without
    module versions; ours keeps the checkpoint's metadata, so the weights
    come back as saved."""
    import mmdet3d.models.layers.spconv  # noqa: F401  (its loader override)
    from spconv.pytorch import SparseSequential, SubMConv3d

    from kdmos_plugin.apis.checkpoint import load_matching_checkpoint
    torch.manual_seed(0)
    src = SparseSequential(SubMConv3d(3, 5, 3, indice_key='a'))
    path = tmp_path / 'sparse.pth'
    save_checkpoint({'state_dict': src.state_dict()}, str(path))
    dst = SparseSequential(SubMConv3d(3, 5, 3, indice_key='a'))
    load_matching_checkpoint(dst, str(path))
    assert torch.equal(dst[0].weight, src[0].weight)
