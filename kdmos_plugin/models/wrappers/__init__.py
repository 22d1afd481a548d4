"""Model wrappers of kdmos_plugin (distributed data parallel variants)."""
from .sync_bn_ddp import SyncBNDistributedDataParallel

__all__ = ['SyncBNDistributedDataParallel']
