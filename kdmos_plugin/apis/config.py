"""Load a config the way every tool of this plugin does."""
import logging
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read ``path``, apply ``--cfg-options`` and the device defaults.

    * ``work_dir``: the argument, else the config's, else
      ``./work_dirs/<config name>``.
    * Without CUDA, distributed runs use ``gloo`` (NCCL needs GPUs), wrap
      the model with ``device_ids=None`` (mmengine passes the local rank as
      a GPU id) and keep plain BatchNorm (torch's SyncBatchNorm is GPU-only;
      a ``sync_bn`` request is dropped with a warning), so
      ``tools/dist_train.sh`` runs on CPU machines.
    * ``custom_imports`` of ``kdmos_plugin`` is ensured, so a config that
      does not inherit our runtime still finds our modules.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``key.sub=value`` overrides.
        work_dir (str, optional): Output folder.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.

    Returns:
        Config: The ready config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if not torch.cuda.is_available():
        env = cfg.setdefault('env_cfg', {})
        env.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if launcher != 'none':
            wrapper = cfg.get('model_wrapper_cfg') or dict(
                type='MMDistributedDataParallel', broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters',
                                               False))
            wrapper['device_ids'] = None
            cfg.model_wrapper_cfg = wrapper
            if cfg.get('sync_bn'):
                print_log(
                    f'{path}: sync_bn={cfg.sync_bn!r} needs GPUs (torch\'s '
                    'SyncBatchNorm is GPU-only); using BatchNorm per process',
                    logger='current', level=logging.WARNING)
                cfg.sync_bn = None
    imports = cfg.get('custom_imports', {}).get('imports', [])
    if 'kdmos_plugin' not in imports:
        cfg.custom_imports = dict(
            imports=list(imports) + ['kdmos_plugin'],
            allow_failed_imports=False)
    cfg.setdefault('default_scope', 'mmdet3d')
    return cfg
