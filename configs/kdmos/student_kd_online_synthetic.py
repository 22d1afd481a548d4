# student_kd_online.py on the small synthetic sequences: the synthetic
# teacher (teacher_sparse4d_synthetic.py) runs online, frozen, in eval mode.
_base_ = ['./student_kd_synthetic.py']

teacher_config = '{{fileDirname}}/teacher_sparse4d_synthetic.py'
teacher_checkpoint = 'work_dirs/teacher_sparse4d_synthetic/epoch_3.pth'

model = dict(
    teacher=dict(
        _delete_=True, config=teacher_config, checkpoint=teacher_checkpoint))
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
