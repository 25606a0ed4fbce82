"""HTTP handlers of the Agnes REST API (``{base_url}agnes/v1/``)."""
