"""TFDS builder package for celeba (see celeba_dataset_builder.py)."""
