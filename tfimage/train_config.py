"""The configuration of a restoration training run, and the run folder it is saved in.

`TrainConfig` holds everything that decides what a run trains (task, data,
network, init, schedule, the task's degradation options); `tfimage.training.train_restorer`
takes one (or its fields as keywords). The run records its resolved config as
OUT/train_config.json with a "version" (`CONFIG_VERSION`). Run folders of
earlier versions (no "version" key) are migrated when read (`migrate`): their
absent keys get the defaults they trained with, so they still resume. A
different config in the same folder is refused unless overwrite, naming the
keys that differ (`check_out_dir`).

This module imports no TensorFlow: the command line builds a config before
anything heavy loads.
"""

import dataclasses
import json
import math
import numbers
import os
import shutil

from tfimage.tasks import TASKS

CONFIG_FILE = "train_config.json"
CONFIG_VERSION = 2
# The architectures each task trains (`Task.architectures`; the first is the default).
TASK_ARCHS = {name: task.architectures for name, task in TASKS.items() if task.architectures}
DEFAULT_ARCH = {name: architectures[0] for name, architectures in TASK_ARCHS.items()}
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
LOSSES = ("l2", "l1", "charbonnier", "psnr")  # tfimage.models.restorer.LOSSES
# The files a restoration run writes in its folder (removed when another run replaces it).
RUN_FILES = (CONFIG_FILE, "model.keras", "backup", "log.csv", "tensorboard")

# Options of earlier versions that only recorded experiments (README: not used by any shipped model).
REMOVED_OPTIONS = {
    "widen": "widening a gray FFDNet: pass init=tfimage.transfer.widen_to_color(gray_network)",
    "cross_channel": "cross-channel opponent-color passes",
    "color_augment": "color-symmetry augmentation of the training patches",
    "widen_refinement": "widening the refinement stage of an inpainting cascade",
}
# Earlier keyword names of task options (train_restorer(mask_kind=...)) -> the task's own names.
TASK_OPTION_ALIASES = {"mask_kind": "kind", "mask_scale": "shape_scale"}
# Version 1 kept the task options at the top level, under these names.
V1_TASK_OPTIONS = {
    "denoise": {"sigma": "sigma", "sigma_range": "sigma_range", "validation_sigma": "validation_sigma"},
    "sr": {"scale": "scale"},
    "inpaint": {"hole_ratio": "hole_ratio", "mask_kind": "kind", "mask_scale": "shape_scale"},
}


def _fail(message, name, value):
    raise ValueError(f"{message}. Received: {name}={value!r}")


def _check_bool(name, value):
    if value not in (True, False):  # (also 0/1 and NumPy booleans)
        _fail(f"{name} must be True or False", name, value)
    return bool(value)


def _check_int(name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value != int(value)):
        _fail(f"{name} must be an integer", name, value)
    if minimum is not None and value < minimum:
        _fail(f"{name} must be at least {minimum}", name, value)
    return int(value)


