# tests and fuzz targets of this area: filled in by its own work
