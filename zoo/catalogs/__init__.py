"""Catalogs: modules of registry rows. Importing one registers its models."""
