# KDMOS with the teacher run online in every training step (frozen, eval
# mode, no gradient) instead of offline logit files: same loss and recipe as
# student_kd.py; the pipeline's merged past scans (`multi_points`) feed the
# teacher. Set teacher_checkpoint to the trained teacher.
_base_ = ['./student_kd.py']

teacher_config = '{{fileDirname}}/teacher_sparse4d.py'
teacher_checkpoint = 'work_dirs/teacher_sparse4d/epoch_50.pth'  # set to yours

model = dict(
    teacher=dict(
        _delete_=True, config=teacher_config, checkpoint=teacher_checkpoint))
# the student pipeline without LoadTeacherLogits
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
