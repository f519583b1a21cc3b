"""The ``optinc`` command line: one module per verb group, registered in ``main.py``."""
