"""Exact radius search over 256-bit PDQ codes (hash-bank matching).

``PdqIndex`` answers "which banked hashes are within Hamming distance r of this one" exactly,
in about a millisecond at 10M codes, in pure numpy. See ``pdq_index`` for the design and
``mih`` for the multi-index hashing it rests on.
"""

from plugin.index.codec import pdq_bits_to_bytes, pdq_bytes_to_hex, pdq_hex_to_bytes
from plugin.index.pdq_index import PdqIndex

__all__ = ["PdqIndex", "pdq_bits_to_bytes", "pdq_bytes_to_hex", "pdq_hex_to_bytes"]
