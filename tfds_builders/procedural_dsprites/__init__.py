"""TFDS builder package for procedural_dsprites (see procedural_dsprites_dataset_builder.py)."""
