"""Loaders that put data into the raw contract."""
