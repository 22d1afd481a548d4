"""Importing the plugin registers its modules in mmdet3d's registries."""
import subprocess
import sys
import textwrap


def test_import_registers_modules():
    import kdmos_plugin  # noqa: F401
    from mmdet3d.registry import MODELS
    assert MODELS.get('MOSDataPreprocessor') is not None


def test_custom_imports_config_builds_through_mmdet3d_registry(tmp_path):
    """A fresh interpreter that only knows the config finds our modules."""
    cfg_file = tmp_path / 'plugin_user.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['kdmos_plugin'], "
        "allow_failed_imports=False)\n"
        "model = dict(type='MOSDataPreprocessor')\n")
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmengine.utils import import_modules_from_strings
        from mmdet3d.registry import MODELS
        assert 'kdmos_plugin' not in sys.modules
        cfg = Config.fromfile({str(cfg_file)!r})
        import_modules_from_strings(**cfg.custom_imports)
        init_default_scope('mmdet3d')
        model = MODELS.build(cfg.model)
        print(type(model).__module__, type(model).__name__)
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == 'MOSDataPreprocessor'
    assert out.stdout.split()[-2].startswith('kdmos_plugin.')


def test_mmdet3d_imports_everything_a_runner_touches():
    """The pinned environment has every module mmdet3d imports on the
    Runner's paths (compiled mmcv ops, lyft/nuscenes devkits and theirs)."""
    import importlib
    for name in ('mmcv.ops', 'mmdet3d.models', 'mmdet3d.datasets',
                 'mmdet3d.evaluation', 'mmdet3d.engine', 'mmdet3d.apis',
                 'mmdet3d.visualization', 'mmdet.models', 'mmdet.evaluation'):
        importlib.import_module(name)
    from mmcv.ops import Voxelization  # noqa: F401
