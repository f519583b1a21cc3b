"""End-to-end pipelines composed from the layers below (``build``)."""
