"""Foundations every layer above uses: MZI formula, signals, datasets, topology, analytic area, weights files, atomic writes."""