def _check_rate(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        _fail(f"{name} must be a positive number", name, value)
    return float(value)


def _is_network(value):
    return hasattr(value, "layers") and hasattr(value, "get_weights")


@dataclasses.dataclass
class TrainConfig:
    """What a restoration training run trains; `train_restorer` takes one.

    Args:
        task: a name of `tfimage.tasks.TASKS` ("denoise", "sr", "inpaint").
        data: the training images: a catalogue name ("train400"), a bundled
            set, a folder or a list of paths (recorded as "custom").
        arch: one of `TASK_ARCHS[task]` (None: `DEFAULT_ARCH[task]`; taken
            from `init` when it supplies the network).
        init: "scratch", a model name of `tfimage.zoo`, a `.keras` path or a
            Keras network: its architecture, channels and weights are the
            starting point.
        partial_init: build the network from arch/depth/filters and copy only
            the `init` convolutions whose shapes match (e.g. x4 SR into x2).
        unfreeze: make every layer of `init` trainable (e.g. both stages of a
            refined inpainting model, saved with its first stage frozen).
        freeze_layers: freeze the first K convolutions.
        opponent_color: denoise: run a gray FFDNet-style `init` on each channel
            of an opponent color space (`tfimage.networks.opponent`).
        composite_holes: inpaint: keep the known pixels in the output, so the
            loss counts the holes only.
        refinement_stage: inpaint: add a refinement stage to `init` and train it.
        channels: 1 or 3 (taken from `init` when it supplies the network).
        depth, filters, residual: the size of a new network (`build_network`).
        patch_size, batch_size: training patches (high resolution).
        steps: optimizer steps, rounded down to a multiple of `steps_per_epoch`
            (the steps between validations and checkpoints, at most `steps`).
        learning_rate: Adam's initial rate; a cosine decays it to
            `final_learning_rate` (default learning_rate / 100).
        warmup_steps: first raise the rate linearly from 0 over this many steps.
        loss: "l2", "l1", "charbonnier" or "psnr" (`Restorer`'s losses).
        dtype_policy: "float32", "mixed_bfloat16" or "mixed_float16".
        validation_images: the last images of `data`, held out for validation.
        validation_repeats: degradations per held-out image in the validation PSNR.
        seed: seeds weights, crops, flips and degradations.
        task_options: the task's options (`Task.training_options`): denoise
            sigma | sigma_range, validation_sigma; sr scale; inpaint
            hole_ratio, kind, shape_scale.
        version: the config format (`CONFIG_VERSION`).
    """

    task: str = "denoise"
    data: object = None
    arch: object = None
    init: object = "scratch"
    partial_init: bool = False
    unfreeze: bool = False
    freeze_layers: int = 0
    opponent_color: bool = False
    composite_holes: bool = False
    refinement_stage: bool = False
    channels: int = 1
    depth: object = None
    filters: object = None
    residual: bool = True
    patch_size: int = 40
    batch_size: int = 64
    steps: int = 1000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    final_learning_rate: object = None
    warmup_steps: int = 0
    loss: str = "l2"
    dtype_policy: str = "float32"
    validation_images: int = 8
    validation_repeats: int = 1
    seed: int = 0
    task_options: dict = dataclasses.field(default_factory=dict)
    version: int = CONFIG_VERSION

    def __post_init__(self):
        from tfimage.tasks import TASKS

        if self.version != CONFIG_VERSION:
            _fail(f"A TrainConfig is version {CONFIG_VERSION}; read older files with TrainConfig.from_dict",
                  "version", self.version)
        if self.task not in TASKS:
            _fail(f"task must be one of {', '.join(TASKS)}", "task", self.task)
        if self.arch is not None and self.arch not in TASK_ARCHS.get(self.task, ()):
            _fail(f"arch must be one of {', '.join(TASK_ARCHS.get(self.task, ()))} for task={self.task}",
                  "arch", self.arch)
        if self.data is None:
            _fail("data must name the training images (a set, a folder or a list of paths)", "data", self.data)
        if not (isinstance(self.init, (str, os.PathLike)) or _is_network(self.init)):
            _fail("init must be 'scratch', a model name, a .keras path or a Keras network", "init", self.init)
        for name in ("partial_init", "unfreeze", "opponent_color", "composite_holes", "refinement_stage", "residual"):
            setattr(self, name, _check_bool(name, getattr(self, name)))
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            _fail("channels must be 1 or 3", "channels", self.channels)
        self.channels = int(self.channels)
        self.depth = _check_int("depth", self.depth, 0, allow_none=True)
        self.filters = _check_int("filters", self.filters, 1, allow_none=True)
        self.patch_size = _check_int("patch_size", self.patch_size, 8)
        self.batch_size = _check_int("batch_size", self.batch_size, 1)
        self.steps = _check_int("steps", self.steps, 1)
        self.steps_per_epoch = _check_int("steps_per_epoch", self.steps_per_epoch, 1)
        self.freeze_layers = _check_int("freeze_layers", self.freeze_layers, 0)
        self.warmup_steps = _check_int("warmup_steps", self.warmup_steps, 0)
        if self.warmup_steps >= self.total_steps:
            _fail(f"warmup_steps must be at least 0 and fewer than the steps ({self.total_steps})",
                  "warmup_steps", self.warmup_steps)
        self.learning_rate = _check_rate("learning_rate", self.learning_rate)
        self.final_learning_rate = _check_rate("final_learning_rate", self.final_learning_rate, allow_none=True)
        if self.loss not in LOSSES:
            _fail(f"loss must be one of {', '.join(LOSSES)}", "loss", self.loss)
        if self.dtype_policy is None:
            self.dtype_policy = "float32"
        if self.dtype_policy not in DTYPE_POLICIES:
            _fail(f"dtype_policy must be one of {', '.join(DTYPE_POLICIES)}", "dtype_policy", self.dtype_policy)
        self.validation_images = _check_int("validation_images", self.validation_images, 0)
        self.validation_repeats = _check_int("validation_repeats", self.validation_repeats, 1)
        self.seed = _check_int("seed", self.seed)
        self._check_combinations()
        self.task_options = self._checked_task_options(TASKS[self.task])

    @property
    def from_scratch(self):
        return isinstance(self.init, str) and self.init == "scratch"

    @property
    def init_name(self):
        """The init as recorded: its name for a Keras network, else the text given."""
        return self.init.name if _is_network(self.init) else os.fspath(self.init)

    @property
    def epochs(self):
        return self.steps // min(self.steps_per_epoch, self.steps)

    @property
    def total_steps(self):
        """`steps` rounded down to a multiple of `steps_per_epoch` (capped at `steps`)."""
        return self.epochs * min(self.steps_per_epoch, self.steps)

    def _check_combinations(self):
        init = self.init_name
        for name in ("refinement_stage", "composite_holes"):
            if getattr(self, name) and self.task != "inpaint":
                _fail(f"{name} changes an inpainting network: it needs task='inpaint'", "task", self.task)
        if self.refinement_stage and self.from_scratch:
            raise ValueError(
                "refinement_stage changes the stages of a trained inpainting network: it needs task='inpaint' and "
                f"an init. Received: task={self.task!r}, init={init!r}"
            )
        if self.unfreeze and (self.partial_init or self.from_scratch):
            raise ValueError(
                "unfreeze makes the layers of the init network trainable: it needs an init (without partial_init). "
                f"Received: init={init!r}, partial_init={self.partial_init}"
            )
        if self.partial_init and self.from_scratch:
            _fail("partial_init copies convolutions from an init network: it needs an init", "init", init)
        if self.opponent_color and (self.from_scratch or self.task != "denoise"):
            raise ValueError(
                "opponent_color runs a gray denoiser on opponent color channels: it needs task='denoise' and a gray "
                f"init network. Received: task={self.task!r}, init={init!r}"
            )

    def _checked_task_options(self, task):
        options = dict(self.task_options or {})
        accepted, required = _task_option_names(task)
        unknown = sorted(set(options) - set(accepted))
        missing = [name for name in required if options.get(name) is None]
        if unknown or missing:
            given = ", ".join(f"{key}={value!r}" for key, value in options.items()) or "no task options"
            raise ValueError(
                f"The {task.name} task takes the training options {', '.join(accepted) or '(none)'}"
                + (f" and needs {', '.join(missing)}" if missing else "") + f". Received: {given}"
            )
        # Through JSON, so that the record compares equal to a saved one (tuples become lists).
        return json.loads(json.dumps(task.training_options(**options)))

    # ------------------------------------------------------------------ building

    @classmethod
    def from_options(cls, config=None, **options):
        """A config from keyword options, over `config`'s fields when given.

        Options are `TrainConfig` fields, or the task's own options (sigma=,
        scale=, hole_ratio=, ...; also the earlier names mask_kind= and
        mask_scale=), which go into `task_options`.

        Raises:
            ValueError: an option that tfimage no longer has (`REMOVED_OPTIONS`).
        """
        names = {field.name for field in dataclasses.fields(cls)}
        fields = {} if config is None else {name: getattr(config, name) for name in names}
        task_options = dict(fields.get("task_options") or {})
        if "task" in options and config is not None and options["task"] != config.task:
            task_options = {}
        for key, value in options.items():
            if key in REMOVED_OPTIONS:
                if value in (None, False):
                    continue
                raise ValueError(
                    f"{key} ({REMOVED_OPTIONS[key]}) recorded an experiment no shipped model uses and was removed "
                    f"from training. Received: {key}={value!r}"
                )
            if key == "task_options":
                task_options.update(value or {})
            elif key in names:
                fields[key] = value
            else:
                task_options[TASK_OPTION_ALIASES.get(key, key)] = value
        fields["task_options"] = task_options
        fields.pop("version", None)
        return cls(**fields)

    def replace(self, **options):
        """A copy with some fields or task options changed (see `from_options`)."""
        return type(self).from_options(self, **options)

    def resolved(self, init_channels=None):
        """The config as a run records it.

        Args:
            init_channels: the channels of the `init` network when it supplies
                the architecture (an init without partial_init), else None.

        Returns:
            A copy with the steps rounded (`total_steps`), `steps_per_epoch`
            capped at them, `arch` None when the init network supplies it (else
            the task's default when None) and `channels` from the init network.
        """
        arch = None if init_channels is not None else self.arch or DEFAULT_ARCH[self.task]
        return dataclasses.replace(
            self, arch=arch, channels=self.channels if init_channels is None else int(init_channels),
            steps=self.total_steps, steps_per_epoch=min(self.steps_per_epoch, self.steps),
        )

    # ------------------------------------------------------------------ files

    def to_dict(self):
        """A JSON-ready dict: "version" first, data and init as names."""
        record = {"version": self.version}
        for field in dataclasses.fields(self):
            if field.name == "version":
                continue
            value = getattr(self, field.name)
            if field.name == "data":
                value = os.fspath(value) if isinstance(value, (str, os.PathLike)) else "custom"
            elif field.name == "init":
                value = self.init_name
            record[field.name] = value
        return json.loads(json.dumps(record))

    @classmethod
    def from_dict(cls, record):
        """A config from `to_dict` output or a saved train_config.json of any version (`migrate`)."""
        record = migrate(record)
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            raise ValueError(f"Unknown train config keys. Received: {', '.join(unknown)}")
        record = dict(record)
        record.pop("version")
        return cls(**record)

    @classmethod
    def read(cls, path):
        """The config saved at `path` (a train_config.json), migrated to this version."""
        with open(path) as stream:
            return cls.from_dict(json.load(stream))

    def write(self, path):
        """Writes `to_dict()` to `path` as JSON."""
        with open(path, "w") as stream:
            json.dump(self.to_dict(), stream, indent=1)


def _task_option_names(task):
    """The training option names a task takes (`Task.training_options`' signature), and those without a default."""
    import inspect

    parameters = inspect.signature(task.training_options).parameters.values()
    return [p.name for p in parameters], [p.name for p in parameters if p.default is p.empty]


def _defaults():
    return {
        field.name: field.default if field.default is not dataclasses.MISSING else field.default_factory()
        for field in dataclasses.fields(TrainConfig)
    }


def removed_options(record):
    """The options of a saved record (any version) that tfimage no longer has and that the run used."""
    return {key: record[key] for key in REMOVED_OPTIONS if record.get(key) not in (None, False)}


def migrate(record):
    """A saved run config of any version as a version-`CONFIG_VERSION` dict (absent keys: their defaults).

    Version 1 (no "version" key) kept the task options at the top level and
    wrote some keys only when they differed from their defaults; both are
    undone here. Options that were removed (`REMOVED_OPTIONS`) are dropped:
    `removed_options(record)` says whether the run used one.

    Raises:
        ValueError: a config written by a newer tfimage.
    """
    record = dict(record)
    version = record.pop("version", 1)
    if version > CONFIG_VERSION or version < 1:
        raise ValueError(
            f"The run config was written by another tfimage version (this one reads versions 1 to "
            f"{CONFIG_VERSION}). Received: version={version!r}"
        )
    for key in REMOVED_OPTIONS:
        record.pop(key, None)
    if version == 1:
        task = record.get("task", "denoise")
        names = V1_TASK_OPTIONS.get(task, {})
        options = {new: record[old] for old, new in names.items() if old in record}
        for names_of_task in V1_TASK_OPTIONS.values():
            for old in names_of_task:
                record.pop(old, None)
        if task == "inpaint":
            options.setdefault("shape_scale", None)
        record["task_options"] = options
    migrated = _defaults()
    migrated.update(record)
    migrated["version"] = CONFIG_VERSION
    if migrated.get("dtype_policy") is None:
        migrated["dtype_policy"] = "float32"
    return migrated


def _flat(record):
    flat = {key: value for key, value in record.items() if key != "task_options"}
    flat.update(record.get("task_options") or {})
    return flat


def differing_keys(first, second):
    """The keys (task options by their own names) whose values differ between two config dicts."""
    first, second = _flat(first), _flat(second)
    return sorted(key for key in set(first) | set(second) if first.get(key) != second.get(key))


def check_out_dir(out_dir, config, overwrite=False, migrate_record=None):
    """What to do with a run folder for `config`: "new", "resume" or "replace" (nothing is written).

    Args:
        out_dir: the run folder.
        config: the run's resolved `TrainConfig` (or its `to_dict()`).
        overwrite: replace a different run, or a finished one (model.keras and
            no backup/), in `out_dir`.
        migrate_record: reads a saved config dict into the current version
            (default `migrate`; `tfimage.generation` passes its own).

    Returns:
        "new" (nothing of this run there yet), "resume" (the same config with a
        backup to continue from) or "replace" (overwrite: `prepare_out_dir`
        removes the earlier run's files).

    Raises:
        ValueError: without overwrite: the folder holds a model but no config,
            a different config (the message names the keys), a finished run
            of the same config, or a run that used a removed option.
    """
    record = config.to_dict() if isinstance(config, TrainConfig) else config
    path = os.path.join(out_dir, CONFIG_FILE)
    has_model = os.path.isfile(os.path.join(out_dir, "model.keras"))
    has_backup = os.path.isdir(os.path.join(out_dir, "backup"))
    hint = f"pass overwrite=True (--overwrite) or choose another folder. Received: out={out_dir}"
    if not os.path.isfile(path):
        if has_model and not overwrite:
            raise ValueError(f"The output folder already holds a model from another run; {hint}")
        return "replace" if has_model else "new"
    with open(path) as stream:
        saved = json.load(stream)
    removed = removed_options(saved)
    if removed and not overwrite:
        used = ", ".join(f"{key}={value!r}" for key, value in removed.items())
        raise ValueError(f"The output folder holds a run that used {used}, which tfimage no longer has; {hint}")
    changed = [] if removed else differing_keys((migrate_record or migrate)(saved), record)
    if removed or changed:
        if not overwrite:
            raise ValueError(f"The output folder holds a different model (differs in {', '.join(changed)}); {hint}")
        return "replace"
    if has_backup:
        return "resume"
    if has_model:
        if not overwrite:
            raise ValueError(
                "The output folder holds the finished run of this config (model.keras, and no backup to resume "
                f"from); {hint}"
            )
        return "replace"
    return "new"


def prepare_out_dir(out_dir, config, action, run_files=RUN_FILES):
    """Makes `out_dir` ready for the run: removes an earlier run's files ("replace") and writes the config."""
    if action == "replace":
        for name in run_files:
            target = os.path.join(out_dir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
    os.makedirs(out_dir, exist_ok=True)
    record = config.to_dict() if isinstance(config, TrainConfig) else config
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as stream:
        json.dump(record, stream, indent=1)
