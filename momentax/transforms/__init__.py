"""Gradient transformations, one file per family; each lifts a rule from momentax.math."""
