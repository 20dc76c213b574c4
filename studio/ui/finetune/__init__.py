"""The fine-tune wizard and its widgets."""
