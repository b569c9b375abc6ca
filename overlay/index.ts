// Public interface of the overlay component (filled in by its issue).
