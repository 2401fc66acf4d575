__version__ = "0.1.0"

# `Run` (run.py) gets its evaluate, report, predict and export methods from the modules that own those jobs;
# importing them here gives every `Run` all four, however the package was imported.
from . import eval, report, predict
__all__ = ["__version__", "eval", "report", "predict"]
