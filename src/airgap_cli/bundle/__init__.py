"""Offline provenance for models and releases: keys, signatures, MLBOMs and format scans."""
