"""What the run tells a person: summaries and reports."""
