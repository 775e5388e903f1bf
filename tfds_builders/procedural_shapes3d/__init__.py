"""TFDS builder package for procedural_shapes3d (see procedural_shapes3d_dataset_builder.py)."""
