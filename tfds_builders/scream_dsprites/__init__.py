"""TFDS builder package for scream_dsprites (see scream_dsprites_dataset_builder.py)."""
