"""Media: fetching bytes safely and decoding them once for every hash type and classifier."""
