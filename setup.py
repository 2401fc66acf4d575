from setuptools import setup; setup()  # shim: all configuration lives in pyproject.toml (nbdev 3)
