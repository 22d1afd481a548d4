"""Data transforms of the MOS pipeline (registered in TRANSFORMS)."""
from .load_mos_labels import LoadMOSLabels
from .load_mos_scans import LoadMOSScans
from .load_teacher_logits import LoadTeacherLogits
from .mambamos_aug import MambaMOSAug
from .mos_global_aug import MOSGlobalAug
from .mos_motion_features import MOSMotionFeatures
from .mos_sphere_crop import MOSSphereCrop
from .normalize_intensity import MOSNormalizeIntensity
from .pack_mos_inputs import PackMOSInputs
from .polar_voxelize import PolarVoxelize
from .teacher_pseudo_labels import TeacherPseudoLabels

__all__ = [
    'LoadMOSScans', 'LoadMOSLabels', 'MOSMotionFeatures', 'MOSGlobalAug',
    'PolarVoxelize', 'LoadTeacherLogits', 'PackMOSInputs', 'MambaMOSAug',
    'MOSSphereCrop', 'MOSNormalizeIntensity', 'TeacherPseudoLabels'
]
