"""Area studies and system-level analyses that read scenarios, descriptions and layouts."""
