"""Backbones: BEV networks of the student (appearance + motion maps in,
decoder features out) and sparse networks of the teacher."""
from .ca_bev_unet import CABEVUNet
from .plain_bev_unet import PlainBEVUNet
from .sparse_unet4d import SparseResBlock4D, SparseUNet4D

__all__ = ['CABEVUNet', 'PlainBEVUNet', 'SparseResBlock4D', 'SparseUNet4D']
