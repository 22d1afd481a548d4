"""Check once, at start, that the data and the model of a config agree.

A polar grid, class count or number of motion channels that differ between
the data pipeline and the model do not always fail: a dataset grid smaller
than the model's evaluates a good checkpoint at a fraction of its IoU, a
``num_classes`` larger than the data's trains without complaint. So every
entry point checks first, with one message listing every disagreement:

* ``tools/train.py``, ``tools/test.py`` and any ``Runner`` built from a
  config of this package: :class:`MOSSetupCheckHook` (``before_run``, ahead
  of the checkpoint loading), which also refuses a ``load_from`` / resume
  checkpoint that does not fit the model (mmengine loads it with
  ``strict=False`` and only warns);
* ``tools/infer.py``, the inference API and the logit dump: the model
  builders call :func:`check_data_model`.

What is compared (a value absent on one side is not compared):

==========================  ==========================================
data (each dataloader)      model (the student of a distiller)
==========================  ==========================================
``PolarVoxelize.grid_size``  ``grid_size``
``PolarVoxelize`` bounds     the same in every dataloader of the config
``PolarVoxelize.num_classes``, the dataset's classes,
``LoadTeacherLogits.num_classes``  ``num_classes`` (and an online teacher's)
``MOSMotionFeatures.num_channels``  ``motion_channels``
==========================  ==========================================
"""
import inspect
from typing import Any, Dict, List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmdet3d.registry import HOOKS, TRANSFORMS

#: The dataloaders of a config whose pipelines are compared.
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class SetupMismatchError(ValueError):
    """The data and the model of a config disagree (all listed)."""


def _step_args(step: dict) -> Dict[str, Any]:
    """A pipeline step's arguments, its class's defaults filled in."""
    args = {k: v for k, v in step.items() if k != 'type'}
    kind = step.get('type')
    cls = TRANSFORMS.get(kind) if isinstance(kind, str) else kind
    if inspect.isclass(cls):
        for name, par in inspect.signature(cls.__init__).parameters.items():
            if par.default is not inspect.Parameter.empty:
                args.setdefault(name, par.default)
    return args


def _type_name(step: dict) -> str:
    kind = step.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1]


def _dataset_classes(dataset: dict) -> Optional[int]:
    """The class count a ``SemanticKittiMOSDataset`` config yields."""
    kind = str(dataset.get('type', '')).split('.')[-1]
    if kind != 'SemanticKittiMOSDataset':
        return None
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is not None:
        return len(classes)
    return 2 if dataset.get('label_map') == 'mos_2class' else 4


def data_settings(cfg) -> Dict[str, Dict[str, Any]]:
    """Grid, bounds, class counts and motion channels of each dataloader.

    Args:
        cfg (Config): A full config.

    Returns:
        dict: loader name -> ``{setting: value}`` with the keys
        ``grid_size``, ``bounds``, ``voxel_classes``, ``dataset_classes``,
        ``logit_classes``, ``motion_channels`` where the pipeline has them.
    """
    out: Dict[str, Dict[str, Any]] = {}
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        found: Dict[str, Any] = {}
        classes = _dataset_classes(dataset)
        if classes is not None:
            found['dataset_classes'] = classes
        for step in dataset.get('pipeline') or []:
            if not isinstance(step, dict):
                continue
            name = _type_name(step)
            if name == 'PolarVoxelize':
                args = _step_args(step)
                found['grid_size'] = tuple(int(g) for g in args['grid_size'])
                found['bounds'] = (tuple(float(b) for b in args['min_bound']),
                                   tuple(float(b) for b in args['max_bound']))
                if args.get('num_classes') is not None:
                    found['voxel_classes'] = int(args['num_classes'])
            elif name == 'MOSMotionFeatures':
                found['motion_channels'] = int(
                    _step_args(step)['num_channels'])
            elif name == 'LoadTeacherLogits':
                found['logit_classes'] = int(_step_args(step)['num_classes'])
        if found:
            out[loader] = found
    return out


def _first_attr(model: nn.Module, name: str):
    """``name`` of the model or of its first sub-module that has it."""
    for module in model.modules():
        value = getattr(module, name, None)
        if value is not None and not callable(value):
            return value
    return None


