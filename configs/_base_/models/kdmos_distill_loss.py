# The published KDMOS distillation loss (docs/METHOD.md section 4): 0.3 * (1 *
# TCKD on moving points + 3 * class-weighted NCKD), tau 4, no tau^2. A base
# beside a student config; the leaf wraps the student into MOSDistiller.
distill_loss = dict(
    type='DecoupledMOSDistillLoss',
    tau=4.0,
    loss_weight=0.3,
    tckd_weight=1.0,
    nckd_weight=3.0,
    class_weight=[0.0, 1.0716, 22.0882, 421.3364],
    tckd_classes=[3],  # moving
    scale_by_tau_sq=False,
    mode='kdmos',  # 'dkd': standard decoupled KD (alpha, beta, tau^2)
    reference_numerics=False,  # True: the published -1000 mask and 1e-8s
    teacher_correct_only=False)  # True: no KD where the teacher is wrong
