"""Reference data: the indicator catalogue, municipality seeds, KLASS."""
