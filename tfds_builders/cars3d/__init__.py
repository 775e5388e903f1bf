"""TFDS builder package for cars3d (see cars3d_dataset_builder.py)."""
