# store: filled in by its own work
