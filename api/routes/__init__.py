"""One module per resource, each exporting `blp`."""
