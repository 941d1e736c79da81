"Minimal setuptools shim: all metadata lives in pyproject.toml; this only lets older pips run `pip install -e .`."
from setuptools import setup
setup()
