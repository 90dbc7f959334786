"""Running a Keras network on an image: cached graphs, tiles and self-ensemble views.

Everything here is shared by the tasks of `tfimage.tasks` (and by
`tfimage.export`), whatever the network restores:

- `graph_call` runs a model as a cached `tf.function`, so TensorFlow fuses
  each convolution with its bias and activation;
- `run_tiled` cuts an image into overlapping tiles, runs a function on each
  and keeps only the tiles' interiors. Neighbouring tiles meet in the middle
  of their overlap, so every kept pixel has at least `overlap // 2` pixels of
  real image context on each side; when that margin covers the network's
  receptive-field radius, tiled and whole-image outputs agree to float
  precision, while memory stays bounded by the tile size. Tile origins fall
  on multiples of `alignment` (8 by default), so networks that downsample
  (FFDNet's pixel unshuffle, a U-Net's pooling) see the same sampling grid
  in every tile as on the whole image. `tile_grid` is the one layout rule;
  the exported graph (`tfimage.export`) evaluates the same arithmetic on
  tensors;
- `geometric_self_ensemble` and `color_symmetry_self_ensemble` average a
  function over flipped, turned (and recolored) views of the image.

This module imports NumPy only at the top.
"""

import itertools
import weakref

import numpy as np

TILE_ALIGNMENT = 8
# The six orders of the R, G and B channels, the identity first (`color_symmetry_self_ensemble`).
CHANNEL_PERMUTATIONS = tuple(itertools.permutations(range(3)))


def network_of(model):
    """The functional network inside a training wrapper (`Restorer.network`), or `model` itself."""
    network = getattr(model, "network", None)
    return model if network is None else network


def is_keras_model(model):
    """Whether `model` is a Keras model (imports Keras only when `model` is not a plain object)."""
    if not hasattr(model, "inputs") and not hasattr(model, "network"):
        return False
    import keras

    return isinstance(model, keras.Model)


def model_signature(model):
    """The image channels and whether `model` takes a second input.

    Works for functional models, for wrappers with a `network` attribute
    (`tfimage.models.Restorer`) and for plain objects with `channels` and
    `noise_level_input` attributes (the classical baselines of
    `tfimage.baselines`).

    Returns:
        A pair (channels or None when unknown, takes_a_second_input).
    """
    network = network_of(model)
    try:
        inputs = network.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        return getattr(model, "channels", None), bool(getattr(model, "noise_level_input", False))
    return inputs[0].shape[-1], len(inputs) > 1


def output_channels(model):
    """The channels of a single-output network's output, or None when unknown."""
    outputs = getattr(network_of(model), "outputs", None) or []
    return outputs[0].shape[-1] if len(outputs) == 1 else None


def model_name(model):
    """A model's name for messages and result fields (its path or registry name when given as text)."""
    if isinstance(model, str):
        return model
    if hasattr(model, "__fspath__"):
        return model.__fspath__()
    return getattr(model, "name", type(model).__name__)


# model -> its forward pass in a graph (`graph_call`); entries go with their models.
_GRAPH_CALLS = weakref.WeakKeyDictionary()


class _GraphCall:
    """A model's forward pass as `tf.function`s: shape-generic first, one trace per shape if need be."""

    def __init__(self, model):
        import tensorflow as tf

        reference = weakref.ref(model)  # (the cache must not keep the model alive)
        forward = lambda inputs: reference()(inputs, training=False)  # noqa: E731
        self.generic = tf.function(forward, reduce_retracing=True)
        self.exact = tf.function(forward)

    def __call__(self, inputs):
        if self.generic is not None:
            try:
                return self.generic(inputs)
            except TypeError:
                # Some layers need known sizes in a graph (Keras' UpSampling2D, in the U-Nets): for
                # them each image size gets its own trace. A genuine error is raised again there.
                self.generic = None
        return self.exact(inputs)


