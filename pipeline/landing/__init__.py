"""The landing store: raw SSB responses kept byte for byte, and what counts as landed."""
