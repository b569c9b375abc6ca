// Public interface of the cni component (filled in by its issue).
