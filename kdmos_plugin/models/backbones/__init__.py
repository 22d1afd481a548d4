"""backbones of kdmos_plugin."""
from .ca_bev_unet import CABEVUNet

__all__ = ['CABEVUNet']
from .sparse_unet4d import SparseResBlock4D, SparseUNet4D  # noqa: E402
__all__ += ['SparseResBlock4D', 'SparseUNet4D']
