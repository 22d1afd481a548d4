"""mos_pipeline: the transform configs of the student, teacher and KD."""
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline

VOX = dict(type='PolarVoxelize', grid_size=[8, 6, 4], num_classes=4)
MOTION = dict(type='MOSMotionFeatures', mode='reference', num_channels=8)
AUG = dict(type='MOSGlobalAug', rotate=True, flip=True, translate_std=0.1)
LABELS = dict(type='LoadMOSLabels')
PACK = dict(type='PackMOSInputs')


def test_student_train_and_test():
    train = mos_pipeline(7, VOX, train=True, num_future_scans=7,
                         motion_cfg=MOTION)
    scans = dict(type='LoadMOSScans', num_past=7, num_future=7)
    assert train == [scans, LABELS, MOTION, AUG, VOX, PACK]
    test = mos_pipeline(7, VOX, train=False, num_future_scans=7,
                        motion_cfg=MOTION)
    assert test == [scans, LABELS, MOTION, VOX, PACK]


def test_teacher_reads_no_motion_and_no_future_scans():
    scans = dict(type='LoadMOSScans', num_past=3, num_future=0)
    assert mos_pipeline(3, VOX, train=True) == [scans, LABELS, AUG, VOX, PACK]
    assert mos_pipeline(3, VOX, train=False) == [scans, LABELS, VOX, PACK]


def test_kd_loads_teacher_logits_before_the_motion_features():
    steps = mos_pipeline(
        7, VOX, train=True, motion_cfg=MOTION,
        teacher_logits=dict(logits_root='data/logits', num_classes=4))
    assert [s['type'] for s in steps] == [
        'LoadMOSScans', 'LoadMOSLabels', 'LoadTeacherLogits',
        'MOSMotionFeatures', 'MOSGlobalAug', 'PolarVoxelize', 'PackMOSInputs']
    assert steps[2] == dict(type='LoadTeacherLogits',
                            logits_root='data/logits', num_classes=4)


def test_steps_are_copies():
    """Editing one pipeline (as --cfg-options does) leaves the other and
    the given configs alone."""
    train = mos_pipeline(7, VOX, train=True, motion_cfg=MOTION)
    test = mos_pipeline(7, VOX, train=False, motion_cfg=MOTION)
    train[-2]['grid_size'] = [1, 1, 1]
    train[2]['mode'] = 'causal'
    assert test[-2]['grid_size'] == [8, 6, 4] and test[2]['mode'] == \
        'reference'
    assert VOX['grid_size'] == [8, 6, 4] and MOTION['mode'] == 'reference'
