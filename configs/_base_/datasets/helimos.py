# HeLiMOS (Lim et al., IROS 2024): the HeLiPR sequence KAIST05 labelled for
# four LiDARs on one vehicle (layout: kdmos_plugin/datasets/helimos_dataset.py):
#   data_root/{train,val,test}.txt            frame numbers, shared by sensors
#   data_root/<sensor>/{velodyne,labels,calib.txt,poses.txt}
# Sensors (folder: device):
#   Ouster:   Ouster OS2-128, spinning, 128 beams
#   Velodyne: Velodyne VLP-16, spinning, 16 beams
#   Avia:     Livox Avia, solid state, non-repetitive pattern, ~70 deg FOV
#   Aeva:     Aeva Aeries II, FMCW, ~120 deg FOV
# (FOVs from the makers' data sheets as we remember them: check yours).
# Two of them do not spin: a polar BEV grid over 360 degrees sees only their
# sector. Labels are SemanticKITTI ids (9 static, 251 moving, 0/1 ignored).
# Choose sensors with helimos_sensors (e.g. ['Velodyne']); MOSMetric reports
# IoU_moving_seq<sensor> per sensor.
# Grid, motion features and pipelines: semantickitti_mos.py.
_base_ = ['./semantickitti_mos.py']

data_root = 'data/helimos/KAIST05/Deskewed_LiDAR'
helimos_sensors = ['Aeva', 'Avia', 'Ouster', 'Velodyne']
# the devices (no preset profiles for them yet except vlp16: the OS2-128,
# Avia and Aeries II need profile files, and the two solid-state sensors do
# not fit a spinning-LiDAR profile)
sensor_of = dict(Ouster='OS2-128', Velodyne='vlp16', Avia='Livox Avia',
                 Aeva='Aeva Aeries II')
label_map = 'helimos'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='HeLiMOSDataset',
        data_root=data_root,
        split='train',
        sensors=helimos_sensors,
        label_map=label_map,
        metainfo=_base_.metainfo,
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='HeLiMOSDataset',
        data_root=data_root,
        split='val',
        sensors=helimos_sensors,
        label_map=label_map,
        metainfo=_base_.metainfo,
        pipeline=_base_.test_pipeline,
        test_mode=True))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='HeLiMOSDataset',
        data_root=data_root,
        split='test',
        sensors=helimos_sensors,
        label_map=label_map,
        metainfo=_base_.metainfo,
        pipeline=_base_.test_pipeline,
        test_mode=True))
