"""Decoding JSON-stat2 and loading landed responses into the build file's raw schema."""
