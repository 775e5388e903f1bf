"""TFDS builder package for color_dsprites (see color_dsprites_dataset_builder.py)."""
