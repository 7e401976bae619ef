"""Publishing the build as the analysts' warehouse, and what analysts may do with it."""
