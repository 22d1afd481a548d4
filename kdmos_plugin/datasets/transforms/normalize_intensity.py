"""Intensity on the scale the models learned, from the sensor profile."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MOSNormalizeIntensity(BaseTransform):
    """Put the intensity of every loaded scan on the 0-1 remission scale.

    The models learned KITTI remission in [0, 1]. A sensor that reports
    0-255 is divided by 255, one without intensity gets the profile's
    constant (``SensorProfile.normalize_intensity``). The profile is the
    sequence's (``seq_info['sensor']``, set by the dataset's ``sensor``
    argument) unless this transform is given one; with neither, the sample
    passes unchanged. Runs right after ``LoadMOSScans``. New arrays are
    written (the loaded scans may be shared by several samples).

    Required Keys:

    - points (np.ndarray): (N, 4) x, y, z [m], raw intensity
    - seq_info (dict, optional): ``sensor`` (SensorProfile or None)

    Modified Keys (column 3, those present):

    - points (N, 4), raw_points (N, 4), multi_points (M, 5), and the
      ``points`` of every entry of ``sweeps``

    Args:
        sensor: A profile, preset name or profile file used for every
            sample instead of the dataset's.
    """

    def __init__(self, sensor=None) -> None:
        self.profile = None
        if sensor is not None:
            from ...sources.sensor_profile import get_profile
            self.profile = get_profile(sensor)

    def transform(self, results: dict) -> dict:
        """Normalise the intensities (see the class docstring)."""
        profile = self.profile or (results.get('seq_info') or {}).get(
            'sensor')
        if profile is None:
            return results

        def norm(arr: Optional[np.ndarray]) -> Optional[np.ndarray]:
            if arr is None:
                return None
            out = np.array(arr, dtype=np.float32, copy=True)
            out[:, 3] = profile.normalize_intensity(arr[:, 3])
            return out

        same_raw = results.get('raw_points') is results.get('points')
        results['points'] = norm(results['points'])
        if 'raw_points' in results:
            results['raw_points'] = results['points'] if same_raw else \
                norm(results['raw_points'])
        if results.get('multi_points') is not None:
            results['multi_points'] = norm(results['multi_points'])
        for sweep in results.get('sweeps') or []:
            sweep['points'] = norm(sweep['points'])
        return results

    def __repr__(self) -> str:
        name = None if self.profile is None else self.profile.name
        return f'{self.__class__.__name__}(sensor={name!r})'
