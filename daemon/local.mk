# daemon: filled in by its own work
