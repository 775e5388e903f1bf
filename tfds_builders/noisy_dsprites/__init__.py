"""TFDS builder package for noisy_dsprites (see noisy_dsprites_dataset_builder.py)."""
