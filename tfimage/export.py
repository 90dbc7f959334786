"""SavedModel export for TensorFlow Serving, and the REST request format.

`export_model` writes a restoration model in the versioned layout TF Serving
watches, `EXPORT_DIR/<version>/saved_model.pb` (plus `variables/`), through
`keras.export.ExportArchive`. The export is written into a hidden temporary
folder next to the version folder and renamed into place only when complete,
so a failed export leaves nothing half-written (and TF Serving, which loads
only numeric folder names, never sees a partial model).

Two signatures are exported; both take a batch of images of any height and
width:

- `serving_default`: `images` uint8 (N, H, W, C) in 0-255, returns
  `restored` uint8 (N, H, W, C) (rounded and clipped), the format of image
  files and of most clients.
- `serving_float`: `images` float32 (N, H, W, C) in [0, 1] (values outside
  are allowed, e.g. unclipped noise), returns `restored` float32 in [0, 1]:
  the exact path the evaluation harness scores.

Models with a noise-level input (FFDNet) take a second input `sigma`,
float32 (N,), one noise level per image in 0-255 units (e.g. 25).

Inside the signatures the inputs are checked at run time (the rank, the
channel count, one finite sigma in [0, 255] per image, finite float pixels):
a bad request fails with `InvalidArgumentError` (HTTP 400 from TF Serving)
instead of returning garbage. The image input is declared with an unknown
rank on purpose, so that the server, which does not enforce declared shapes,
still reaches these checks. A wrong dtype is rejected by the signature
itself.

Large images are tiled inside the graph by the layout rule of
`tfimage.execution` (`tile_grid`): when H or W exceeds `max_size` (1024 by default) the image is
cut into `max_size` tiles overlapping by `overlap` pixels (64 by default),
with origins on multiples of 8, each tile is restored on its own and only
its interior is kept. With `overlap // 2` at least the network's
receptive-field radius (17 pixels for DnCNN-17, 30 for the 15-layer FFDNet at
full resolution) the tiled output equals the whole-image output to float
precision, and memory stays bounded by the tile size.

Generative models (`tfimage.models.gan.GAN`, through its EMA generator, and
`tfimage.models.vae.VAE`, through its decoder) export one signature,
`serving_default`: `latents` float32 (N, latent_dim), plus `classes` int32
(N,) when the model is class-conditional (`num_classes` set), returns
`images` uint8 (N, H, W, C), the same pixels as `GAN.generate` /
`VAE.decode` rounded to 0-255. A wrong latent size, a class count that does
not match the batch, a class outside [0, num_classes) or non-finite latents
fail with `InvalidArgumentError`, as above.

`rest_request` builds the JSON body of a TF Serving REST `:predict` call and
`rest_predict_locally` answers such a body with the exported SavedModel the
way the server does, so the request format can be tested without a server.
"""

import json
import os
import shutil
import tempfile

import numpy as np

from tfimage.execution import TILE_ALIGNMENT

DEFAULT_MAX_SIZE = 1024
DEFAULT_OVERLAP = 64
SIGNATURES = ("serving_default", "serving_float")
OUTPUT_KEY = "restored"
GENERATOR_SIGNATURES = ("serving_default",)
GENERATOR_OUTPUT_KEY = "images"


def _check_tiling(max_size, overlap):
    if isinstance(overlap, bool) or int(overlap) != overlap or overlap < 0:
        raise ValueError(f"overlap must be a non-negative integer. Received: overlap={overlap!r}")
    overlap = int(overlap)
    smallest = 2 * overlap + TILE_ALIGNMENT
    if (
        isinstance(max_size, bool)
        or int(max_size) != max_size
        or max_size < smallest
        or max_size % TILE_ALIGNMENT
    ):
        raise ValueError(
            f"max_size must be a multiple of {TILE_ALIGNMENT} of at least 2 * overlap + "
            f"{TILE_ALIGNMENT} = {smallest}. Received: max_size={max_size!r}"
        )
    return int(max_size), overlap


