"""The operators' front door: one API and the web console in front of every service."""
