"""load_config: CPU defaults for distributed runs, SyncBN on CPU."""
import pytest
import torch

from kdmos_plugin.apis import load_config



@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    """The CPU branch of load_config, also on a machine with GPUs."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def _config(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text("model = dict(type='KDMOSStudent')\n" + text)
    return str(path)


def test_sync_bn_on_cpu_uses_our_wrapper(tmp_path):
    cfg = load_config(_config(tmp_path, "sync_bn = 'torch'\n"),
                      launcher='pytorch')
    assert cfg.sync_bn is None  # mmengine would convert to torch's GPU-only
    # scoped: the Runner looks it up in mmengine's root registry
    assert cfg.model_wrapper_cfg.type == \
        'mmdet3d.SyncBNDistributedDataParallel'
    from mmengine.registry import MODEL_WRAPPERS
    from kdmos_plugin.models.wrappers import SyncBNDistributedDataParallel
    assert MODEL_WRAPPERS.get(cfg.model_wrapper_cfg.type) is \
        SyncBNDistributedDataParallel
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    plain = load_config(_config(tmp_path, ''), launcher='pytorch')
    assert plain.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    single = load_config(_config(tmp_path, "sync_bn = 'torch'\n"))
    assert single.sync_bn == 'torch'  # not distributed: mmengine ignores it
    assert single.get('model_wrapper_cfg') is None


def test_sync_bn_errors_name_the_config(tmp_path):
    path = _config(tmp_path, "sync_bn = 'apex'\n")
    with pytest.raises(ValueError, match='cfg.py: sync_bn must be'):
        load_config(path, launcher='pytorch')
    path = _config(tmp_path, "sync_bn = 'torch'\nmodel_wrapper_cfg = dict("
                   "type='MMSeparateDistributedDataParallel')\n")
    with pytest.raises(ValueError, match='cfg.py: .*MMSeparate'):
        load_config(path, launcher='pytorch')
