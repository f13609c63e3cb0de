# kiosk: filled in by its own work
