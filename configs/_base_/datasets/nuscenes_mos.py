# nuScenes-MOS as public converters write it in the SemanticKITTI layout:
#   data_root/sequences/<scene>/{velodyne/*.bin, labels/*.label, poses.txt,
#                                 calib.txt}
# with ONE uint8 LABEL A POINT: the nuScenes-lidarseg class 0-31 for points
# that do not move and 32-39 for moving ones (label_map 'nuscenes_mos':
# noise 0 and the ego vehicle 31 ignored, humans/animals/vehicles movable,
# 32-39 moving; any other id is an error naming the file). uint8 labels hold
# no instance ids, so MOSMetric reports no object-level IoU here.
# Not checked against a converter we could run: whether the .bin files keep
# the ring index as a 5th float (we read 4 floats a point), and whether the
# 20 Hz sweeps between the 2 Hz labelled keyframes are written (if only
# keyframes are, the 7 past scans span 3.5 s instead of 0.7 s).
# The sensor is the Velodyne HDL-32E (20 Hz). Scene names vary with the
# converter: every folder under sequences/ is used (sequences='all').
# Grid, motion features and pipelines: semantickitti_mos.py.
_base_ = ['./semantickitti_mos.py']

data_root = 'data/nuscenes_mos'
sensor = 'hdl32e'  # its sensor profile (kdmos_plugin.sources.sensor_profile)
# The HDL-32E reports intensity 0-255 and the models learned 0-1: if your
# converter kept 0-255, set the datasets' sensor=sensor and rebuild the
# pipelines with mos_pipeline(..., normalize_intensity=True).
label_map = 'nuscenes_mos'
label_dtype = 'uint8'
nuscenes_sequences = 'all'

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        sequences=nuscenes_sequences,
        label_map=label_map,
        label_dtype=label_dtype,
        filter_static_frames=False))  # counts uint32 ids only
val_dataloader = dict(
    dataset=dict(
        data_root=data_root, sequences=nuscenes_sequences,
        label_map=label_map, label_dtype=label_dtype))
test_dataloader = val_dataloader