def graph_call(model):
    """`model(inputs, training=False)` run as a graph, cached per model.

    A graph lets TensorFlow fuse each convolution with its bias and
    activation, which eager calls run as separate passes over the image.
    Images of new sizes reuse one shape-generic trace (`reduce_retracing`)
    where the network allows it, else each size is traced once.

    Args:
        model: a Keras model (held weakly: the cache does not keep it alive).

    Returns:
        A function of the model's inputs that returns its output tensor.
    """
    call = _GRAPH_CALLS.get(model)
    if call is None:
        call = _GraphCall(model)
        _GRAPH_CALLS[model] = call
    return call


def check_tiling(tile, overlap, alignment=TILE_ALIGNMENT):
    """Validates tile settings; returns (tile or None, overlap) as ints.

    Raises:
        ValueError: a negative or non-integer overlap, or a tile smaller than
            `2 * overlap + alignment`.
    """
    if isinstance(overlap, bool) or int(overlap) != overlap or overlap < 0:
        raise ValueError(f"overlap must be a non-negative integer. Received: overlap={overlap!r}")
    overlap = int(overlap)
    if tile is None:
        return None, overlap
    smallest = 2 * overlap + alignment
    if isinstance(tile, bool) or int(tile) != tile or tile < smallest:
        raise ValueError(
            f"tile must be an integer of at least 2 * overlap + {alignment} = {smallest}. Received: tile={tile!r}"
        )
    return int(tile), overlap


