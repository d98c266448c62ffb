"""Ségur Sandbox: one process simulating INS, DMP, MSSanté and Pro Santé Connect."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segur-sandbox")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