def model_settings(model: nn.Module) -> Dict[str, Any]:
    """Grid, class count and motion channels of a built MOS model.

    Args:
        model (nn.Module): A segmentor or a ``MOSDistiller`` (its student;
            an online teacher's class count as ``teacher_classes``).

    Returns:
        dict: ``name``, and ``grid_size``, ``num_classes``,
        ``motion_channels``, ``teacher_classes`` where the model has them.
    """
    if is_model_wrapper(model):
        model = model.module
    student = getattr(model, 'student', None) or model
    found: Dict[str, Any] = dict(name=type(student).__name__)
    grid = getattr(student, 'grid_size', None)
    if grid is not None:
        found['grid_size'] = tuple(int(g) for g in grid)
    if getattr(student, 'num_classes', None) is not None:
        found['num_classes'] = int(student.num_classes)
    motion = _first_attr(student, 'motion_channels')
    if motion is not None:
        found['motion_channels'] = int(motion)
    teacher = getattr(model, 'teacher', None)
    if teacher is not None and getattr(teacher, 'num_classes', None):
        found['teacher_classes'] = int(teacher.num_classes)
    return found


def setup_problems(cfg, model: nn.Module) -> List[str]:
    """Every disagreement between the data of ``cfg`` and ``model``.

    Returns:
        list[str]: One line each; empty if all agree.
    """
    data = data_settings(cfg)
    mod = model_settings(model)
    name = mod['name']
    problems = []
    for loader, found in data.items():
        if 'grid_size' in found and 'grid_size' in mod and \
                found['grid_size'] != mod['grid_size']:
            problems.append(
                f'{loader}: PolarVoxelize grid_size {list(found["grid_size"])}'
                f' but the model {name} has grid_size '
                f'{list(mod["grid_size"])}')
        for key, what in (('dataset_classes', 'the dataset has {} classes'),
                          ('voxel_classes', 'PolarVoxelize num_classes={}'),
                          ('logit_classes',
                           'LoadTeacherLogits num_classes={}')):
            if key in found and 'num_classes' in mod and \
                    found[key] != mod['num_classes']:
                problems.append(
                    f'{loader}: {what.format(found[key])} but the model '
                    f'{name} has num_classes={mod["num_classes"]}')
        if 'motion_channels' in found and 'motion_channels' in mod and \
                found['motion_channels'] != mod['motion_channels']:
            problems.append(
                f'{loader}: MOSMotionFeatures makes '
                f'{found["motion_channels"]} channels but the model {name} '
                f'has motion_channels={mod["motion_channels"]}')
    bounds = {loader: f['bounds'] for loader, f in data.items()
              if 'bounds' in f}
    if len(set(bounds.values())) > 1:
        problems.append('the PolarVoxelize bounds differ between dataloaders:'
                        ' ' + '; '.join(
                            f'{loader} min {list(b[0])} max {list(b[1])}'
                            for loader, b in bounds.items()))
    grids = {loader: f['grid_size'] for loader, f in data.items()
             if 'grid_size' in f}
    if 'grid_size' not in mod and len(set(grids.values())) > 1:
        problems.append('the PolarVoxelize grid_size differs between '
                        'dataloaders: ' + '; '.join(
                            f'{loader} {list(g)}' for loader, g in
                            grids.items()))
    if 'teacher_classes' in mod and 'num_classes' in mod and \
            mod['teacher_classes'] != mod['num_classes']:
        problems.append(f'the online teacher has num_classes='
                        f'{mod["teacher_classes"]} but the student {name} '
                        f'has num_classes={mod["num_classes"]}')
    return problems


def check_data_model(cfg, model: nn.Module) -> None:
    """Raise if the data of ``cfg`` and ``model`` disagree (module doc).

    Args:
        cfg (Config): The full config (its dataloaders are compared).
        model (nn.Module): The model built from it.

    Raises:
        SetupMismatchError: One message listing every disagreement, naming
            the config file.
    """
    problems = setup_problems(cfg, model)
    if problems:
        where = getattr(cfg, 'filename', None) or 'the config'
        raise SetupMismatchError(
            f'{where}: the data and the model disagree:\n  - ' +
            '\n  - '.join(problems) +
            '\nSet each from one value (e.g. the dataset base\'s grid_size, '
            'num_classes, motion_channels) for the data and the model.')


@HOOKS.register_module()
class MOSSetupCheckHook(Hook):
    """Before a run: :func:`check_data_model`, then check that the
    checkpoint to be loaded (``load_from``, or the latest one of the work
    dir for ``resume=True``) fits the model, so a checkpoint of another
    model is refused instead of leaving random weights with a warning.

    ``tools/*.py`` add it to every config (``load_config``); the configs of
    this package list it in ``custom_hooks`` (``default_runtime.py``).
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Check the setup and the checkpoint (see the class docstring)."""
        from mmengine.runner import find_latest_checkpoint

        from ..apis.checkpoint import check_checkpoint_matches
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        check_data_model(runner.cfg, model)
        ckpt = runner._load_from
        if ckpt is None and runner._resume:
            ckpt = find_latest_checkpoint(runner.work_dir)
        if ckpt is not None:
            check_checkpoint_matches(model, ckpt)
