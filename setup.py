"""kdmos-plugin: KDMOS LiDAR moving-object segmentation for MMDetection3D.

The pinned environment lives in requirements.txt and is installed by
``make install`` (tools/install_env.sh); ``install_requires`` only states the
ranges the code needs, so the package can join an existing mmdet3d setup.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(r"__version__ = '([^']+)'",
                    (here / 'kdmos_plugin' / '__init__.py').read_text()).group(1)

setup(
    name='kdmos-plugin',
    version=version,
    description='KDMOS (knowledge distillation for LiDAR moving-object '
    'segmentation) as an MMDetection3D plugin',
    long_description=(here / 'README.md').read_text(encoding='utf-8')
    if (here / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['kdmos_plugin', 'kdmos_plugin.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0', 'numpy', 'mmengine>=0.10,<1.0', 'mmcv>=2.0.0rc4,<2.2.0',
        'mmdet>=3.0,<3.4', 'mmdet3d>=1.1,<1.5'
    ],
    extras_require={
        'teacher': ['spconv-cu120>=2.3'],
        'fast': ['torch-scatter>=2.1'],
        'tests': ['pytest'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
