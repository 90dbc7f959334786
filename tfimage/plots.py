"""Pictures: image grids, latent interpolations, reconstructions, curves.

Everything is drawn without a display. Image grids are assembled in NumPy and
written as exact-pixel PNG files through `tfimage.io.write_image` (atomic);
charts use matplotlib's Agg canvas directly (`matplotlib.figure.Figure`), so
importing this module never changes the global matplotlib backend.
"""

import os

import numpy as np

from tfimage.io import write_image


def _check_images(images, name="images"):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"Expected images of shape (n, height, width[, 1|3|4]). Received: {name} with "
            f"shape={images.shape}"
        )
    if len(images) == 0:
        raise ValueError(f"No images to draw. Received: {name} with shape={images.shape}")
    return images


def image_grid(images, ncols=8, padding=2, pad_value=1.0):
    """Tiles images (n, H, W, C) in [0, 1] into one (rows*H, cols*W, C) image.

    Args:
        images: float array in [0, 1].
        ncols: images per row (>= 1).
        padding: pixels between tiles.
        pad_value: gray value of the padding.

    Returns:
        A float32 array of the grid.
    """
    images = _check_images(images)
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer. Received: ncols={ncols!r}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0. Received: padding={padding}")
    n, height, width, channels = images.shape
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    grid = np.full((nrows * height + (nrows + 1) * padding,
                    ncols * width + (ncols + 1) * padding, channels), pad_value, np.float32)
    for index, image in enumerate(np.clip(images, 0.0, 1.0)):
        row, col = divmod(index, ncols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def save_image_grid(images, path, ncols=8, padding=2, scale=1):
    """Writes images (n, H, W, C) in [0, 1] as one PNG grid.

    Args:
        images: float array in [0, 1].
        path: destination `.png` file (written atomically).
        ncols: images per row.
        padding: pixels between tiles.
        scale: integer nearest-neighbour upscaling of the grid (>= 1).

    Returns:
        The path written.
    """
    grid = image_grid(images, ncols=ncols, padding=padding)
    if int(scale) < 1:
        raise ValueError(f"scale must be a positive integer. Received: scale={scale}")
    if scale > 1:
        grid = np.repeat(np.repeat(grid, int(scale), axis=0), int(scale), axis=1)
    return write_image(path, grid)


def interpolate_latents(z_start, z_end, steps=8, spherical=True):
    """Latent vectors from z_start to z_end (inclusive), shape (steps, d).

    Spherical interpolation (White, "Sampling Generative Networks", 2016) by
    default, which keeps Gaussian latents at a typical norm.
    """
    z_start = np.asarray(z_start, np.float64).reshape(-1)
    z_end = np.asarray(z_end, np.float64).reshape(-1)
    if z_start.shape != z_end.shape:
        raise ValueError(
            f"z_start and z_end differ in size. Received: z_start with {z_start.size}, "
            f"z_end with {z_end.size}"
        )
    if int(steps) < 2:
        raise ValueError(f"steps must be >= 2. Received: steps={steps}")
    ts = np.linspace(0.0, 1.0, int(steps))
    if spherical:
        cos = np.dot(z_start, z_end) / (np.linalg.norm(z_start) * np.linalg.norm(z_end) + 1e-12)
        omega = np.arccos(np.clip(cos, -1.0, 1.0))
        if omega > 1e-6:
            return np.stack([
                (np.sin((1 - t) * omega) * z_start + np.sin(t * omega) * z_end) / np.sin(omega)
                for t in ts]).astype(np.float32)
    return np.stack([(1 - t) * z_start + t * z_end for t in ts]).astype(np.float32)


def save_interpolation_strip(decode, z_start, z_end, path, steps=8, spherical=True):
    """Decodes an interpolation between two latents and writes it as one row.

    Args:
        decode: a function from latents (steps, d) to images in [0, 1]
            (e.g. `gan.generate` or `vae.decode`).
        z_start, z_end: the two end latents.
        path: destination `.png`.
        steps: number of images in the strip.
        spherical: slerp (True) or linear interpolation.

    Returns:
        The path written.
    """
    images = decode(interpolate_latents(z_start, z_end, steps, spherical))
    return save_image_grid(images, path, ncols=int(steps))


def save_reconstruction_grid(originals, reconstructions, path, ncols=8):
    """Writes originals and their reconstructions as alternating rows.

    Row 1 holds the first `ncols` originals, row 2 their reconstructions,
    and so on.
    """
    originals = _check_images(originals, "originals")
    reconstructions = _check_images(reconstructions, "reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(
            "originals and reconstructions must have the same shape. Received: "
            f"originals.shape={originals.shape}, reconstructions.shape={reconstructions.shape}"
        )
    rows = []
    for start in range(0, len(originals), ncols):
        chunk_o = originals[start:start + ncols]
        chunk_r = reconstructions[start:start + ncols]
        if len(chunk_o) < ncols:  # pad the last pair of rows with white tiles
            fill = np.ones((ncols - len(chunk_o),) + originals.shape[1:], np.float32)
            chunk_o = np.concatenate([chunk_o, fill])
            chunk_r = np.concatenate([chunk_r, fill])
        rows.extend([chunk_o, chunk_r])
    return save_image_grid(np.concatenate(rows), path, ncols=ncols)


def save_curves(x, series, path, xlabel="step", ylabel="value", title=None, logy=False):
    """Draws line series against x into a PNG with matplotlib (Agg).

    Args:
        x: the shared x values.
        series: dict label -> y values (same length as x).
        path: destination `.png`.
        xlabel, ylabel, title: axis labels and title.
        logy: logarithmic y axis.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for label, values in series.items():
        if len(values) != len(x):
            raise ValueError(
                f"Each series needs one value per x. Received: {label} with {len(values)} "
                f"values for {len(x)} x values"
            )
        axes.plot(x, values, marker="o", label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if logy:
        axes.set_yscale("log")
    if title:
        axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return _save_figure(figure, path)


def _save_figure(figure, path):
    """Writes a matplotlib figure to a PNG atomically (temp file + rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".tmp-{os.getpid()}-" + os.path.basename(path))
    try:
        figure.savefig(temp, format="png")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path


def save_comparison(images, titles, path, panel_inches=3.0):
    """Side-by-side restoration results with a title each (e.g. "bm3d 29.97 dB").

    Args:
        images: float images (H, W, C) in [0, 1], gray or RGB, any sizes.
        titles: one title per image.
        path: destination `.png`.
        panel_inches: width of each panel.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if len(images) != len(titles) or not images:
        raise ValueError(
            f"Give one title per image. Received: {len(images)} images, {len(titles)} titles"
        )
    figure = Figure(figsize=(panel_inches * len(images), panel_inches + 0.4), dpi=100)
    FigureCanvasAgg(figure)
    for index, (image, title) in enumerate(zip(images, titles)):
        image = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        axes = figure.add_subplot(1, len(images), index + 1)
        if image.ndim == 3 and image.shape[2] == 1:
            axes.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            axes.imshow(image, interpolation="nearest")
        axes.set_title(title, fontsize=9)
        axes.axis("off")
    figure.tight_layout()
    return _save_figure(figure, path)


def make_sample_grid_callback():
    """Defines and registers `SampleGridCallback` (needs Keras, imported lazily)."""
    import keras

    @keras.saving.register_keras_serializable(package="tfimage")
    class SampleGridCallback(keras.callbacks.Callback):
        """Saves a grid of samples after each epoch.

        The model must have `sample(n, seed=...)` (GAN, VAE). A fixed seed
        draws the same latents every epoch, so the grids show the progress.

        Args:
            folder: where `epoch_001.png`, `epoch_002.png`, ... are written.
            n: images per grid.
            ncols: images per row.
            seed: latent seed.
            every: save every `every` epochs (the last epoch of a run is
                saved when it falls on that schedule).
        """

        def __init__(self, folder, n=64, ncols=8, seed=0, every=1):
            super().__init__()
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
                raise ValueError(f"n must be a positive integer. Received: n={n!r}")
            if int(every) < 1:
                raise ValueError(f"every must be a positive integer. Received: every={every}")
            self.folder = os.fspath(folder)
            self.n = int(n)
            self.ncols = int(ncols)
            self.seed = seed
            self.every = int(every)
            self.paths = []

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % self.every:
                return
            images = self.model.sample(self.n, seed=self.seed)
            path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.png")
            save_image_grid(images, path, ncols=self.ncols)
            self.paths.append(path)

        def get_config(self):
            return {"folder": self.folder, "n": self.n, "ncols": self.ncols,
                    "seed": self.seed, "every": self.every}

    return SampleGridCallback


def __getattr__(name):
    if name == "SampleGridCallback":
        cls = make_sample_grid_callback()
        globals()["SampleGridCallback"] = cls
        return cls
    raise AttributeError(f"module 'tfimage.plots' has no attribute {name!r}")