def tile_grid(size, tile, overlap, alignment=TILE_ALIGNMENT):
    """The tile layout rule along one axis: (stride, last start).

    Tiles start at 0, stride, 2 * stride, ... below `last`, and one more at
    `last`, the largest multiple of `alignment` that still fits a whole tile.
    The arithmetic works on Python ints and on scalar tensors alike (the
    exported graph calls it with a tensor `size`).
    """
    stride = max(alignment, (tile - overlap) // alignment * alignment)
    last = (size - tile) // alignment * alignment
    return stride, last


def tile_cut(previous_end, start):
    """Where tile k's kept part begins: halfway between its start and tile k - 1's end."""
    return (start + previous_end) // 2


def tile_layout(size, tile, overlap, alignment=TILE_ALIGNMENT):
    """Origins of the tiles along one axis and the cut points between them.

    Returns:
        (starts, lengths, cuts): tile k covers [starts[k], starts[k] +
        lengths[k]) and keeps [cuts[k], cuts[k + 1]).
    """
    if size <= tile:
        return [0], [size], [0, size]
    stride, last = tile_grid(size, tile, overlap, alignment)
    starts = list(range(0, last, stride)) + [last]
    lengths = [tile] * (len(starts) - 1) + [size - last]
    cuts = [0] + [tile_cut(starts[k - 1] + lengths[k - 1], starts[k]) for k in range(1, len(starts))] + [size]
    return starts, lengths, cuts


def run_tiled(function, image, tile, overlap, scale=1, alignment=TILE_ALIGNMENT):
    """`function(image)` computed tile by tile (see the module docstring).

    Args:
        function: maps an (h, w, C) array to an (scale * h, scale * w, C')
            array (a network on one image; extra spatial inputs such as an
            inpainting mask travel as channels of `image`).
        image: the (H, W, C) array.
        tile: tile size in pixels of `image`, or None for one call.
        overlap: pixels shared by neighbouring tiles.
        scale: the output's size over the input's (an SR factor, else 1).
        alignment: tile origins are multiples of it.

    Returns:
        The float32 (scale * H, scale * W, C') output.
    """
    height, width = image.shape[:2]
    if tile is None or (height <= tile and width <= tile):
        return np.asarray(function(image), dtype=np.float32)
    rows = tile_layout(height, tile, overlap, alignment)
    cols = tile_layout(width, tile, overlap, alignment)
    output = None
    for i, (top, tile_h) in enumerate(zip(rows[0], rows[1])):
        for j, (left, tile_w) in enumerate(zip(cols[0], cols[1])):
            part = np.asarray(function(image[top : top + tile_h, left : left + tile_w]), dtype=np.float32)
            if output is None:
                output = np.zeros((scale * height, scale * width, part.shape[-1]), np.float32)
            y0, y1 = scale * rows[2][i], scale * rows[2][i + 1]
            x0, x1 = scale * cols[2][j], scale * cols[2][j + 1]
            output[y0:y1, x0:x1] = part[y0 - scale * top : y1 - scale * top, x0 - scale * left : x1 - scale * left]
    return output


def geometric_self_ensemble(function, image):
    """The mean of `function` over the 8 flips and quarter turns of `image`, each undone.

    R. Timofte, R. Rothe, L. Van Gool, "Seven ways to improve example-based
    single image super resolution", CVPR 2016 (the "x8" of EDSR+): a
    network that is not exactly rotation- and flip-equivariant makes
    different errors on each view, and the average cancels part of them.

    Args:
        function: maps an (H, W, C) array to an (s * H, s * W, C') array for
            a fixed s (1 for denoising, the scale for super-resolution).
        image: a float (H, W, C) array.

    Returns:
        The float32 mean of the 8 outputs, in the orientation of `image`.
    """
    return _mean_over_views(function, image, color_symmetries=False)


def color_symmetry_self_ensemble(function, image):
    """The mean of `function` over 8 views that also reorder R, G, B and invert every other view.

    Gaussian denoising of a color image does not change when the channels
    are relabelled or the intensities inverted (x -> 1 - x; the noise is
    symmetric), so, like a flip, each of these gives a network a different
    view with the same answer. View k (k = 0..7) is the k-th flip/quarter
    turn of `geometric_self_ensemble`, with the channels in the order
    `CHANNEL_PERMUTATIONS[k % 6]`, and inverted when k is odd; each output
    is mapped back before the mean. A color denoiser that treats the
    channels differently (tfimage-color-blind runs one gray network on a
    luminance and two chroma channels) makes less alike errors on these
    views than on the flips alone. Averaging a network over a group of
    transforms that leave the problem unchanged makes it equivariant to
    them: Terris et al., "Equivariant plug-and-play image reconstruction",
    CVPR 2024.

    Args:
        function: maps an (H, W, 3) array in [0, 1] to an (H, W, 3) array.
        image: a float (H, W, 3) array in [0, 1].

    Returns:
        The float32 mean of the 8 outputs, in the orientation, channel order
        and polarity of `image`.

    Raises:
        ValueError: `image` does not have 3 channels.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            "The color symmetries reorder R, G and B: they need an (H, W, 3) image. "
            f"Received: image with shape={image.shape}"
        )
    return _mean_over_views(function, image, color_symmetries=True)


def _mean_over_views(function, image, color_symmetries):
    """The mean of `function` over the 8 flips/turns of `image` (view k = 2 * turns + flip), each undone.

    With `color_symmetries` view k also has its channels in the order
    `CHANNEL_PERMUTATIONS[k % 6]` and is inverted (1 - x) when k is odd.
    """
    outputs = []
    for turns in range(4):
        for flip in (False, True):
            index = 2 * turns + int(flip)
            order = list(CHANNEL_PERMUTATIONS[index % 6]) if color_symmetries else None
            invert = color_symmetries and index % 2 == 1
            view = image if order is None else image[..., order]
            view = 1.0 - view if invert else view
            view = np.rot90(view, turns)
            view = np.ascontiguousarray(view[:, ::-1] if flip else view)
            output = np.asarray(function(view), dtype=np.float32)
            output = output[:, ::-1] if flip else output
            output = np.rot90(output, -turns)
            output = 1.0 - output if invert else output
            outputs.append(output if order is None else output[..., np.argsort(order)])
    return np.mean(outputs, axis=0).astype(np.float32)
