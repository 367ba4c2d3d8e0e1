"""One folder per domain, one file per kind of definition; `pipelines/definitions.py` gathers them."""
