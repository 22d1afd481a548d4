# Apollo-MOS: moving-object labels for sequences of the Apollo-SouthBay
# dataset (Baidu; recorded with a Velodyne HDL-64E S3 at 10 Hz), released by
# the Auto-MOS authors (Chen et al., RA-L 2022) in the SemanticKITTI layout:
#   data_root/sequences/XX/{velodyne/*.bin, labels/*.label, poses.txt, calib.txt}
# Labels are uint32 SemanticKITTI ids (9 static, 251 moving, 0 unlabeled);
# nothing is labelled "movable", so parked cars count as static.
# It is mostly used to test models trained on SemanticKITTI. The sequence
# names differ between the copies we know of, so every folder under
# sequences/ is used (sequences='all'); list them to choose.
# Grid, motion features and pipelines: semantickitti_mos.py.
_base_ = ['./semantickitti_mos.py']

data_root = 'data/apollo_mos'
sensor = 'hdl64e'  # its sensor profile (kdmos_plugin.sources.sensor_profile)
label_map = 'apollo_mos'
apollo_sequences = 'all'

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        sequences=apollo_sequences,
        label_map=label_map,
        filter_static_frames=False))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root, sequences=apollo_sequences,
        label_map=label_map))
test_dataloader = val_dataloader
