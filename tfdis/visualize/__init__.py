"""Visualisation: dataset factor strips (dataset.py) and model reconstructions/samples/traversals (model.py)."""
