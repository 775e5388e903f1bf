"""TFDS builder package for mpi3d (see mpi3d_dataset_builder.py)."""
