"""tfdis: disentangled representation learning on TensorFlow 2 / Keras 3.

A faithful, maintained successor of google-research/disentanglement_lib:
ground-truth datasets, VAE families, SavedModels, disentanglement metrics,
UDR, PBT and rPU-VAE.
"""

__version__ = "0.1.0"
