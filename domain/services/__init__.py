"""Domain services: verbs that take a unit of work and return plain values."""
