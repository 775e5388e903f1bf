"""TFDS builder package for shapes3d (see shapes3d_dataset_builder.py)."""
