"""What analysts see before scanning: the catalog index, the metadata cache and its refresher,
schema and sample caches."""
