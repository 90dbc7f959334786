"""tfimage: image restoration and generation with transfer learning (Keras 3).

Importing `tfimage` is cheap: TensorFlow loads only when a name that needs it
is first used, so `tfimage datasets` answers in well under a second.
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "read_image": "tfimage.io",
    "write_image": "tfimage.io",
    "list_images": "tfimage.io",
    "psnr": "tfimage.metrics",
    "ssim": "tfimage.metrics",
    "PSNR": "tfimage.metrics",
    "SSIM": "tfimage.metrics",
}


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tfimage' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_PUBLIC))
