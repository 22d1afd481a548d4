"""Segmentors: the student (BEV) and the teacher (sparse 4-D), each a voxel
encoder + backbone + decode head; an ensemble of trained segmentors; the
published-checkpoint converter."""
from .base_mos_segmentor import BaseMOSSegmentor
from .kdmos_student import KDMOSStudent
from .mos_ensemble import MOSEnsemble
from .reference_ckpt import (convert_reference_checkpoint,
                             convert_reference_state_dict)
from .sparse4d_mos_teacher import Sparse4DMOSTeacher

__all__ = [
    'BaseMOSSegmentor', 'KDMOSStudent', 'MOSEnsemble', 'Sparse4DMOSTeacher',
    'convert_reference_checkpoint', 'convert_reference_state_dict'
]
