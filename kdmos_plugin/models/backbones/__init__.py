"""backbones of kdmos_plugin."""
from .ca_bev_unet import CABEVUNet

__all__ = ['CABEVUNet']
