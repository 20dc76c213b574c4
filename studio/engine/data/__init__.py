"""Training data sets for the bundled models: builders (emoji) and the loader training uses."""
