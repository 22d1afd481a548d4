"""Load a config the way every tool of this plugin does."""
import logging
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

#: The hook every config run by the tools gets (engine/setup_check.py).
SETUP_CHECK_HOOK = 'MOSSetupCheckHook'


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read ``path``, apply ``--cfg-options`` and the device defaults.

    * ``work_dir``: the argument, else the config's, else
      ``./work_dirs/<config name>``.
    * Without CUDA, distributed runs use ``gloo`` (NCCL needs GPUs) and
      wrap the model with ``device_ids=None`` (mmengine passes the local
      rank as a GPU id), so ``tools/dist_train.sh`` runs on CPU machines.
      A ``sync_bn`` request (``'torch'`` or ``'mmcv'``, both GPU-only) is
      served by our device-agnostic
      :class:`~kdmos_plugin.models.layers.DistSyncBatchNorm` instead:
      ``cfg.sync_bn`` becomes ``None`` (mmengine would convert to torch's)
      and the wrapper becomes
      :class:`~kdmos_plugin.models.wrappers.SyncBNDistributedDataParallel`,
      which converts every BatchNorm before DDP sees the model. A custom
      ``model_wrapper_cfg`` type other than ``MMDistributedDataParallel``
      cannot be combined with ``sync_bn`` on CPU (a clear error). With
      CUDA nothing changes: mmengine converts to torch's SyncBatchNorm.
    * ``custom_imports`` of ``kdmos_plugin`` is ensured, so a config that
      does not inherit our runtime still finds our modules, and so is the
      ``MOSSetupCheckHook`` in ``custom_hooks``: the Runner checks that the
      data and the model agree and that ``load_from`` fits the model before
      anything runs (:mod:`kdmos_plugin.engine.setup_check`).

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
        # (ConfigDict.setdefault stores a converted copy: set, then read)
        cfg.setdefault('env_cfg', {})
        cfg.env_cfg.setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        if launcher != 'none':
            wrapper = cfg.get('model_wrapper_cfg') or dict(
                type='MMDistributedDataParallel', broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters',
                                               False))
            wrapper['device_ids'] = None
            if cfg.get('sync_bn') is not None:
                _use_cpu_sync_bn(path, cfg.sync_bn, wrapper)
                cfg.sync_bn = None
            cfg.model_wrapper_cfg = wrapper
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type', '')).split('.')[-1] == SETUP_CHECK_HOOK
               for h in hooks):
        cfg.custom_hooks = hooks + [dict(type=SETUP_CHECK_HOOK)]
    imports = cfg.get('custom_imports', {}).get('imports', [])
    if 'kdmos_plugin' not in imports:
        cfg.custom_imports = dict(
            imports=list(imports) + ['kdmos_plugin'],
            allow_failed_imports=False)
    cfg.setdefault('default_scope', 'mmdet3d')
    return cfg


def _use_cpu_sync_bn(path: str, sync_bn, wrapper: dict) -> None:
    """Point ``wrapper`` (a ``model_wrapper_cfg``) at the DDP wrapper that
    converts BatchNorm to :class:`DistSyncBatchNorm` (``sync_bn`` on CPU)."""
    if sync_bn not in ('torch', 'mmcv'):
        raise ValueError(f'{path}: sync_bn must be "torch" or "mmcv" (or '
                         f'None), got {sync_bn!r}')
    ours = 'mmdet3d.SyncBNDistributedDataParallel'
    kind = wrapper.get('type', 'MMDistributedDataParallel')
    if kind not in ('MMDistributedDataParallel', ours, ours[8:]):
        raise ValueError(
            f'{path}: sync_bn={sync_bn!r} on a CPU-only machine needs the '
            f'model wrapper SyncBNDistributedDataParallel (it converts '
            f'BatchNorm to DistSyncBatchNorm), but model_wrapper_cfg.type is '
            f'{kind!r}; drop sync_bn or use MMDistributedDataParallel')
    # scoped: the Runner looks the type up in mmengine's root registry
    wrapper['type'] = ours
    print_log(
        f'{path}: sync_bn={sync_bn!r} on CPU: torch\'s SyncBatchNorm is '
        'GPU-only, so BatchNorm layers become DistSyncBatchNorm (gloo '
        'all-reduce of the batch statistics)', logger='current',
        level=logging.INFO)
