"""Thin absl binaries; each validates flags and calls one library function."""
