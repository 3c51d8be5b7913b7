"""Entry points (absl flags), input pipelines, the result store and reports.

The only package that touches flags, files and processes; everything else is pure.
"""
