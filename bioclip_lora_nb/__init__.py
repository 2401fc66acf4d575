__version__ = "0.1.0"

# `Run` (run.py) gets its evaluate, report, predict and export methods from the modules that own those jobs (`@patch`);
# `Run` imports each on first use, so importing the package (or `bioclip_lora_nb.run`) loads none of them.
