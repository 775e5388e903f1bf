"""SavedModel contract: writing (``saved_model``) and signature-based loading (``load``)."""
