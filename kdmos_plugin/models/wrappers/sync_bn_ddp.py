"""DDP wrapper that synchronises BatchNorm on any device (CPU included)."""
from torch import nn

from mmdet3d.registry import MODEL_WRAPPERS
from mmengine.model import MMDistributedDataParallel
from ..layers.sync_bn import convert_sync_batchnorm


@MODEL_WRAPPERS.register_module()
class SyncBNDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose BatchNorms are synchronised.

    Converts every BatchNorm of ``module`` to
    :class:`~kdmos_plugin.models.layers.DistSyncBatchNorm` (same parameters
    and buffers) before DDP registers the parameters, so DDP sees the final
    modules. mmengine's ``Runner`` builds the wrapper from
    ``model_wrapper_cfg`` right after building the model, which is where it
    would apply ``cfg.sync_bn``; :func:`kdmos_plugin.apis.load_config`
    selects this wrapper on CPU-only machines when a config sets
    ``sync_bn``, because torch's ``SyncBatchNorm`` is GPU-only.

    Args:
        module (nn.Module): The model.
        **kwargs: ``MMDistributedDataParallel`` arguments; ``process_group``
            is also the group the BatchNorms synchronise over.
    """

    def __init__(self, module: nn.Module, **kwargs) -> None:
        module = convert_sync_batchnorm(module, kwargs.get('process_group'))
        super().__init__(module=module, **kwargs)
