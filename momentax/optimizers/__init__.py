"""Optimizers: each one is a single chain of transforms, with no array math of its own.

One file per family; every optimizer is re-exported as ``momentax.<name>``.
"""
