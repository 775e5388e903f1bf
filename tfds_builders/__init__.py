"""TFDS builders for the tfdis benchmarks, one folder per dataset (TFDS layout).

Each ``<name>/<name>_dataset_builder.py`` defines a ``Builder``
(``tfds.core.GeneratorBasedBuilder``). Importing this package imports none of
them (TFDS registers a builder class once per process); import the module you
need, e.g. ``from tfds_builders.procedural_dsprites import
procedural_dsprites_dataset_builder``, or build from the command line with
``python -m tfds_builders.build <name> [--manual_dir=DIR]`` (the pinned
``tfds build`` CLI needs apache_beam, see tfds_builders/build.py). The
official files are found in the manual directory or a disentanglement_lib
folder, or downloaded, and verified (``_download.py``); builds stream their
source files (``_streaming.py``).

Features of every labelled builder: ``image`` (uint8), and per generative
factor ``label_<factor>`` (ClassLabel) and ``value_<factor>`` (float32); rows
are written in the row-major factor order of the official files
(``disable_shuffling``), and ``info.metadata`` lists ``factor_names`` (and
``nuisance_factors`` where the grid has some).
"""