def resolve_network(model, data_dir=None):
    """The Keras network to export, its image channels and noise-level input.

    Args:
        model: a model name or `.keras` path (resolved by
            `tfimage.zoo.load`), a functional Keras model, or a
            wrapper with a `network` attribute (`tfimage.models.Restorer`).
        data_dir: where official weights are looked for first.

    Returns:
        A tuple (network, channels, takes_noise_level).

    Raises:
        ValueError: the model is a classical baseline (no graph to export),
            or its input is not an image batch (batch, H, W, 1 or 3).
    """
    import keras

    from tfimage import execution, zoo
    from tfimage.tasks.denoise import check_denoiser

    if isinstance(model, (str, os.PathLike)):
        model = zoo.load(model, data_dir=data_dir)
    network = getattr(model, "network", None)
    if network is None:
        network = model
    if not isinstance(network, keras.Model):
        raise ValueError(
            "Only Keras models can be exported for TF Serving; classical baselines "
            f"(bm3d, nlm, noisy) run outside TensorFlow. Received: model={model!r}"
        )
    check_denoiser(network)
    channels, takes_noise_level = execution.model_signature(model)
    shape = tuple(network.inputs[0].shape)
    if len(shape) != 4 or channels not in (1, 3):
        raise ValueError(
            "Expected a model whose first input is an image batch (batch, H, W, 1 or 3). "
            f"Received: input shape={shape}"
        )
    return network, int(channels), bool(takes_noise_level)


def _axis_tiles(size, max_size, overlap):
    """`tfimage.execution.tile_layout` on a tensor size: tile starts, ends and cuts (the same rule)."""
    import tensorflow as tf

    from tfimage.execution import tile_cut, tile_grid

    stride, last = tile_grid(size, max_size, overlap, TILE_ALIGNMENT)
    last = tf.maximum(0, last)
    starts = tf.concat([tf.range(0, last, stride), [last]], axis=0)
    ends = tf.concat([starts[:-1] + max_size, [size]], axis=0)
    cuts = tf.concat([[0], tile_cut(ends[:-1], starts[1:]), [size]], axis=0)
    return starts, ends, cuts


def _tiled(run, images, max_size, overlap):
    """Applies `run` (a same-size image map) to `images` (N, H, W, C), tile by tile.

    One tile when H and W are at most `max_size`; otherwise tiles of
    `max_size` that overlap by at least `overlap` pixels, of which only the
    interiors are kept (see the module docstring).
    """
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    row_starts, row_ends, row_cuts = _axis_tiles(height, max_size, overlap)
    col_starts, col_ends, col_cuts = _axis_tiles(width, max_size, overlap)
    columns = tf.size(col_starts)
    count = tf.size(row_starts) * columns

    def body(index, restored):
        i, j = index // columns, index % columns
        top, bottom, left, right = row_starts[i], row_ends[i], col_starts[j], col_ends[j]
        y0, y1, x0, x1 = row_cuts[i], row_cuts[i + 1], col_cuts[j], col_cuts[j + 1]
        output = run(images[:, top:bottom, left:right, :])
        kept = output[:, y0 - top : y1 - top, x0 - left : x1 - left, :]
        paddings = [[0, 0], [y0, height - y1], [x0, width - x1], [0, 0]]
        return index + 1, restored + tf.pad(kept, paddings)

    _, restored = tf.while_loop(
        lambda index, _: index < count,
        body,
        (tf.constant(0), tf.zeros_like(images)),
        parallel_iterations=1,
    )
    return restored


