# The synthetic distillation (student_kd_synthetic.py: offline teacher
# logits) on data of several sensors, as student_bev_synthetic_sensors.py
# trains the plain student (whose data and test pipeline it keeps):
# sensor='auto', intensities normalised, past scans at the sensor's stride.
# The cross-sensor experiment distils the randomised teacher
# (teacher_sparse4d_synthetic_sensors.py) with it and tests the student it
# trains with student_bev_synthetic_sensors.py.
_base_ = ['./student_bev_synthetic_sensors.py',
          '../_base_/models/kdmos_distill_loss.py']
model = dict(_delete_=True, type='MOSDistiller', student={{_base_.model}},
             teacher=None, distill_loss={{_base_.distill_loss}})
# the mixed-sensor dataset base's KD pipeline (intensity normalised)
train_dataloader = dict(dataset=dict(pipeline={{_base_.kd_train_pipeline}}))
