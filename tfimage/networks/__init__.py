"""Functional network builders, one architecture per module.

Importing this package is cheap (no TensorFlow): the command line reads
`TASK_ARCHS` to list its `--arch` choices before anything heavy loads.
"""

# The architectures `tfimage.training.build_network` builds for each task.
TASK_ARCHS = {"denoise": ("dncnn", "ffdnet"), "sr": ("edsr", "espcn", "unet"), "inpaint": ("unet",)}
