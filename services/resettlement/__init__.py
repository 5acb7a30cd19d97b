"""Resettlement: classified placement of households whose exit is decided (source paper, item 11)."""
