"""Fault injection for the local stack: a TCP proxy that drops, stalls or slows a connection."""
