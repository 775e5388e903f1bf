"""TFDS builder package for dsprites (see dsprites_dataset_builder.py)."""
