"""derive layer."""
