"""TFDS builder package for smallnorb (see smallnorb_dataset_builder.py)."""
