// Public interface of the l4lb component (filled in by its issue).
