"""Functional network builders, one architecture per module.

Each task lists the architectures it trains (`tfimage.tasks`, `Task.architectures`);
`tfimage.training.build_network` builds them.
"""
