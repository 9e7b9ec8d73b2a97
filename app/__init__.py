"""Toolsets staging and releases service."""
