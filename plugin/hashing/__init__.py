"""Hash types: what a hash is, how it is computed, compared and written.

One small interface (``HashType``) per STYLE.md, with an explicit permanent ``name`` used on
the wire and in storage. ``hash_image`` computes every image hash from one decoded image.
"""