def _check_images(images, channels):
    """Run-time checks of an image batch of unknown rank; returns it with a static shape.

    `tf.ensure_shape` on an input of unknown rank stays in the graph as an
    `EnsureShape` op, which fails with InvalidArgumentError ("Shape of tensor
    images [...] is not compatible with expected shape [?,?,?,C]") on a wrong
    rank or channel count, whoever calls the signature.
    """
    import tensorflow as tf

    images = tf.ensure_shape(images, [None, None, None, channels], name="images")
    size_check = tf.debugging.assert_positive(
        tf.shape(images)[1:3], message="images must be at least 1x1 pixels"
    )
    with tf.control_dependencies([size_check]):
        return tf.identity(images)


def _check_sigma(sigma, batch):
    """Run-time checks of the noise levels; returns them as (N, 1) in [0, 1] units."""
    import tensorflow as tf

    checks = [
        tf.debugging.assert_equal(
            tf.size(sigma), batch, message="sigma must hold one noise level per image, shape (N,)"
        ),
        tf.debugging.assert_greater_equal(
            sigma, 0.0, message="sigma is in 0-255 units and must be >= 0"
        ),
        tf.debugging.assert_less_equal(
            sigma, 255.0, message="sigma is in 0-255 units and must be finite and <= 255"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.reshape(sigma, [-1, 1]) / 255.0


def serving_functions(network, channels, takes_noise_level, max_size=DEFAULT_MAX_SIZE,
                      overlap=DEFAULT_OVERLAP):
    """The Python functions and input signatures of the exported endpoints.

    Args:
        network: a Keras model mapping float images in [0, 1] (and, when
            `takes_noise_level`, noise levels (N, 1) as sigma / 255) to
            restored images of the same shape.
        channels: image channels, 1 or 3.
        takes_noise_level: whether the network takes the noise level.
        max_size: images with H or W above this are tiled (a multiple of 8).
        overlap: minimum overlap of neighbouring tiles in pixels.

    Returns:
        A dict mapping each name of `SIGNATURES` to a pair (function,
        input_signature) for `ExportArchive.add_endpoint`.
    """
    import tensorflow as tf

    max_size, overlap = _check_tiling(max_size, overlap)

    def restore(images, sigma=None):
        if takes_noise_level:
            noise_level = _check_sigma(sigma, tf.shape(images)[0])

            def run(tile):
                return network([tile, noise_level], training=False)

        else:

            def run(tile):
                return network(tile, training=False)

        restored = _tiled(run, images, max_size, overlap)
        return tf.clip_by_value(restored, 0.0, 1.0)

    def to_uint8(restored):
        return tf.cast(tf.round(restored * 255.0), tf.uint8)

    def from_uint8(images):
        return tf.cast(_check_images(images, channels), tf.float32) / 255.0

    def checked_float(images):
        images = _check_images(images, channels)
        return tf.debugging.assert_all_finite(images, "images hold NaN or infinite values")

    uint8_images = tf.TensorSpec(shape=None, dtype=tf.uint8, name="images")
    float_images = tf.TensorSpec(shape=None, dtype=tf.float32, name="images")
    sigma_spec = tf.TensorSpec(shape=[None], dtype=tf.float32, name="sigma")
    if takes_noise_level:

        def serve_uint8(images, sigma):
            return {OUTPUT_KEY: to_uint8(restore(from_uint8(images), sigma))}

        def serve_float(images, sigma):
            return {OUTPUT_KEY: restore(checked_float(images), sigma)}

        return {
            "serving_default": (serve_uint8, [uint8_images, sigma_spec]),
            "serving_float": (serve_float, [float_images, sigma_spec]),
        }

    def serve_uint8(images):
        return {OUTPUT_KEY: to_uint8(restore(from_uint8(images)))}

    def serve_float(images):
        return {OUTPUT_KEY: restore(checked_float(images))}

    return {
        "serving_default": (serve_uint8, [uint8_images]),
        "serving_float": (serve_float, [float_images]),
    }


def resolve_generator(model, data_dir=None):
    """The generator network of a GAN or VAE, or None for any other model.

    Args:
        model: a model name or `.keras` path (resolved by
            `tfimage.zoo.load`) or a model object.
        data_dir: where official weights are looked for first.

    Returns:
        None when `model` is not a `GAN` or `VAE`; otherwise a dict with
        "network" (the GAN's `ema_generator`, images in [-1, 1], or the
        VAE's `decoder`, logits), "kind" ("gan" or "vae"), "latent_dim" and
        "num_classes" (None when unconditional).
    """
    from tfimage import zoo
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE

    if isinstance(model, (str, os.PathLike)):
        model = zoo.load(model, data_dir=data_dir)
    if isinstance(model, GAN):
        network, kind = model.ema_generator, "gan"
    elif isinstance(model, VAE):
        network, kind = model.decoder, "vae"
    else:
        return None
    return {
        "network": network,
        "kind": kind,
        "latent_dim": int(model.latent_dim),
        "num_classes": None if model.num_classes is None else int(model.num_classes),
    }


def generator_functions(network, kind, latent_dim, num_classes=None):
    """The Python function and input signature of a generator's `serving_default`.

    Args:
        network: the GAN's (EMA) generator, mapping z (and labels (N, 1))
            to images in [-1, 1], or the VAE's decoder, mapping them to
            logits.
        kind: "gan" or "vae".
        latent_dim: the size of z.
        num_classes: the number of classes of a conditional model, else None.

    Returns:
        A dict mapping "serving_default" to a pair (function,
        input_signature) for `ExportArchive.add_endpoint`.
    """
    import tensorflow as tf

    if kind not in ("gan", "vae"):
        raise ValueError(f"kind must be 'gan' or 'vae'. Received: kind={kind!r}")
    latent_dim = int(latent_dim)

    def checked_latents(latents):
        latents = tf.ensure_shape(latents, [None, latent_dim], name="latents")
        return tf.debugging.assert_all_finite(latents, "latents hold NaN or infinite values")

    def checked_classes(classes, batch):
        classes = tf.ensure_shape(classes, [None], name="classes")
        checks = [
            tf.debugging.assert_equal(
                tf.size(classes), batch, message="classes must hold one class per latent, shape (N,)"
            ),
            tf.debugging.assert_greater_equal(
                classes, 0, message=f"classes must lie in [0, {num_classes})"
            ),
            tf.debugging.assert_less(
                classes, num_classes, message=f"classes must lie in [0, {num_classes})"
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.reshape(classes, [-1, 1])

    def to_images(outputs):
        if kind == "gan":
            images = outputs * 0.5 + 0.5
        else:
            images = tf.sigmoid(outputs)
        images = tf.clip_by_value(images, 0.0, 1.0)
        return {GENERATOR_OUTPUT_KEY: tf.cast(tf.round(images * 255.0), tf.uint8)}

    latents_spec = tf.TensorSpec(shape=None, dtype=tf.float32, name="latents")
    if num_classes is None:

        def serve(latents):
            return to_images(network(checked_latents(latents), training=False))

        return {"serving_default": (serve, [latents_spec])}

    classes_spec = tf.TensorSpec(shape=None, dtype=tf.int32, name="classes")

    def serve_conditional(latents, classes):
        latents = checked_latents(latents)
        labels = checked_classes(classes, tf.shape(latents)[0])
        return to_images(network([latents, labels], training=False))

    return {"serving_default": (serve_conditional, [latents_spec, classes_spec])}


def _check_version(version):
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive integer. Received: version={version!r}")
    return int(version)


def export_model(model, export_dir, version=1, overwrite=False, max_size=DEFAULT_MAX_SIZE,
                 overlap=DEFAULT_OVERLAP, data_dir=None):
    """Exports a restoration or generative model as a SavedModel that TF Serving can load.

    Args:
        model: a model name or `.keras` path (see `tfimage.zoo.load`),
            a Keras model, a `Restorer`, or a `GAN` / `VAE` (exported as a
            generator: latents, and classes when conditional, in; uint8
            images out; see the module docstring).
        export_dir: the model's base folder, the one TF Serving is pointed at
            (`--model_base_path`, or the `/models/<name>` mount of the docker
            image); created when missing.
        version: the version number, a positive integer: the SavedModel goes
            to `export_dir/<version>/`.
        overwrite: replace an existing version folder (atomically: the old
            one is removed only after the new one is in place).
        max_size: images with a height or width above this are tiled inside
            the signatures; a multiple of 8, at least 2 * overlap + 8
            (unused for generators).
        overlap: minimum overlap of the tiles in pixels; keep `overlap // 2`
            at least the network's receptive-field radius.
        data_dir: where official weights are looked for first.

    Returns:
        The path of the version folder written.

    Raises:
        ValueError: the version folder exists and `overwrite` is False, a bad
            version or tiling setting, or a model that cannot be exported
            (a classical baseline).
        FileNotFoundError: the model's weights cannot be found.
    """
    import logging

    import keras
    import tensorflow as tf

    version = _check_version(version)
    max_size, overlap = _check_tiling(max_size, overlap)
    base = os.path.abspath(os.fspath(export_dir))
    target = os.path.join(base, str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            "The version folder exists; pick another version or pass overwrite=True "
            f"(--overwrite). Received: export_dir={base}, version={version}"
        )
    if isinstance(model, (str, os.PathLike)):
        from tfimage import zoo

        model = zoo.load(model, data_dir=data_dir)
    generator = resolve_generator(model)
    if generator is not None:
        network = generator["network"]
        functions = generator_functions(
            network, generator["kind"], generator["latent_dim"], generator["num_classes"])
        names = GENERATOR_SIGNATURES
    else:
        network, channels, takes_noise_level = resolve_network(model, data_dir=data_dir)
        functions = serving_functions(network, channels, takes_noise_level, max_size, overlap)
        names = SIGNATURES
    archive = keras.export.ExportArchive()
    archive.track(network)
    for name in names:
        function, input_signature = functions[name]
        archive.add_endpoint(name, function, input_signature=input_signature)

    os.makedirs(base, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=base)
    retired = None
    try:
        written = os.path.join(staging, "saved_model")
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel(logging.WARNING)  # not "Assets written to <staging folder>"
        try:
            archive.write_out(written, verbose=False)
        finally:
            logger.setLevel(level)
        if os.path.exists(target):
            retired = os.path.join(staging, "previous")
            os.rename(target, retired)
        os.rename(written, target)
    except BaseException:
        if retired is not None and os.path.exists(retired) and not os.path.exists(target):
            os.rename(retired, target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return target


def latest_version_dir(export_dir):
    """The SavedModel folder to load: `export_dir` itself or its highest numeric version.

    Args:
        export_dir: a SavedModel folder, or a base folder with numeric
            version subfolders (TF Serving's layout).

    Returns:
        The path of the folder holding `saved_model.pb`.

    Raises:
        FileNotFoundError: no SavedModel is found.
    """
    export_dir = os.fspath(export_dir)
    if os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        return export_dir
    versions = []
    if os.path.isdir(export_dir):
        versions = [
            int(entry)
            for entry in os.listdir(export_dir)
            if entry.isdigit() and os.path.isfile(os.path.join(export_dir, entry, "saved_model.pb"))
        ]
    if not versions:
        raise FileNotFoundError(
            f"No SavedModel (saved_model.pb) in the folder or its version folders. "
            f"Received: export_dir={export_dir}"
        )
    return os.path.join(export_dir, str(max(versions)))


def exported_signatures(export_dir):
    """The signature names of an exported SavedModel (a version folder or base folder)."""
    from tensorflow.python.saved_model import loader_impl

    saved_model = loader_impl.parse_saved_model(latest_version_dir(export_dir))
    names = saved_model.meta_graphs[0].signature_def.keys()
    return sorted(name for name in names if not name.startswith("__"))


def _as_batch(images):
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[:, :, None]
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(
            "Expected one image (H, W) or (H, W, C) or a batch (N, H, W, C). "
            f"Received: images with shape={images.shape}"
        )
    return images


def rest_request(images, sigma=None, signature_name="serving_default"):
    """Builds the JSON body of a TF Serving REST predict request (row format).

    Args:
        images: one image (H, W) or (H, W, C), or a batch (N, H, W, C) of
            images of one size. For "serving_default" integers in 0-255
            (uint8); for "serving_float" floats in [0, 1].
        sigma: for models with a noise-level input: one noise level in 0-255
            units for every image, or a sequence with one per image; None
            for the others.
        signature_name: "serving_default" or "serving_float".

    Returns:
        A dict `{"signature_name": ..., "instances": [...]}` ready for
        `json.dumps`: one instance per image, the image as nested lists (of
        ints for uint8), or a dict `{"images": ..., "sigma": ...}` when
        `sigma` is given.

    Raises:
        ValueError: an unknown signature, images of the wrong type or range
            for the signature, or a sigma that does not fit the batch.
    """
    if signature_name not in SIGNATURES:
        raise ValueError(
            f"signature_name must be one of {SIGNATURES}. Received: signature_name={signature_name!r}"
        )
    images = _as_batch(images)
    if signature_name == "serving_default":
        if not np.issubdtype(images.dtype, np.integer):
            raise ValueError(
                "serving_default takes uint8 pixels: convert float images with "
                "tfimage.io.to_uint, or use signature_name='serving_float'. "
                f"Received: images with dtype={images.dtype}"
            )
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(
                "serving_default takes uint8 pixels in 0-255. Received: images with values in "
                f"[{images.min()}, {images.max()}]"
            )
        values = images.astype(np.uint8).tolist()
    else:
        if not np.issubdtype(images.dtype, np.floating):
            raise ValueError(
                "serving_float takes float pixels in [0, 1]; send uint8 pixels to "
                f"serving_default. Received: images with dtype={images.dtype}"
            )
        if not np.all(np.isfinite(images)):
            raise ValueError("The images hold NaN or infinite values. Received: non-finite images")
        values = images.astype(np.float32).tolist()
    if sigma is None:
        instances = values
    else:
        levels = np.asarray(sigma, dtype=np.float64).ravel()
        if levels.size == 1:
            levels = np.repeat(levels, len(values))
        if levels.size != len(values) or not np.all(np.isfinite(levels)):
            raise ValueError(
                "sigma must be one finite number or one per image. "
                f"Received: sigma={sigma!r} for {len(values)} images"
            )
        if levels.min() < 0 or levels.max() > 255:
            raise ValueError(f"sigma is in 0-255 units. Received: sigma={sigma!r}")
        instances = [
            {"images": value, "sigma": float(level)} for value, level in zip(values, levels)
        ]
    return {"signature_name": signature_name, "instances": instances}


def _to_input(values, spec, name):
    import tensorflow as tf

    array = np.asarray(values)
    if array.dtype == object:
        raise ValueError(
            f"Input {name!r} is ragged: all instances must have the same shape. "
            f"Received: {name} of mixed shapes"
        )
    dtype = spec.dtype.as_numpy_dtype
    if spec.dtype.is_integer:
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"Input {name!r} is {spec.dtype.name}: send integers. Received: {array.dtype} values"
            )
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise ValueError(
                f"Input {name!r} is {spec.dtype.name}: values must lie in [{info.min}, {info.max}]. "
                f"Received: values in [{array.min()}, {array.max()}]"
            )
    elif array.size and not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"Input {name!r} must be numbers. Received: {array.dtype} values")
    return tf.constant(array.astype(dtype))


def rest_predict_locally(export_dir, body):
    """Answers a TF Serving REST predict body with the exported SavedModel.

    Mirrors what `POST /v1/models/<name>:predict` does: the body goes through
    JSON, the signature is looked up by `signature_name` (default
    "serving_default"), the row format ("instances") or the columnar format
    ("inputs") is turned into tensors of the signature's dtypes, and the
    outputs come back as nested lists, under "predictions" (row format; the
    bare value per instance when there is one output) or "outputs"
    (columnar).

    Args:
        export_dir: a SavedModel folder, or a base folder with version
            folders (the highest version is used, as TF Serving does).
        body: the request body, e.g. from `rest_request`.

    Returns:
        The response body as a dict.

    Raises:
        ValueError: a malformed body (the server answers HTTP 400).
        tf.errors.InvalidArgumentError: the model's own checks failed (wrong
            rank or channel count, bad sigma, ...); the server answers HTTP
            400 with the same message.
    """
    import tensorflow as tf

    body = json.loads(json.dumps(body))
    if not isinstance(body, dict):
        raise ValueError(f"The body must be a JSON object. Received: body of type {type(body).__name__}")
    loaded = tf.saved_model.load(latest_version_dir(export_dir))
    name = body.get("signature_name", "serving_default")
    if name not in loaded.signatures:
        raise ValueError(
            f"Unknown signature; the model has {sorted(loaded.signatures)}. "
            f"Received: signature_name={name!r}"
        )
    function = loaded.signatures[name]
    specs = function.structured_input_signature[1]
    if ("instances" in body) == ("inputs" in body):
        raise ValueError(
            "The body needs exactly one of 'instances' (row format) or 'inputs' (columnar). "
            f"Received: keys={sorted(body)}"
        )
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError(
                f"'instances' must be a non-empty list. Received: instances={str(instances)[:80]}"
            )
        columns = {}
        for key in specs:
            values = []
            for instance in instances:
                if isinstance(instance, dict):
                    if key not in instance:
                        raise ValueError(
                            f"Each instance needs the inputs {sorted(specs)}. Received: keys={sorted(instance)}"
                        )
                    values.append(instance[key])
                elif len(specs) == 1:
                    values.append(instance)
                else:
                    raise ValueError(
                        f"With several inputs each instance must be a dict of {sorted(specs)}. "
                        f"Received: an instance of type {type(instance).__name__}"
                    )
            columns[key] = values
    else:
        inputs = body["inputs"]
        if isinstance(inputs, dict):
            columns = inputs
        elif len(specs) == 1:
            columns = {next(iter(specs)): inputs}
        else:
            raise ValueError(f"'inputs' must be a dict of {sorted(specs)}. Received: {type(inputs).__name__}")
        missing = set(specs) - set(columns)
        if missing:
            raise ValueError(f"Missing inputs {sorted(missing)}. Received: keys={sorted(columns)}")
    tensors = {key: _to_input(columns[key], spec, key) for key, spec in specs.items()}
    outputs = {key: value.numpy() for key, value in function(**tensors).items()}
    if "inputs" in body:
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {key: value.tolist() for key, value in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    count = len(next(iter(outputs.values())))
    return {
        "predictions": [{key: value[i].tolist() for key, value in outputs.items()} for i in range(count)]
    }


def serving_commands(export_dir, model_name="denoiser", port=8501, request_file="request.json"):
    """The shell commands that serve an export with TF Serving's docker image and query it.

    Args:
        export_dir: the base folder given to `export_model` (the one holding
            the version folders).
        model_name: the name the model is served under.
        port: the REST port on the host.
        request_file: a file holding a JSON body from `rest_request`.

    Returns:
        A dict with "docker" (the `docker run` command) and "curl" (the
        predict request).
    """
    source = os.path.abspath(os.fspath(export_dir))
    docker = (
        f"docker run --rm -p {port}:8501 "
        f"--mount type=bind,source={source},target=/models/{model_name} "
        f"-e MODEL_NAME={model_name} -t tensorflow/serving"
    )
    curl = (
        f"curl -s -X POST http://localhost:{port}/v1/models/{model_name}:predict "
        f"-H 'Content-Type: application/json' -d @{request_file}"
    )
    return {"docker": docker, "curl": curl}
