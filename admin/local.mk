# admin: filled in by its own work
