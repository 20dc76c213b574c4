"""The Latent Explorer's parts: its state, render channel, sliders, bookmarks and dialogs."""
